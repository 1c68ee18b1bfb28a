import assert from "node:assert/strict";
import {
  aSource,
  type DiscoverySource,
  FakeResolver,
  type NamesFn,
  srvSource,
  staticSource,
} from "../discovery/mod.ts";
import { selfMatcher, type WaitAttempt, waitFor, type WaitOptions } from "./wait.ts";

const SRV = "_epmd._tcp.app.default.svc.cluster.local.";
const SVC = "app.default.svc.cluster.local.";
const fqdn = (i: number) => `app-${i}.app.default.svc.cluster.local`;

/** A fake clock advanced only by the fake sleep, which records every pause. */
function fakeTime() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: (ms: number) => {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
    advance: (ms: number) => {
      t += ms;
    },
  };
}

/** A NAMES client answering for the hosts in `up`, refusing the others. */
function fakeNames(up: Set<string>, asked: string[] = []): NamesFn {
  return (host) => {
    asked.push(host);
    return up.has(host)
      ? Promise.resolve({ nodes: [{ name: "app", port: 40000 }] })
      : Promise.reject(new Error(`Cannot connect to EPMD at '${host}:4369': connection refused`));
  };
}

function setup(dns: FakeResolver, extra: Partial<WaitOptions> = {}) {
  const time = fakeTime();
  const source = srvSource({ name: SRV, resolver: dns });
  const options: WaitOptions = { source, now: time.now, sleep: time.sleep, ...extra };
  return { time, options };
}

Deno.test("waitFor() backs off from 250 ms doubling to 5 s and fails at the deadline", async () => {
  const dns = new FakeResolver(); // every name: NXDOMAIN
  const { time, options } = setup(dns, { timeoutMs: 20_000 });
  const report = await waitFor({ peers: 1 }, options);
  assert.equal(report.ok, false);
  assert.deepEqual(time.sleeps, [250, 500, 1000, 2000, 4000, 5000, 5000, 2250]);
  assert.equal(report.attempts, 9);
  assert.equal(report.elapsedMs, 20_000);
  assert.deepEqual(report.failed, ["peers"]);
  assert.equal(dns.queries.length, 9);
  assert.match(report.message, /^Cannot finish waiting after 20 s: condition 'peers' failed: no peer hosts/);
  assert.match(report.message, /is empty \(no records: NXDOMAIN or NODATA\)/);
});

Deno.test("waitFor() with a custom backoff caps the pause at maxDelayMs", async () => {
  const { time, options } = setup(new FakeResolver(), {
    timeoutMs: 3000,
    initialDelayMs: 100,
    maxDelayMs: 300,
  });
  await waitFor({ peers: 1 }, options);
  assert.deepEqual(time.sleeps.slice(0, 4), [100, 200, 300, 300]);
  assert.equal(time.sleeps.reduce((a, b) => a + b, 0), 3000);
});

Deno.test("waitFor() holds once the Service lists this pod and two peers whose EPMD answers", async () => {
  const dns = new FakeResolver();
  const up = new Set<string>();
  const progress: WaitAttempt[] = [];
  const { time, options } = setup(dns, {
    self: { host: fqdn(2), ip: "10.244.7.12" },
    names: fakeNames(up),
    onProgress: (a) => {
      progress.push(a);
      // The cluster comes up step by step: records after attempt 2, EPMD after attempt 3.
      if (a.attempt === 2) {
        dns.set(
          SRV,
          "SRV",
          FakeResolver.srvRecords([0, 1, 2].map((i) => `APP-${i}.app.default.svc.cluster.local.`)),
        );
      }
      if (a.attempt === 3) {
        up.add(fqdn(0));
        up.add(fqdn(1));
      }
    },
  });
  const report = await waitFor({ self: true, peers: 2, epmd: true }, options);
  assert.equal(report.ok, true, report.message);
  assert.equal(report.attempts, 4);
  assert.deepEqual(time.sleeps, [250, 500, 1000]);
  assert.deepEqual(progress.map((a) => a.ok), [false, false, false, true]);
  // With the epmd condition, peers are nodes: listed hosts whose EPMD is not up yet hold none.
  assert.deepEqual(progress[2].conditions.map((c) => [c.name, c.ok, c.summary]), [["self", true, "listed"], [
    "peers",
    false,
    "0/2 nodes",
  ], ["epmd", false, "0/2 nodes"]]);
  assert.deepEqual(report.last.peerNodes, [`app@${fqdn(0)}`, `app@${fqdn(1)}`]);
  assert.equal(report.last.peersCounted, "nodes");
  assert.deepEqual(report.last.peers, [fqdn(0), fqdn(1)]);
  assert.equal(report.last.selfListed, true);
  assert.deepEqual(report.last.epmd.map((e) => e.host), [fqdn(0), fqdn(1)]);
  assert.equal(report.last.nextDelayMs, undefined);
  assert.match(report.message, /^All conditions hold \(self, peers, epmd\) after 1\.8 s and 4 attempt\(s\)$/);
});

