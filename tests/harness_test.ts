/**
 * Checks of the shared test harness (tests/_harness): real OTP nodes (host OTP 25, chrooted OTP 27/29),
 * the simulated Kubernetes network with Unbound as kube-dns, and the cluster convenience.
 */

import assert from "node:assert/strict";
import {
  cleanupStale,
  clusterUnavailableReason,
  createCluster,
  createNetwork,
  dashedIp,
  dnsUnavailableReason,
  freePort,
  type Network,
  networkUnavailableReason,
  type OtpVersion,
  otpVersions,
  randomCookie,
  renderService,
  renderZone,
  startDns,
  startNode,
} from "./_harness/mod.ts";
import { hasProgram } from "./_harness/_process.ts";
import { startCachingDns } from "./_harness/dns.ts";
import { cpuLimitUnavailableReason, createCpuLimit } from "./_harness/cgroup.ts";
import { waitUntil } from "./_harness/wait.ts";

const otp = Object.fromEntries(otpVersions().map((v) => [v.version, v]));
for (const v of Object.values(otp)) {
  if (!v.available) console.warn(`harness_test: OTP ${v.version} tests skipped: ${v.why}`);
}

Deno.test("freePort() gives distinct bindable ports below the kernel's ephemeral range", () => {
  const low = Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/)[0]);
  const ports = Array.from({ length: 20 }, freePort);
  for (const port of ports) {
    assert.ok(port >= 10000 && port < low, `${port} is below ${low}`);
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  }
  assert.ok(new Set(ports).size > 15, `random, not one port: ${ports}`);
});

Deno.test("startNode() runs an OTP 25 node on loopback and evaluates expressions on it", async () => {
  const cookie = randomCookie();
  const epmdPort = freePort();
  await using a = await startNode({ name: "ha@127.0.0.1", cookie, epmdPort });
  await using b = await startNode({ name: "hb@127.0.0.1", cookie, epmdPort });
  assert.equal(await a.eval("node()."), "'ha@127.0.0.1'");
  assert.equal(await a.eval("nodes()."), "[]");
  assert.equal(await a.eval("erlang:get_cookie()."), `'${cookie}'`);
  assert.equal(await a.eval("X = 6, X * 7"), "42");
  assert((await a.eval("1/0.")).startsWith("error:error:badarith"));
  assert.equal(await a.eval("net_adm:ping('hb@127.0.0.1')."), "pong");
  assert.equal(await b.eval("nodes()."), "['ha@127.0.0.1']");
  let timedOut = false;
  await a.eval("timer:sleep(10000).", 200).catch(() => (timedOut = true));
  assert(timedOut, "eval with a 200 ms deadline must reject");
});

Deno.test("startNode() never puts the cookie on the command line", async () => {
  const cookie = randomCookie();
  await using a = await startNode({ name: "hc@127.0.0.1", cookie, epmdPort: freePort() });
  const cmdline = await Deno.readTextFile(`/proc/${a.pid}/cmdline`);
  assert(!cmdline.includes(cookie), "cookie found on argv");
  assert(!cmdline.includes("-setcookie"), "-setcookie found on argv");
});

Deno.test("stop() removes the node, its private EPMD and its HOME", async () => {
  const epmdPort = freePort();
  const a = await startNode({ name: "hd@127.0.0.1", cookie: randomCookie(), epmdPort });
  const pid = a.pid;
  await a.stop();
  await a.stop(); // idempotent
  let alive = true;
  try {
    await Deno.stat(`/proc/${pid}`);
  } catch {
    alive = false;
  }
  assert(!alive, "beam still running after stop()");
  const names = await new Deno.Command("epmd", { args: ["-port", String(epmdPort), "-names"] }).output();
  assert(!names.success, "private EPMD still running after the last node stopped");
});

Deno.test("startNode() fails with the node's output when the name is taken", async () => {
  const cookie = randomCookie();
  const epmdPort = freePort();
  await using _a = await startNode({ name: "he@127.0.0.1", cookie, epmdPort });
  let message = "";
  try {
    await using _b = await startNode({ name: "he@127.0.0.1", cookie, epmdPort });
  } catch (e) {
    message = (e as Error).message;
  }
  assert(message.includes("in use"), `unexpected error: ${message}`);
});

