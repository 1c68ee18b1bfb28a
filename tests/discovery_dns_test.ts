/**
 * Discovery against a real Unbound serving `cluster.local` as CoreDNS would (zone rendered by the
 * harness), on 127.0.0.1 with a free port, queried in-process with `nameServer`; and enumeration against
 * a real EPMD with a real OTP node. Skips visibly when `unbound` or `erl` is missing.
 */
import assert from "node:assert/strict";
import { aSource, localEpmdSource, NodeEnumerator, srvSource } from "../lib/discovery/mod.ts";
import {
  dnsUnavailableReason,
  renderService,
  renderZone,
  type ServiceSpec,
  unboundConfig,
  type ZoneRecord,
} from "./_harness/dns.ts";
import { freePort, otpAvailability, randomCookie, startNode, tempPrefix } from "./_harness/mod.ts";

const dnsWhy = dnsUnavailableReason();
if (dnsWhy) console.warn(`SKIPPING Unbound discovery tests: ${dnsWhy}`);
const otp = otpAvailability("25");
if (!otp.available) console.warn(`SKIPPING EPMD enumeration tests: ${otp.why}`);

const SRV = "_epmd._tcp.app.default.svc.cluster.local.";
const SVC = "app.default.svc.cluster.local.";

function statefulSet(n: number, name = "app"): ServiceSpec {
  return {
    name,
    kind: "statefulset",
    pods: Array.from({ length: n }, (_, i) => ({ host: `${name}-${i}`, ip: `10.244.0.${10 + i}` })),
  };
}

async function runCmd(cmd: string[]): Promise<{ ok: boolean; out: string }> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(10_000),
  }).output();
  const dec = new TextDecoder();
  return { ok: out.success, out: (dec.decode(out.stdout) + dec.decode(out.stderr)).trim() };
}

