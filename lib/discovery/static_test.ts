import assert from "node:assert/strict";
import { DiscoveryError, localEpmdSource, staticSource } from "./mod.ts";

Deno.test("staticSource() normalizes hosts, IPs and node names", async () => {
  const source = staticSource([
    "app@App-1.app.default.svc.cluster.local.",
    " 10.244.0.7 ",
    "FD00:0:0:0:0:0:0:7",
    "[fd00::8]",
    "app-0.app.default.svc.cluster.local",
    "other@app-0.app.default.svc.cluster.local",
    "",
  ]);
  const found = await source.discover();
  assert.deepEqual(found, {
    hosts: [
      { host: "10.244.0.7", address: "10.244.0.7", via: "static" },
      { host: "app-0.app.default.svc.cluster.local", via: "static" },
      { host: "app-1.app.default.svc.cluster.local", via: "static" },
      { host: "fd00::7", address: "fd00::7", via: "static" },
      { host: "fd00::8", address: "fd00::8", via: "static" },
    ],
    recordTypes: ["static"],
    stale: false,
    queries: 0,
  });
  assert.equal(source.kind, "static");
  assert.equal(source.description, "static list of 5 hosts");
});

Deno.test("staticSource() rejects entries that are no host, IP or node name", () => {
  for (const bad of ["a@b@c", "@host", "app@", "bad host", "fe80::1%eth0", "a..b"]) {
    assert.throws(() => staticSource([bad]), (e) => e instanceof DiscoveryError && e.code === "CONFIG", bad);
  }
});

Deno.test("staticSource() with no entries gives zero hosts", async () => {
  assert.deepEqual(await staticSource([]).discover(), {
    hosts: [],
    recordTypes: [],
    stale: false,
    queries: 0,
  });
});

Deno.test("localEpmdSource() gives the local host only, asked at its address", async () => {
  assert.deepEqual((await localEpmdSource().discover()).hosts, [{
    host: "127.0.0.1",
    address: "127.0.0.1",
    via: "epmd",
  }]);
  const named = localEpmdSource({ host: "127.0.0.1", nodeHost: "App-0.app.default.svc.cluster.local." });
  assert.deepEqual(await named.discover(), {
    hosts: [{ host: "app-0.app.default.svc.cluster.local", address: "127.0.0.1", via: "epmd" }],
    recordTypes: ["epmd"],
    stale: false,
    queries: 0,
  });
  assert.equal(named.kind, "epmd");
  assert.throws(() => localEpmdSource({ host: "a b" }), DiscoveryError);
});
