import assert from "node:assert/strict";
import { DiscoveryError, FakeResolver, srvSource } from "./mod.ts";
import { SRV_RECHECK_MS } from "./dns_srv.ts";

const NAME = "_epmd._tcp.app.default.svc.cluster.local.";

Deno.test("srvSource() strips trailing dots, lowercases, deduplicates and sorts the targets", async () => {
  const dns = new FakeResolver().set(NAME, "SRV", [
    { priority: 0, weight: 33, port: 4369, target: "app-2.app.default.svc.cluster.local." },
    { priority: 0, weight: 33, port: 4369, target: "APP-0.app.default.svc.cluster.local." },
    { priority: 0, weight: 33, port: 4369, target: "app-1.app.default.svc.cluster.local" },
    { priority: 0, weight: 33, port: 9100, target: "app-0.app.default.svc.cluster.local." }, // second port
  ]);
  const found = await srvSource({ name: NAME, resolver: dns }).discover();
  assert.deepEqual(found, {
    hosts: [
      { host: "app-0.app.default.svc.cluster.local", via: "SRV" },
      { host: "app-1.app.default.svc.cluster.local", via: "SRV" },
      { host: "app-2.app.default.svc.cluster.local", via: "SRV" },
    ],
    recordTypes: ["SRV"],
    stale: false,
    queries: 1,
  });
  assert.deepEqual(dns.queries, [`${NAME} SRV`]);
});

Deno.test("srvSource() takes kube-dns answers (port 0, priority 10, hash labels) as they are", async () => {
  const dns = new FakeResolver().set("app.default.svc.cluster.local.", "SRV", [
    { priority: 10, weight: 50, port: 0, target: "6237356438626164.app.default.svc.cluster.local." },
    { priority: 10, weight: 50, port: 0, target: "app-0.app.default.svc.cluster.local." },
  ]);
  const { hosts } = await srvSource({ name: "app.default.svc.cluster.local.", resolver: dns }).discover();
  assert.deepEqual(hosts.map((h) => h.host), [
    "6237356438626164.app.default.svc.cluster.local",
    "app-0.app.default.svc.cluster.local",
  ]);
  assert.ok(hosts.every((h) => h.address === undefined), "targets are never parsed for IPs");
});

Deno.test("srvSource() always queries the absolute name once, adding a missing trailing dot", async () => {
  const dns = new FakeResolver().set(
    NAME,
    "SRV",
    FakeResolver.srvRecords(["app-0.app.default.svc.cluster.local."]),
  );
  const source = srvSource({ name: "_EPMD._tcp.app.default.svc.cluster.local", resolver: dns });
  assert.equal((await source.discover()).hosts.length, 1);
  assert.deepEqual(dns.queries, [`${NAME} SRV`]);
  assert.match(source.description, /^DNS SRV _epmd\._tcp\.app\.default\.svc\.cluster\.local\.$/);
});

Deno.test("srvSource() rejects names that would need the search list", () => {
  for (const name of ["app", "app.", "", "10.0.0.1", "a b.svc"]) {
    assert.throws(() => srvSource({ name }), (e) => e instanceof DiscoveryError && e.code === "CONFIG", name);
  }
});

Deno.test("srvSource() answers NXDOMAIN/NODATA with zero hosts, not stale, and forgets the last answer", async () => {
  const dns = new FakeResolver().set(
    NAME,
    "SRV",
    FakeResolver.srvRecords(["app-0.app.default.svc.cluster.local."]),
  );
  const source = srvSource({ name: NAME, resolver: dns, timeoutMs: 50 });
  assert.equal((await source.discover()).hosts.length, 1);
  dns.set(NAME, "SRV", undefined);
  const empty = await source.discover();
  assert.deepEqual(empty.hosts, []);
  assert.deepEqual(empty.recordTypes, []);
  assert.equal(empty.stale, false);
  assert.equal(empty.error?.code, "NXDOMAIN_OR_NODATA");
  assert.equal(empty.queries, 1);
  // Nothing is kept from before the NXDOMAIN: a timeout now gives an empty, non-stale answer.
  dns.set(NAME, "SRV", "hang");
  const failed = await source.discover();
  assert.deepEqual([failed.hosts, failed.stale, failed.error?.code], [[], false, "TIMEOUT"]);
});

Deno.test("srvSource() keeps the last good answer on a timeout and marks it stale", async () => {
  const dns = new FakeResolver().set(
    NAME,
    "SRV",
    FakeResolver.srvRecords(["app-1.app.default.svc.cluster.local.", "app-0.app.default.svc.cluster.local."]),
  );
  const source = srvSource({ name: NAME, resolver: dns, timeoutMs: 50 });
  const good = await source.discover();
  dns.set(NAME, "SRV", "hang");
  const t0 = performance.now();
  const stale = await source.discover();
  assert.ok(performance.now() - t0 < 1000, "the deadline holds");
  assert.equal(stale.stale, true);
  assert.deepEqual(stale.hosts, good.hosts);
  assert.deepEqual(stale.recordTypes, ["SRV"]);
  assert.ok(stale.error instanceof DiscoveryError);
  assert.equal(stale.error.code, "TIMEOUT");
  assert.equal(stale.error.query, `${NAME} SRV`);
  // Other failures keep it too; a good answer replaces it.
  dns.set(NAME, "SRV", new Error("connection reset"));
  assert.deepEqual([(await source.discover()).stale, (await source.discover()).error?.code], [true, "DNS"]);
  dns.set(NAME, "SRV", FakeResolver.srvRecords(["app-2.app.default.svc.cluster.local."]));
  const fresh = await source.discover();
  assert.deepEqual([fresh.hosts.map((h) => h.host), fresh.stale, fresh.error], [
    ["app-2.app.default.svc.cluster.local"],
    false,
    undefined,
  ]);
});