Deno.test("waitFor() with peers 0 holds at once on an empty answer (pod 0 of an OrderedReady StatefulSet)", async () => {
  const dns = new FakeResolver();
  const { time, options } = setup(dns, { self: { ip: "10.244.0.10" } });
  const report = await waitFor({ dns: true, peers: 0 }, options);
  assert.equal(report.ok, true);
  assert.equal(report.attempts, 1);
  assert.deepEqual(time.sleeps, []);
  assert.equal(report.last.dnsAnswered, true);
  assert.match(report.last.conditions[0].seen, /no records \(NXDOMAIN or NODATA/);
  assert.equal(report.last.conditions[1].summary, "0/0 hosts");
});

Deno.test("waitFor() counts 'no records' as a DNS answer but a timeout as none", async () => {
  const dns = new FakeResolver().set(SRV, "SRV", "hang");
  const source = srvSource({ name: SRV, resolver: dns, timeoutMs: 20 });
  const time = fakeTime();
  const report = await waitFor({ dns: true }, { source, now: time.now, sleep: time.sleep, timeoutMs: 1000 });
  assert.equal(report.ok, false);
  assert.equal(report.last.dnsAnswered, false);
  assert.deepEqual(report.failed, ["dns"]);
  assert.match(
    report.message,
    /^Cannot finish waiting after 1 s: condition 'dns' failed: the DNS server did not answer DNS SRV .*no answer within 20 ms; is the cluster DNS reachable\?$/,
  );
});

Deno.test("waitFor() names the failed 'self' condition with the hosts seen and this pod", async () => {
  const dns = new FakeResolver().set(SRV, "SRV", FakeResolver.srvRecords([`${fqdn(0)}.`, `${fqdn(1)}.`]));
  const { options } = setup(dns, { self: { host: fqdn(2), ip: "10.244.7.12" }, timeoutMs: 120_000 });
  const report = await waitFor({ self: true, peers: 2 }, options);
  assert.equal(report.ok, false);
  assert.deepEqual(report.failed, ["self"]);
  assert.equal(
    report.message,
    "Cannot finish waiting after 120 s: condition 'self' failed: the Service answer (SRV " + SRV +
      ") lists " +
      `${fqdn(0)}, ${fqdn(1)} but not this pod (${fqdn(2)} / 10.244.7.12); ` +
      "is publishNotReadyAddresses set on the Service?",
  );
});

Deno.test("waitFor() finds this pod by IP in A records, and never counts it as a peer", async () => {
  const dns = new FakeResolver().set(SVC, "A", ["10.244.0.10", "10.244.0.11"]);
  const source = aSource({ name: SVC, resolver: dns });
  const time = fakeTime();
  const report = await waitFor({ self: true, peers: 1 }, {
    source,
    self: { host: "app-x.app.default.svc.cluster.local", ip: "10.244.0.11" },
    now: time.now,
    sleep: time.sleep,
  });
  assert.equal(report.ok, true, report.message);
  assert.deepEqual(report.last.peers, ["10.244.0.10"]);
});

Deno.test("waitFor() with peers 2 fails when the only other host is this pod", async () => {
  const dns = new FakeResolver().set(SVC, "A", ["10.244.0.10", "10.244.0.11"]);
  const source = aSource({ name: SVC, resolver: dns });
  const time = fakeTime();
  const report = await waitFor({ peers: 2 }, {
    source,
    self: { ip: "10.244.0.11" },
    now: time.now,
    sleep: time.sleep,
    timeoutMs: 1000,
  });
  assert.equal(report.ok, false);
  assert.match(
    report.message,
    /condition 'peers' failed: 1 peer host\(s\) other than this pod discoverable, 2 needed: 10\.244\.0\.10/,
  );
});

Deno.test("selfMatcher() compares FQDNs case-insensitively without trailing dot, and IPs canonically", () => {
  const byName = selfMatcher({ host: "App-2.app.default.svc.cluster.local." });
  assert.equal(byName({ host: fqdn(2), via: "SRV" }), true);
  assert.equal(byName({ host: fqdn(1), via: "SRV" }), false);

  const byIp = selfMatcher({ ip: "FD00:10:244:0:0:0:0:7" });
  assert.equal(byIp({ host: "fd00:10:244::7", via: "AAAA" }), true);
  assert.equal(byIp({ host: "fd00-10-244--7.app.default.svc.cluster.local", via: "SRV" }), true);
  assert.equal(
    byIp({ host: "x.app.default.svc.cluster.local", address: "fd00:10:244::7", via: "AAAA" }),
    true,
  );
  assert.equal(byIp({ host: "fd00:10:244::8", via: "AAAA" }), false);

  const v4 = selfMatcher({ ip: "10.244.0.7" });
  assert.equal(v4({ host: "10-244-0-7.app.default.svc.cluster.local", via: "SRV" }), true);
  assert.equal(v4({ host: "10-244-0-70.app.default.svc.cluster.local", via: "SRV" }), false);
});

Deno.test("waitFor() with epmd and peers K needs only K answering EPMDs; without K, every peer's", async () => {
  const dns = new FakeResolver().set(
    SRV,
    "SRV",
    FakeResolver.srvRecords([0, 1, 2].map((i) => `${fqdn(i)}.`)),
  );
  const asked: string[] = [];
  const names = fakeNames(new Set([fqdn(0), fqdn(1)]), asked);
  const a = setup(dns, { names, self: { host: fqdn(3) }, timeoutMs: 1000 });
  assert.equal((await waitFor({ peers: 2, epmd: true }, a.options)).ok, true);
  assert.deepEqual(asked.sort(), [fqdn(0), fqdn(1), fqdn(2)]);

  const b = setup(dns, { names, self: { host: fqdn(3) }, timeoutMs: 1000 });
  const report = await waitFor({ epmd: true }, b.options);
  assert.equal(report.ok, false);
  assert.match(
    report.message,
    new RegExp(
      `condition 'epmd' failed: EPMD answered NAMES on 2 of 3 peer host\\(s\\), 3 needed; ${
        fqdn(2)
      }: Cannot connect`,
    ),
  );
  assert.equal(report.last.epmd.find((e) => e.host === fqdn(0))?.nodes?.[0], "app");
});

Deno.test("waitFor() lists every failed condition in its message", async () => {
  const { options } = setup(new FakeResolver(), { self: { ip: "10.244.0.12" }, timeoutMs: 500 });
  const report = await waitFor({ self: true, peers: 1 }, options);
  assert.deepEqual(report.failed, ["self", "peers"]);
  assert.match(report.message, /condition 'self' failed: .*; and condition 'peers' failed: /);
});

Deno.test("waitFor() keeps checking the stale last answer when DNS stops answering, and says so", async () => {
  const dns = new FakeResolver().set(SRV, "SRV", FakeResolver.srvRecords([`${fqdn(0)}.`]));
  const source: DiscoverySource = srvSource({ name: SRV, resolver: dns, timeoutMs: 10 });
  const time = fakeTime();
  const report = await waitFor({ dns: true, peers: 2 }, {
    source,
    now: time.now,
    sleep: time.sleep,
    timeoutMs: 600,
    onProgress: () => dns.set(SRV, "SRV", "hang"),
  });
  assert.equal(report.ok, false);
  assert.equal(report.last.stale, true);
  assert.deepEqual(report.last.hosts, [fqdn(0)]);
  assert.match(report.message, /the last good answer; this lookup failed: .*no answer within 10 ms/);
});

Deno.test("waitFor() rejects with the reason when the signal aborts, and checks its arguments", async () => {
  const ctl = new AbortController();
  const { options } = setup(new FakeResolver(), {
    signal: ctl.signal,
    onProgress: () => ctl.abort(new Error("stop")),
  });
  await assert.rejects(waitFor({ peers: 1 }, options), /stop/);
  const source = staticSource(["a.example"]);
  await assert.rejects(waitFor({ self: true }, { source }), TypeError);
  await assert.rejects(waitFor({ peers: -1 }, { source }), TypeError);
});

Deno.test("waitFor() with no condition holds after one attempt", async () => {
  const report = await waitFor({}, { source: staticSource(["a.example"]) });
  assert.equal(report.ok, true);
  assert.equal(report.attempts, 1);
});

Deno.test("waitFor() with epmd counts nodes, not hosts: three nodes on one host pass peers 2", async () => {
  // This pod's host lists this pod's node a, peers b and c, a helper, and a node of another name.
  const names: NamesFn = () =>
    Promise.resolve({
      nodes: ["a", "b", "c", "erlmesh-1f2e", "other"].map((name, i) => ({ name, port: 40000 + i })),
    });
  const time = fakeTime();
  const base: WaitOptions = {
    source: staticSource(["127.0.0.1"]),
    names,
    self: { ip: "127.0.0.1", alive: "a" },
    now: time.now,
    sleep: time.sleep,
    timeoutMs: 1000,
  };
  const nodes = await waitFor({ peers: 2, epmd: true }, { ...base, basename: "*" });
  assert.equal(nodes.ok, true, nodes.message);
  assert.equal(nodes.last.peersCounted, "nodes");
  assert.deepEqual(nodes.last.peerNodes, ["b@127.0.0.1", "c@127.0.0.1", "other@127.0.0.1"]);
  assert.equal(nodes.last.conditions.find((c) => c.name === "peers")?.summary, "3/2 nodes");

  const onlyB = await waitFor({ peers: 2, epmd: true }, { ...base, basename: "b" });
  assert.equal(onlyB.ok, false);
  assert.match(
    onlyB.message,
    /condition 'peers' failed: 1 peer node\(s\) other than this pod's registered with EPMD, 2 needed: b@127\.0\.0\.1/,
  );

  // Without epmd, peers are hosts, and the only host is this pod's.
  const hosts = await waitFor({ peers: 2 }, base);
  assert.equal(hosts.ok, false);
  assert.equal(hosts.last.peersCounted, "hosts");
  assert.match(
    hosts.message,
    /condition 'peers' failed: no peer hosts other than this pod discoverable, 2 needed/,
  );
});
