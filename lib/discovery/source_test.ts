import assert from "node:assert/strict";
import { dashedIp, DiscoveryError, normalizeHost } from "./mod.ts";

Deno.test("dashedIp() follows CoreDNS: dots and colons become dashes, a trailing dash gets a 0", () => {
  assert.equal(dashedIp("10.244.0.7"), "10-244-0-7");
  assert.equal(dashedIp("fd00:10:244::7"), "fd00-10-244--7");
  assert.equal(dashedIp("2001:db8::"), "2001-db8--0");
  assert.equal(dashedIp("FD00:0010:0244::0007"), "fd00-10-244--7");
  assert.equal(dashedIp("::1"), "--1");
  assert.throws(() => dashedIp("app-0"), DiscoveryError);
});

Deno.test("normalizeHost() strips the trailing dot and lowercases names, keeps IPs canonical", () => {
  assert.equal(normalizeHost("App-0.APP.default.svc.cluster.local."), "app-0.app.default.svc.cluster.local");
  assert.equal(normalizeHost("FD00::7"), "fd00::7");
  assert.equal(normalizeHost("localhost"), "localhost");
  for (const bad of ["", ".", "a..b", "-a.b", "a b", "a@b", "a.b-"]) {
    assert.equal(normalizeHost(bad), undefined, bad);
  }
});