/** A private Unbound on 127.0.0.1:<free port>, serving one zone file that tests rewrite. */
class LocalUnbound implements AsyncDisposable {
  readonly dir: string;
  port = 0;
  #child: Deno.ChildProcess | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  get nameServer(): { ipAddr: string; port: number } {
    return { ipAddr: "127.0.0.1", port: this.port };
  }

  get #conf(): string {
    return `${this.dir}/unbound.conf`;
  }

  static async start(records: ZoneRecord[]): Promise<LocalUnbound> {
    const dir = await Deno.makeTempDir({ prefix: tempPrefix("discovery-dns") });
    const dns = new LocalUnbound(dir);
    try {
      await dns.#writeZone(records);
      let lastError: unknown;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await dns.#launch(freePort());
          return dns;
        } catch (err) {
          lastError = err; // most likely the port was taken meanwhile: try another one
        }
      }
      throw lastError;
    } catch (err) {
      await dns.stop();
      throw err;
    }
  }

  async #writeZone(records: ZoneRecord[], edit: (text: string) => string = (t) => t): Promise<void> {
    const file = `${this.dir}/cluster.local.zone`;
    await Deno.writeTextFile(file + ".tmp", edit(renderZone(records, { ttl: 5 })));
    await Deno.rename(file + ".tmp", file);
  }

  async #launch(port: number): Promise<void> {
    const d = this.dir;
    await Deno.writeTextFile(
      this.#conf,
      unboundConfig({
        dir: d,
        iface: `127.0.0.1@${port}`,
        allow: "127.0.0.0/8",
        logfile: `${d}/unbound.log`,
        extra: ["extended-statistics: yes"],
      }),
    );
    const child = new Deno.Command("unbound", {
      args: ["-d", "-c", this.#conf],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.port = port;
    const until = Date.now() + 10_000;
    let exited = false;
    child.status.then(() => (exited = true));
    while (true) {
      if (exited) {
        this.#child = undefined;
        await child.status;
        const log = await Deno.readTextFile(`${d}/unbound.log`).catch(() => "");
        throw new Error(`Cannot start unbound on port ${port}: it exited: ${log.trim()}`);
      }
      if ((await runCmd(["unbound-control", "-c", this.#conf, "status"])).ok) return;
      if (Date.now() > until) {
        await this.kill();
        throw new Error(`Cannot start unbound on port ${port}: no answer within 10 s`);
      }
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  /** Rewrites the zone (tmp + rename) and reloads it; fails unless unbound answers `ok`. */
  async setZone(records: ZoneRecord[], edit?: (text: string) => string): Promise<void> {
    await this.#writeZone(records, edit);
    const r = await runCmd(["unbound-control", "-c", this.#conf, "auth_zone_reload", "cluster.local"]);
    assert.equal(r.out, "ok", `auth_zone_reload answered '${r.out}'`);
  }

  /** Unbound's counters (`unbound-control stats_noreset`, extended statistics on). */
  async stats(): Promise<Map<string, number>> {
    const r = await runCmd(["unbound-control", "-c", this.#conf, "stats_noreset"]);
    assert.ok(r.ok, r.out);
    return new Map(r.out.split("\n").map((l) => l.split("=")).map(([k, v]) => [k, Number(v)]));
  }

  /** Queries received from clients so far (`total.num.queries`). */
  async queriesSeen(): Promise<number> {
    const n = (await this.stats()).get("total.num.queries");
    assert.ok(n !== undefined);
    return n;
  }

  /** Stops the server (a DNS outage); idempotent. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await child.status;
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    await this.kill();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

Deno.test({
  name: "srvSource() reads a 3-pod StatefulSet from Unbound with exactly one query",
  ignore: !!dnsWhy,
  async fn() {
    await using dns = await LocalUnbound.start(renderService(statefulSet(3)));
    const source = srvSource({ name: SRV, nameServer: dns.nameServer, timeoutMs: 2000 });
    const before = await dns.queriesSeen();
    const found = await source.discover();
    const sent = (await dns.queriesSeen()) - before;
    assert.deepEqual(found, {
      hosts: [0, 1, 2].map((i) => ({ host: `app-${i}.app.default.svc.cluster.local`, via: "SRV" })),
      recordTypes: ["SRV"],
      stale: false,
      queries: 1,
    });
    assert.equal(sent, 1, "one query on the wire");
  },
});

Deno.test({
  name: "srvSource() gets every target of large answers: 12 fit with EDNS, 40 come as TC and then over TCP",
  ignore: !!dnsWhy,
  async fn() {
    await using dns = await LocalUnbound.start(renderService(statefulSet(40)));
    for (const n of [12, 40]) {
      await dns.setZone(renderService(statefulSet(n)));
      const before = await dns.stats();
      const found = await srvSource({ name: SRV, nameServer: dns.nameServer, timeoutMs: 2000 }).discover();
      const after = await dns.stats();
      assert.equal(found.error, undefined);
      assert.deepEqual(
        found.hosts.map((h) => h.host),
        Array.from({ length: n }, (_, i) => `app-${i}.app.default.svc.cluster.local`).sort(),
      );
      assert.equal(found.queries, 1, "one lookup from our side");
      // Deno 2.9.6 sends EDNS: 12 targets fit in one UDP answer; 40 do not, and the retry goes over TCP.
      const tcp = after.get("num.query.tcp")! - before.get("num.query.tcp")!;
      const total = after.get("total.num.queries")! - before.get("total.num.queries")!;
      assert.deepEqual(
        [total, tcp],
        n === 12 ? [1, 0] : [2, 1],
        `${n} targets: queries on the wire [total, tcp]`,
      );
    }
  },
});

Deno.test({
  name: "aSource() gives the Service's IPs and CoreDNS dashed names, IPv4 and IPv6",
  ignore: !!dnsWhy,
  async fn() {
    const deployment: ServiceSpec = {
      name: "web",
      kind: "deployment",
      pods: [{ ip: "10.244.0.21" }, { ip: "10.244.0.20" }, { ip: "fd00:10:244::7" }, { ip: "2001:db8::" }],
    };
    await using dns = await LocalUnbound.start(renderService(deployment));
    const name = "web.default.svc.cluster.local.";
    const opts = { name, nameServer: dns.nameServer, timeoutMs: 2000 };
    const ips = await aSource({ ...opts, family: "both", hostForm: "ip" }).discover();
    assert.deepEqual(ips.hosts, [
      { host: "10.244.0.20", address: "10.244.0.20", via: "A" },
      { host: "10.244.0.21", address: "10.244.0.21", via: "A" },
      { host: "2001:db8::", address: "2001:db8::", via: "AAAA" },
      { host: "fd00:10:244::7", address: "fd00:10:244::7", via: "AAAA" },
    ]);
    assert.deepEqual([ips.recordTypes, ips.queries, ips.stale, ips.error], [
      ["A", "AAAA"],
      2,
      false,
      undefined,
    ]);

    const dashed = await aSource({ ...opts, family: "both", hostForm: "dashed" }).discover();
    assert.deepEqual(dashed.hosts.map((h) => h.host), [
      "10-244-0-20.web.default.svc.cluster.local",
      "10-244-0-21.web.default.svc.cluster.local",
      "2001-db8--0.web.default.svc.cluster.local",
      "fd00-10-244--7.web.default.svc.cluster.local",
    ]);
    // The dashed names are exactly the targets the Service's SRV records carry.
    const srv = await srvSource({ ...opts, name: `_epmd._tcp.${name}` }).discover();
    assert.deepEqual(srv.hosts.map((h) => h.host), dashed.hosts.map((h) => h.host));

    const v4only = await aSource({ ...opts, name: SVC, family: "both" }).discover();
    assert.equal(v4only.error?.code, "NXDOMAIN_OR_NODATA", "no 'app' Service here at all");
  },
});

Deno.test({
  name: "srvSource() and aSource() give zero hosts with NXDOMAIN_OR_NODATA for an unknown Service",
  ignore: !!dnsWhy,
  async fn() {
    await using dns = await LocalUnbound.start(renderService(statefulSet(2)));
    const unknown = await srvSource({
      name: "_epmd._tcp.nope.default.svc.cluster.local.",
      nameServer: dns.nameServer,
    })
      .discover();
    assert.deepEqual([unknown.hosts, unknown.stale, unknown.error?.code, unknown.queries], [
      [],
      false,
      "NXDOMAIN_OR_NODATA",
      1,
    ]);
    // NODATA: the Service exists but has no AAAA records.
    const nodata = await aSource({ name: SVC, family: "AAAA", nameServer: dns.nameServer }).discover();
    assert.deepEqual([nodata.hosts, nodata.error?.code], [[], "NXDOMAIN_OR_NODATA"]);
  },
});

Deno.test({
  name: "Deno reports SERVFAIL and REFUSED like NXDOMAIN, so they give zero hosts, not a stale answer",
  ignore: !!dnsWhy,
  async fn() {
    // This pins a limitation of Deno.resolveDns (2.9.6) that srvSource() documents: if it ever changes,
    // SERVFAIL (CoreDNS before its first API sync) should keep the last good answer instead.
    await using dns = await LocalUnbound.start(renderService(statefulSet(2)));
    const source = srvSource({ name: SRV, nameServer: dns.nameServer, timeoutMs: 2000 });
    assert.equal((await source.discover()).hosts.length, 2);
    // Without the SOA, Unbound answers SERVFAIL for names it has no records for.
    await dns.setZone(
      renderService(statefulSet(2)),
      (t) => t.split("\n").filter((l) => !l.includes(" SOA ")).join("\n"),
    );
    const before = await dns.stats();
    const servfail = await srvSource({
      name: "_epmd._tcp.nope.default.svc.cluster.local.",
      nameServer: dns.nameServer,
    })
      .discover();
    assert.deepEqual([servfail.hosts, servfail.stale, servfail.error?.code], [
      [],
      false,
      "NXDOMAIN_OR_NODATA",
    ]);
    // Names outside cluster.local get REFUSED.
    const refused = await srvSource({ name: "_epmd._tcp.example.com.", nameServer: dns.nameServer })
      .discover();
    assert.deepEqual([refused.hosts, refused.stale, refused.error?.code], [[], false, "NXDOMAIN_OR_NODATA"]);
    const after = await dns.stats();
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    assert.deepEqual(
      [delta("num.answer.rcode.SERVFAIL"), delta("num.answer.rcode.REFUSED")],
      [1, 1],
      "what the server sent",
    );
  },
});

Deno.test({
  name: "srvSource() sees a zone change on the very next call (no caching in erlmesh)",
  ignore: !!dnsWhy,
  async fn() {
    await using dns = await LocalUnbound.start(renderService(statefulSet(2)));
    const source = srvSource({ name: SRV, nameServer: dns.nameServer, timeoutMs: 2000 });
    assert.equal((await source.discover()).hosts.length, 2);
    await dns.setZone(renderService(statefulSet(3)));
    assert.deepEqual((await source.discover()).hosts.map((h) => h.host), [
      "app-0.app.default.svc.cluster.local",
      "app-1.app.default.svc.cluster.local",
      "app-2.app.default.svc.cluster.local",
    ]);
    await dns.setZone(renderService({ ...statefulSet(3), pods: statefulSet(3).pods.slice(1) }));
    assert.deepEqual((await source.discover()).hosts.map((h) => h.host), [
      "app-1.app.default.svc.cluster.local",
      "app-2.app.default.svc.cluster.local",
    ]);
    await dns.setZone(renderService(statefulSet(0))); // no ready pods: NXDOMAIN
    const none = await source.discover();
    assert.deepEqual([none.hosts, none.stale, none.error?.code], [[], false, "NXDOMAIN_OR_NODATA"]);
  },
});

Deno.test({
  name: "srvSource() and aSource() return the last good answer, stale, within the deadline when DNS stops",
  ignore: !!dnsWhy,
  async fn() {
    const dns = await LocalUnbound.start(renderService(statefulSet(3)));
    try {
      const srv = srvSource({ name: SRV, nameServer: dns.nameServer, timeoutMs: 400 });
      const a = aSource({ name: SVC, family: "both", nameServer: dns.nameServer, timeoutMs: 400 });
      const good = await srv.discover();
      const goodA = await a.discover();
      assert.equal(good.hosts.length, 3);
      assert.equal(goodA.hosts.length, 3);
      await dns.kill();
      for (const [source, expected] of [[srv, good], [a, goodA]] as const) {
        const t0 = performance.now();
        const stale = await source.discover();
        const ms = performance.now() - t0;
        assert.ok(ms < 1000, `answered after ${Math.round(ms)} ms`);
        assert.equal(stale.stale, true);
        assert.deepEqual(stale.hosts, expected.hosts);
        assert.equal(stale.error?.code, "TIMEOUT");
      }
    } finally {
      await dns.stop();
    }
  },
});

Deno.test({
  name: "NodeEnumerator finds a real node through EPMD NAMES and skips helper nodes",
  ignore: !otp.available,
  async fn() {
    const epmdPort = freePort();
    const cookie = randomCookie();
    await using app = await startNode({ name: "app@127.0.0.1", cookie, epmdPort });
    await using helper = await startNode({ name: "rem-1a2b-app@127.0.0.1", cookie, epmdPort });
    assert.ok(app.pid > 0 && helper.pid > 0);
    const { hosts } = await localEpmdSource().discover();
    const enumerator = new NodeEnumerator({ useEpmd: true, epmdPort, timeoutMs: 2000 });
    const first = await enumerator.enumerate(hosts);
    assert.deepEqual(first.failures, []);
    assert.deepEqual(first.peers.map((p) => [p.node, p.host, p.via]), [[
      "app@127.0.0.1",
      "127.0.0.1",
      "epmd",
    ]]);
    const port = first.peers[0].port;
    assert.ok(port !== undefined && port > 0);
    const dist = await Deno.connect({ hostname: "127.0.0.1", port }); // the port is the node's listener
    dist.close();
    assert.equal(first.epmdQueries, 1);
    assert.equal((await enumerator.enumerate(hosts)).epmdQueries, 0, "cached");
    enumerator.invalidate("app@127.0.0.1");
    assert.equal((await enumerator.enumerate(hosts)).epmdQueries, 1, "asked again after invalidate()");

    const filtered = await new NodeEnumerator({ useEpmd: true, epmdPort, basename: "other" }).enumerate(
      hosts,
    );
    assert.deepEqual([filtered.peers, filtered.failures], [[], []]);
  },
});

Deno.test({
  name: "NodeEnumerator reports a host without EPMD as a failure and does not throw",
  async fn() {
    const enumerator = new NodeEnumerator({ useEpmd: true, epmdPort: freePort(), timeoutMs: 1000 });
    const r = await enumerator.enumerate([{ host: "127.0.0.1", address: "127.0.0.1", via: "static" }]);
    assert.deepEqual([r.peers, r.epmdQueries, r.failures.length], [[], 1, 1]);
    assert.equal((r.failures[0].error as { code?: string }).code, "EPMD");
    assert.equal(
      (await enumerator.enumerate([{ host: "127.0.0.1", via: "static" }])).epmdQueries,
      1,
      "retried",
    );
  },
});
