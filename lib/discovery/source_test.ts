import assert from "node:assert/strict";
import { canonicalIp, dashedIp, DiscoveryError, normalizeHost } from "./mod.ts";

Deno.test("canonicalIp() writes IPv6 as RFC 5952 says", () => {
  const cases: [string, string][] = [
    ["FD00:0010:0244:0000:0000:0000:0000:0007", "fd00:10:244::7"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not shortened
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run wins
    ["::", "::"],
    ["::1", "::1"],
    ["2001:db8::", "2001:db8::"],
    ["[fd00::7]", "fd00::7"],
    ["::ffff:10.244.0.7", "::ffff:10.244.0.7"],
    ["::FFFF:0a0b:0c0d", "::ffff:10.11.12.13"],
    ["64:ff9b::10.0.0.1", "64:ff9b::a00:1"],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIp(input), want, input);
});

Deno.test("canonicalIp() accepts IPv4 and rejects what is no IP", () => {
  assert.equal(canonicalIp("10.244.0.7"), "10.244.0.7");
  for (
    const bad of [
      "10.244.0.256",
      "10.244.0",
      "010.1.1.1",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "fe80::1%eth0",
      "app-0",
      ":::",
      "1:2:3:4:5:6:7::8",
    ]
  ) {
    assert.equal(canonicalIp(bad), undefined, bad);
  }
});

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