Deno.test("srvSource() skips '.' targets and rejects an answer of unusable targets", async () => {
  const dns = new FakeResolver().set(NAME, "SRV", FakeResolver.srvRecords(["."]));
  const source = srvSource({ name: NAME, resolver: dns });
  assert.deepEqual((await source.discover()).hosts, []);
  dns.set(NAME, "SRV", FakeResolver.srvRecords(["bad host."]));
  const bad = await source.discover();
  assert.equal(bad.error?.code, "DNS");
});

Deno.test("srvSource() rejects with the caller's reason when the caller aborts", async () => {
  const dns = new FakeResolver().set(NAME, "SRV", "hang");
  const controller = new AbortController();
  const p = srvSource({ name: NAME, resolver: dns, timeoutMs: 5000 }).discover(controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(p, { message: "stop" });
});

Deno.test("srvSource() with changeCheck asks SRV only when the Service's addresses change", async () => {
  const svc = "app.default.svc.cluster.local.";
  const pods = (n: number) => Array.from({ length: n }, (_, i) => `app-${i}.${svc}`);
  const ips = (n: number) => Array.from({ length: n }, (_, i) => `10.244.0.${10 + i}`);
  const dns = new FakeResolver().set(NAME, "SRV", FakeResolver.srvRecords(pods(3))).set(svc, "A", ips(3));
  let t = 0;
  const source = srvSource({ name: NAME, resolver: dns, changeCheck: "A", now: () => t });
  // First: SRV and A together.
  const first = await source.discover();
  assert.deepEqual(first.hosts.map((h) => h.host), pods(3).map((p) => p.slice(0, -1)));
  assert.equal(first.queries, 2);
  assert.deepEqual(dns.queries.sort(), [`${NAME} SRV`, `${svc} A`].sort());
  // Unchanged addresses (in another order): the same hosts from one A query.
  dns.queries.length = 0;
  dns.set(svc, "A", ips(3).reverse());
  const same = await source.discover();
  assert.deepEqual([same.hosts, same.stale, same.queries], [first.hosts, false, 1]);
  assert.deepEqual(dns.queries, [`${svc} A`]);
  // A pod added: A differs, so SRV is asked.
  dns.queries.length = 0;
  dns.set(NAME, "SRV", FakeResolver.srvRecords(pods(4))).set(svc, "A", ips(4));
  const grown = await source.discover();
  assert.equal(grown.hosts.length, 4);
  assert.deepEqual(dns.queries, [`${svc} A`, `${NAME} SRV`]);
  // A failing (timeout or SERVFAIL, which Deno reads as no records) falls back to SRV every time.
  dns.queries.length = 0;
  dns.set(svc, "A", new Error("connection refused"));
  assert.equal((await source.discover()).hosts.length, 4);
  assert.deepEqual(dns.queries, [`${svc} A`, `${NAME} SRV`]);
  // After SRV_RECHECK_MS of unchanged addresses, SRV is asked again.
  dns.set(svc, "A", ips(4));
  await source.discover(); // baseline taken again
  dns.queries.length = 0;
  await source.discover();
  assert.deepEqual(dns.queries, [`${svc} A`]);
  t += SRV_RECHECK_MS;
  dns.queries.length = 0;
  await source.discover();
  assert.deepEqual(dns.queries.sort(), [`${NAME} SRV`, `${svc} A`].sort());
});

Deno.test("srvSource() with changeCheck: the SRV answer's failures still count, and a Service without addresses ends the check", async () => {
  const svc = "app.default.svc.cluster.local.";
  const dns = new FakeResolver().set(NAME, "SRV", FakeResolver.srvRecords([`app-0.${svc}`]))
    .set(svc, "A", ["10.244.0.10"]);
  const source = srvSource({ name: NAME, resolver: dns, changeCheck: "A", timeoutMs: 50 });
  await source.discover();
  // The Service gone: A has no records, so SRV is asked and its NXDOMAIN is the answer.
  dns.set(svc, "A", undefined).set(NAME, "SRV", undefined);
  const gone = await source.discover();
  assert.deepEqual([gone.hosts, gone.error?.code], [[], "NXDOMAIN_OR_NODATA"]);
  // SRV targets but no A records (an IPv6-only Service asked for A, or not a headless Service): the
  // check stops for good, each call is one SRV query again.
  dns.set(NAME, "SRV", FakeResolver.srvRecords([`app-0.${svc}`]));
  await source.discover();
  dns.queries.length = 0;
  await source.discover();
  await source.discover();
  assert.deepEqual(dns.queries, [`${NAME} SRV`, `${NAME} SRV`]);
  // Names not of the form _port._proto.<service> never use the check.
  const bare = new FakeResolver().set(svc, "SRV", FakeResolver.srvRecords([`app-0.${svc}`]));
  const plain = srvSource({ name: svc, resolver: bare, changeCheck: "A" });
  await plain.discover();
  await plain.discover();
  assert.deepEqual(bare.queries, [`${svc} SRV`, `${svc} SRV`]);
});
