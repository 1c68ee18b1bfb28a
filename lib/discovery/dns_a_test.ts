import assert from "node:assert/strict";
import { aSource, FakeResolver } from "./mod.ts";

const SVC = "app.default.svc.cluster.local.";

Deno.test("aSource() gives canonical IPs with hostForm 'ip'", async () => {
  const dns = new FakeResolver().set(SVC, "A", ["10.244.0.11", "10.244.0.7", "10.244.0.11"]);
  const found = await aSource({ name: SVC, family: "A", hostForm: "ip", resolver: dns }).discover();
  assert.deepEqual(found, {
    hosts: [
      { host: "10.244.0.11", address: "10.244.0.11", via: "A" },
      { host: "10.244.0.7", address: "10.244.0.7", via: "A" },
    ],
    recordTypes: ["A"],
    stale: false,
    queries: 1,
  });
});

Deno.test("aSource() gives CoreDNS dashed names below the Service with hostForm 'dashed'", async () => {
  const dns = new FakeResolver()
    .set(SVC, "A", ["10.244.0.7"])
    .set(SVC, "AAAA", ["FD00:10:244:0:0:0:0:7", "2001:db8::"]);
  const found = await aSource({
    name: "App.default.svc.cluster.local",
    family: "both",
    hostForm: "dashed",
    resolver: dns,
  })
    .discover();
  assert.deepEqual(found.hosts, [
    { host: "10-244-0-7.app.default.svc.cluster.local", address: "10.244.0.7", via: "A" },
    { host: "2001-db8--0.app.default.svc.cluster.local", address: "2001:db8::", via: "AAAA" },
    { host: "fd00-10-244--7.app.default.svc.cluster.local", address: "fd00:10:244::7", via: "AAAA" },
  ]);
  assert.deepEqual(found.recordTypes, ["A", "AAAA"]);
  assert.equal(found.queries, 2);
  assert.deepEqual(dns.queries.toSorted(), [`${SVC} A`, `${SVC} AAAA`]);
});

Deno.test("aSource() with 'both' treats NODATA for one family as normal", async () => {
  const dns = new FakeResolver().set(SVC, "A", ["10.244.0.7"]);
  const found = await aSource({ name: SVC, family: "both", resolver: dns }).discover();
  assert.deepEqual([found.hosts.map((h) => h.host), found.error, found.stale], [
    ["10.244.0.7"],
    undefined,
    false,
  ]);
});

Deno.test("aSource() gives zero hosts when no family has records", async () => {
  const found = await aSource({ name: SVC, family: "both", resolver: new FakeResolver() }).discover();
  assert.deepEqual([found.hosts, found.stale, found.error?.code, found.queries], [
    [],
    false,
    "NXDOMAIN_OR_NODATA",
    2,
  ]);
});

Deno.test("aSource() keeps the last good answer when one family times out", async () => {
  const dns = new FakeResolver().set(SVC, "A", ["10.244.0.7"]).set(SVC, "AAAA", ["fd00::7"]);
  const source = aSource({ name: SVC, family: "both", resolver: dns, timeoutMs: 50 });
  const good = await source.discover();
  dns.set(SVC, "AAAA", "hang").set(SVC, "A", ["10.244.0.8"]);
  const stale = await source.discover();
  assert.deepEqual([stale.hosts, stale.stale, stale.error?.code], [good.hosts, true, "TIMEOUT"]);
});

Deno.test("aSource() without a last answer returns what the other family found, not stale", async () => {
  const dns = new FakeResolver().set(SVC, "A", ["10.244.0.7"]).set(SVC, "AAAA", "hang");
  const found = await aSource({ name: SVC, family: "both", resolver: dns, timeoutMs: 30 }).discover();
  assert.deepEqual([found.hosts.map((h) => h.host), found.stale, found.error?.code], [
    ["10.244.0.7"],
    false,
    "TIMEOUT",
  ]);
});