for (const version of ["27", "29"] as const) {
  Deno.test({
    name: `startNode() runs a chrooted OTP ${version} node that pings an OTP 25 node`,
    ignore: !otp[version].available,
    async fn() {
      const cookie = randomCookie();
      const epmdPort = freePort();
      await using a = await startNode({ version, name: `hf${version}@127.0.0.1`, cookie, epmdPort });
      await using b = await startNode({ name: `hg${version}@127.0.0.1`, cookie, epmdPort });
      assert.equal(await a.eval("erlang:system_info(otp_release)."), `"${version}"`);
      assert.equal(await a.eval(`net_adm:ping('hg${version}@127.0.0.1').`), "pong");
      assert.equal(await b.eval("nodes()."), `['hf${version}@127.0.0.1']`);
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// DNS rendering (no root needed)

Deno.test("renderZone(renderService()) gives the zone of kubernetes.md §5 for two StatefulSet pods", () => {
  const text = renderZone(
    renderService({
      name: "app",
      kind: "statefulset",
      pods: [{ host: "app-0", ip: "10.244.0.10" }, { host: "app-1", ip: "10.244.0.11" }],
    }),
  );
  assert.equal(
    text,
    `$ORIGIN cluster.local.
$TTL 5
@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5
app-0.app.default.svc IN A 10.244.0.10
app-1.app.default.svc IN A 10.244.0.11
app.default.svc IN A 10.244.0.10
app.default.svc IN A 10.244.0.11
app.default.svc IN SRV 0 50 4369 app-0.app.default.svc.cluster.local.
app.default.svc IN SRV 0 50 4369 app-1.app.default.svc.cluster.local.
_epmd._tcp.app.default.svc IN SRV 0 50 4369 app-0.app.default.svc.cluster.local.
_epmd._tcp.app.default.svc IN SRV 0 50 4369 app-1.app.default.svc.cluster.local.
`,
  );
});

Deno.test("renderService() uses dashed-IP targets with A lines for Deployments and max(1, 100/N) weights", () => {
  const pods = Array.from({ length: 6 }, (_, i) => ({ ip: `10.244.0.${20 + i}` }));
  const recs = renderService({ name: "web", namespace: "prod", kind: "deployment", pods, ttl: 30 });
  assert.ok(
    recs.some((r) => r.name === "10-244-0-20.web.prod.svc" && r.type === "A" && r.data === "10.244.0.20"),
  );
  const srv = recs.filter((r) => r.name === "_epmd._tcp.web.prod.svc");
  assert.equal(srv.length, 6);
  assert.equal(srv[0].data, "0 16 4369 10-244-0-20.web.prod.svc.cluster.local.");
  assert.ok(recs.every((r) => r.ttl === 30));
  const many = renderService({
    name: "a",
    kind: "deployment",
    pods: Array.from({ length: 150 }, (_, i) => ({ ip: `10.1.${i >> 8}.${i & 255}` })),
  });
  assert.ok(many.filter((r) => r.type === "SRV").every((r) => r.data.startsWith("0 1 4369 ")));
  assert.deepEqual(renderService({ name: "app", kind: "statefulset", pods: [] }), []);
});

Deno.test("dashedIp() follows the CoreDNS rules for IPv4 and IPv6", () => {
  assert.equal(dashedIp("10.244.0.7"), "10-244-0-7");
  assert.equal(dashedIp("fd00:10:244::7"), "fd00-10-244--7");
  assert.equal(dashedIp("2001:db8::"), "2001-db8--0");
});

// ---------------------------------------------------------------------------------------------------
// Simulated Kubernetes network (root, ip, unbound)

const netWhy = networkUnavailableReason() ?? dnsUnavailableReason() ??
  (hasProgram("dig") ? undefined : "'dig' is not on PATH");
if (netWhy) console.warn(`harness_test: network/DNS tests skipped: ${netWhy}`);

async function dig(net: Network, pod: string, args: string[]): Promise<string> {
  const r = await net.run(pod, ["dig", "+tries=1", "+time=2", ...args], { timeoutMs: 10_000 });
  return r.stdout;
}

function digStatus(out: string): string | undefined {
  return /status: ([A-Z]+)/.exec(out)?.[1];
}

Deno.test({
  name: "createNetwork() + startDns() answer SRV, A, NXDOMAIN and NODATA like CoreDNS inside pods",
  ignore: netWhy !== undefined,
  async fn() {
    await using net = await createNetwork();
    for (let i = 0; i < 3; i++) {
      await net.addPod(`app-${i}`, { fqdn: `app-${i}.app.default.svc.cluster.local` });
    }
    await using dns = await startDns(net);
    await dns.publish({
      name: "app",
      kind: "statefulset",
      pods: net.pods.map((p) => ({ host: p.name, ip: p.ip })),
    });
    const srv = await dig(net, "app-0", ["+short", "SRV", "_epmd._tcp.app.default.svc.cluster.local."]);
    assert.deepEqual(
      srv.trim().split("\n").sort(),
      [0, 1, 2].map((i) => `0 33 4369 app-${i}.app.default.svc.cluster.local.`),
    );
    const a = await dig(net, "app-1", ["+short", "A", "app.default.svc.cluster.local."]);
    assert.deepEqual(a.trim().split("\n").sort(), net.pods.map((p) => p.ip).sort());
    // The search list of the pod's resolv.conf applies to a bare name.
    const bare = await dig(net, "app-1", ["+search", "+short", "SRV", "app"]);
    assert.equal(bare.trim().split("\n").length, 3);
    const nodata = await dig(net, "app-2", ["AAAA", "app-0.app.default.svc.cluster.local."]);
    assert.equal(digStatus(nodata), "NOERROR");
    assert.match(nodata, /flags: qr aa/);
    assert.match(nodata, /ANSWER: 0,/);
    assert.equal(digStatus(await dig(net, "app-2", ["A", "nope.default.svc.cluster.local."])), "NXDOMAIN");
    assert.equal(digStatus(await dig(net, "app-2", ["A", "example.com."])), "REFUSED");

    // Deno.resolveDns inside a pod (it reads the pod's resolv.conf).
    const deno = await net.run("app-2", [
      Deno.execPath(),
      "eval",
      "--quiet",
      'console.log(JSON.stringify((await Deno.resolveDns("_epmd._tcp.app.default.svc.cluster.local.", "SRV")).map((r) => r.target).sort()))',
    ], { timeoutMs: 30_000 });
    assert.equal(deno.stderr.trim(), "");
    assert.deepEqual(
      JSON.parse(deno.stdout),
      [0, 1, 2].map((i) => `app-${i}.app.default.svc.cluster.local.`),
    );

    // Scale to zero: NXDOMAIN for the Service and everything below it.
    await dns.publish({ name: "app", kind: "statefulset", pods: [] });
    assert.equal(digStatus(await dig(net, "app-0", ["A", "app.default.svc.cluster.local."])), "NXDOMAIN");
    assert.equal(
      digStatus(await dig(net, "app-0", ["SRV", "_epmd._tcp.app.default.svc.cluster.local."])),
      "NXDOMAIN",
    );
    assert.equal(
      digStatus(await dig(net, "app-0", ["A", "app-0.app.default.svc.cluster.local."])),
      "NXDOMAIN",
    );

    // Outage and recovery.
    await dns.publish({ name: "app", kind: "deployment", pods: [{ ip: net.pods[0].ip }] });
    await dns.pause();
    assert.equal(digStatus(await dig(net, "app-0", ["A", "app.default.svc.cluster.local."])), undefined);
    await dns.resume();
    const back = await dig(net, "app-0", ["+short", "SRV", "app.default.svc.cluster.local."]);
    assert.equal(back.trim(), `0 100 4369 ${dashedIp(net.pods[0].ip)}.app.default.svc.cluster.local.`);
  },
});

Deno.test({
  name:
    "The bridge keeps its own MAC address as pods join, so a pod's ARP entry for the DNS server stays valid",
  ignore: netWhy !== undefined,
  async fn() {
    // A Linux bridge without an address of its own takes the lowest MAC of its ports: a joining pod
    // could change it, and every pod that had the old one cached (for ~30 s) sent DNS into a port.
    await using net = await createNetwork();
    await net.addPod("p0");
    await using dns = await startDns(net);
    await dns.setZone([{ name: "x", type: "A", data: "10.9.9.9" }]);
    assert.equal((await dig(net, "p0", ["+short", "A", "x.cluster.local."])).trim(), "10.9.9.9");
    const mac = async (dev: string) =>
      JSON.parse((await net.run("node", ["ip", "-j", "link", "show", dev])).stdout)[0].address as string;
    const before = await mac("br0");
    for (let i = 1; i <= 6; i++) await net.addPod(`p${i}`);
    assert.equal(await mac("br0"), before);
    const ports = await Promise.all(net.pods.map((_, i) => mac(`v${i}`)));
    assert.ok(!ports.includes(before), `the bridge uses a port's MAC ${before}: ${ports.join(", ")}`);
    assert.equal((await dig(net, "p0", ["+short", "A", "x.cluster.local."])).trim(), "10.9.9.9");
  },
});

Deno.test({
  name: "Network addPod() and removePod() may run at the same time (the state file is written one at a time)",
  ignore: netWhy !== undefined,
  async fn() {
    await using net = await createNetwork();
    await Promise.all(["a", "b", "c", "d", "e", "f"].map((n) => net.addPod(n)));
    await Promise.all(["a", "b", "c"].map((n) => net.removePod(n)));
    assert.deepEqual(net.pods.map((p) => p.name).sort(), ["d", "e", "f"]);
  },
});

Deno.test({
  name: "Network partition() cuts a pod off and heal() reconnects it",
  ignore: netWhy !== undefined,
  async fn() {
    await using net = await createNetwork();
    await net.addPod("p0");
    await using dns = await startDns(net);
    await dns.setZone([{ name: "x", type: "A", data: "10.9.9.9" }]);
    assert.equal((await dig(net, "p0", ["+short", "A", "x.cluster.local."])).trim(), "10.9.9.9");
    await net.partition("p0");
    assert.equal(net.pod("p0").partitioned, true);
    assert.equal(digStatus(await dig(net, "p0", ["A", "x.cluster.local."])), undefined);
    await net.heal("p0");
    assert.equal((await dig(net, "p0", ["+short", "A", "x.cluster.local."])).trim(), "10.9.9.9");
  },
});

Deno.test({
  name: "Network destroy() removes namespaces, files and processes; cleanupStale() spares live runs",
  ignore: netWhy !== undefined,
  async fn() {
    const net = await createNetwork();
    try {
      const pod = await net.addPod("p0", { fqdn: "p0.app.default.svc.cluster.local" });
      const hosts = await net.run("p0", ["cat", "/etc/hosts", "/etc/resolv.conf"]);
      assert.match(
        hosts.stdout,
        new RegExp(`${pod.ip.replaceAll(".", "\\.")}\\tp0\\.app\\.default\\.svc\\.cluster\\.local\\tp0`),
      );
      assert.match(hosts.stdout, /search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local/);
      assert.match(hosts.stdout, /options ndots:5/);
      const sleeper = net.exec("p0", ["sleep", "600"], { stdout: "null", stderr: "null" });
      assert.deepEqual(await cleanupStale(0), []);
      await net.destroy();
      const status = await sleeper.status;
      assert.equal(status.success, false);
      const list = await new Deno.Command("ip", { args: ["netns", "list"] }).output();
      assert.ok(!new TextDecoder().decode(list.stdout).includes(net.prefix));
      await assert.rejects(Deno.stat(`/etc/netns/${pod.netns}`));
    } finally {
      await net.destroy();
    }
  },
});

// ---------------------------------------------------------------------------------------------------
// Cluster: real nodes in pods, found through DNS

const mixed: OtpVersion[] = otp["27"].available ? ["25", "27"] : ["25", "25"];
const clusterWhy = clusterUnavailableReason(mixed) ?? netWhy;
if (clusterWhy) console.warn(`harness_test: cluster tests skipped: ${clusterWhy}`);

for (const kind of ["statefulset", "deployment"] as const) {
  Deno.test({
    name: `createCluster(${kind}) nodes in two pods (OTP ${mixed.join(" + ")}) ping each other by DNS name`,
    ignore: clusterWhy !== undefined,
    async fn() {
      await using cluster = await createCluster({ pods: 2, kind, otpVersions: mixed });
      const [p0, p1] = cluster.pods;
      if (kind === "statefulset") {
        assert.equal(p0.nodeName, "app@app-0.app.default.svc.cluster.local");
      } else {
        assert.equal(p0.nodeName, `app@${p0.ip}`);
      }
      const [a, b] = await Promise.all([cluster.startNode(p0), cluster.startNode(p1)]);
      assert.equal(await b.eval("erlang:system_info(otp_release)."), `"${mixed[1]}"`);
      assert.equal(await a.eval("inet:gethostname()."), `{ok,"${p0.name}"}`);
      const srv = await a.eval(`inet_res:lookup("_epmd._tcp.${cluster.serviceFqdn}", in, srv).`);
      assert.match(srv, new RegExp(p1.fqdn.replaceAll(".", "\\.")));
      assert.equal(await a.eval(`net_adm:ping('${p1.nodeName}').`), "pong");
      assert.equal(await b.eval("nodes()."), `['${p0.nodeName}']`);
      await cluster.setReady(p1, false);
      const srv2 = await a.eval(`inet_res:lookup("_epmd._tcp.${cluster.serviceFqdn}", in, srv).`);
      assert.doesNotMatch(srv2, new RegExp(p1.fqdn.replaceAll(".", "\\.")));
    },
  });
}

Deno.test({
  name: "Cluster kill() of a pod's node and startNode() again restarts it under the same name",
  ignore: clusterWhy !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 2, otpVersions: mixed });
    const a = await cluster.startNode(0);
    const b = await cluster.startNode(1);
    assert.equal(await a.eval(`net_adm:ping('${b.name}').`), "pong");
    b.kill();
    await b.status;
    assert.equal(b.exited, true);
    const b2 = await cluster.startNode(1);
    assert.notEqual(b2.pid, b.pid);
    assert.equal(await a.eval(`net_adm:ping('${b2.name}').`), "pong");
  },
});

Deno.test({
  name:
    "startCachingDns() answers from its cache: a changed record and a new name stay as cached until flush",
  ignore: netWhy !== undefined,
  async fn() {
    await using net = await createNetwork();
    const pod = await net.addPod("p0");
    await using dns = await startDns(net);
    await dns.setZone([{ name: "x", type: "A", data: "10.9.9.9" }]);
    await using cache = await startCachingDns(net, dns, { minTtl: 30, maxNegativeTtl: 30 });
    await cache.servePod(pod.netns);
    assert.match(await Deno.readTextFile(`/etc/netns/${pod.netns}/resolv.conf`), /^nameserver .*\.2$/m);
    assert.equal((await dig(net, "p0", ["+short", "A", "x.cluster.local."])).trim(), "10.9.9.9");
    assert.equal(digStatus(await dig(net, "p0", ["A", "y.cluster.local."])), "NXDOMAIN");
    const asked = await cache.queries();
    await dns.setZone([{ name: "x", type: "A", data: "10.9.9.8" }, {
      name: "y",
      type: "A",
      data: "10.9.9.7",
    }]);
    // The authoritative server has the new zone; the cache (minimum TTL 30 s) still has the old answers.
    assert.equal(
      (await dig(net, "p0", ["+short", `@${dns.address}`, "A", "x.cluster.local."])).trim(),
      "10.9.9.8",
    );
    assert.equal((await dig(net, "p0", ["+short", "A", "x.cluster.local."])).trim(), "10.9.9.9");
    assert.equal(digStatus(await dig(net, "p0", ["A", "y.cluster.local."])), "NXDOMAIN");
    assert.equal(await cache.queries(), asked + 2);
    await cache.flush();
    assert.equal((await dig(net, "p0", ["+short", "A", "x.cluster.local."])).trim(), "10.9.9.8");
    assert.equal((await dig(net, "p0", ["+short", "A", "y.cluster.local."])).trim(), "10.9.9.7");
    await cache.stop();
    assert.equal(digStatus(await dig(net, "p0", ["A", "x.cluster.local."])), undefined);
    assert.equal(await Deno.stat(cache.dir).then(() => true, () => false), false);
  },
});

const cgWhy = cpuLimitUnavailableReason();
if (cgWhy) console.warn(`harness_test: CPU limit test skipped: ${cgWhy}`);

Deno.test({
  name:
    "createCpuLimit() throttles a busy process joined through wrap() and remove() kills it and deletes the group",
  ignore: cgWhy !== undefined,
  async fn() {
    await using limit = await createCpuLimit("test", 100);
    assert.equal((await Deno.readTextFile(`${limit.dir}/cpu.cfs_quota_us`)).trim(), "10000");
    const cmd = limit.wrap(["sh", "-c", "while :; do :; done"]);
    const child = new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null", stderr: "null" }).spawn();
    try {
      await waitUntil(async () => (await limit.pids()).includes(child.pid), {
        what: "the shell in the group",
      });
      await waitUntil(async () => (await limit.stat()).nrThrottled > 0, { what: "nr_throttled > 0" });
    } finally {
      await limit.remove();
    }
    assert.equal((await child.status).signal, "SIGKILL");
    assert.equal(await Deno.stat(limit.dir).then(() => true, () => false), false);
  },
});
