import assert from "node:assert/strict";
import { canonicalIp, isIp, parseIp, splitHostPort } from "./address.ts";

Deno.test("parseIp() reads IPv4 as four decimal octets", () => {
  const ip = parseIp("10.244.0.7");
  assert.equal(ip?.family, 4);
  assert.equal(ip?.canonical, "10.244.0.7");
  assert.deepEqual([...ip!.bytes], [10, 244, 0, 7]);
  assert.equal(parseIp("0.0.0.0")?.canonical, "0.0.0.0");
  assert.equal(parseIp("255.255.255.255")?.canonical, "255.255.255.255");
});

Deno.test("parseIp() rejects IPv4 with a bad octet, leading zeros, or the wrong number of parts", () => {
  for (
    const bad of [
      "10.244.0.256",
      "256.1.1.1",
      "10.244.0",
      "10.244.0.7.1",
      "010.1.1.1",
      "1.01.1.1",
      "1.1.1.1 ",
      " 1.1.1.1",
      "1..1.1",
      "1.1.1.-1",
      "1.1.1.1a",
      "",
    ]
  ) {
    assert.equal(parseIp(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("parseIp() reads IPv6 into 16 bytes, with '::' and a dotted IPv4 tail", () => {
  assert.deepEqual([...parseIp("::1")!.bytes], [...new Array(15).fill(0), 1]);
  assert.deepEqual(
    [...parseIp("2001:db8::ff00:42:8329")!.bytes],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42, 0x83, 0x29],
  );
  assert.deepEqual([...parseIp("::ffff:10.0.0.1")!.bytes].slice(10), [0xff, 0xff, 10, 0, 0, 1]);
  assert.deepEqual([...parseIp("1:2:3:4:5:6:1.2.3.4")!.bytes].slice(12), [1, 2, 3, 4]);
  assert.equal(parseIp("::")?.family, 6);
});

Deno.test("canonicalIp() writes IPv6 as RFC 5952 says", () => {
  const cases: [string, string][] = [
    ["FD00:0010:0244:0000:0000:0000:0000:0007", "fd00:10:244::7"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not shortened
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run wins
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["2001:db8::", "2001:db8::"],
    ["[fd00::7]", "fd00::7"],
    ["::ffff:10.244.0.7", "::ffff:10.244.0.7"],
    ["::FFFF:0a0b:0c0d", "::ffff:10.11.12.13"],
    ["64:ff9b::10.0.0.1", "64:ff9b::a00:1"],
    ["10.244.0.7", "10.244.0.7"],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIp(input), want, input);
});

Deno.test("canonicalIp() and isIp() reject what is no IP: zones, extra groups, bad tails, names", () => {
  for (
    const bad of [
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1::2::3",
      "fe80::1%eth0",
      "app-0",
      "localhost",
      ":::",
      "1:2:3:4:5:6:7::8", // '::' must stand for at least one group
      "12345::1",
      "::g",
      "1.2.3.4::", // a dotted part only at the end
      "::1.2.3",
      "::1.2.3.256",
      ":1",
      "1:",
      "[10.0.0.1]", // brackets are for IPv6
      "[::1",
      "",
    ]
  ) {
    assert.equal(canonicalIp(bad), undefined, bad);
    assert.equal(isIp(bad), false, bad);
  }
  assert.equal(isIp("[::1]"), false, "isIp() takes no brackets");
  assert.equal(isIp("::1"), true);
  assert.equal(isIp("10.0.0.1"), true);
});

Deno.test("splitHostPort() splits host:port, [v6]:port and :port", () => {
  assert.deepEqual(splitHostPort("10.96.0.10:53"), { host: "10.96.0.10", port: 53 });
  assert.deepEqual(splitHostPort("dns.example:5353"), { host: "dns.example", port: 5353 });
  assert.deepEqual(splitHostPort("[fd00::a]:53"), { host: "fd00::a", port: 53 });
  assert.deepEqual(splitHostPort("[::]:9090"), { host: "::", port: 9090 });
  assert.deepEqual(splitHostPort(":9090"), { host: "", port: 9090 });
  assert.deepEqual(splitHostPort("0.0.0.0:0"), { host: "0.0.0.0", port: 0 });
  assert.deepEqual(splitHostPort("h:65535"), { host: "h", port: 65535 });
});

Deno.test("splitHostPort() takes a bare host, [v6] or a bare IPv6 address without a port", () => {
  assert.deepEqual(splitHostPort("10.96.0.10"), { host: "10.96.0.10" });
  assert.deepEqual(splitHostPort("fd00::a"), { host: "fd00::a" });
  assert.deepEqual(splitHostPort("::1"), { host: "::1" }, "'::1' is an address, not '::' port 1");
  assert.deepEqual(splitHostPort("[fd00::a]"), { host: "fd00::a" });
  assert.deepEqual(splitHostPort("localhost"), { host: "localhost" });
});

Deno.test("splitHostPort() rejects bad ports, stray brackets and colons that make no IPv6 address", () => {
  for (
    const bad of [
      "",
      "host:",
      "host:http",
      "host:65536",
      "host:123456",
      "host:-1",
      "host: 53",
      ":",
      "[fd00::a]53",
      "[fd00::a]:",
      "[fd00::a",
      "[app]:53",
      "[10.0.0.1]:53",
      "fd00::a:53:x",
      "a:b:c",
      "fe80::1%eth0",
      "[fe80::1%eth0]:53",
    ]
  ) {
    assert.equal(splitHostPort(bad), undefined, JSON.stringify(bad));
  }
});
