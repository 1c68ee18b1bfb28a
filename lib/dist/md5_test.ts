import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { md5 } from "./md5.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const enc = new TextEncoder();

Deno.test("md5() gives the digests of the RFC 1321 test suite", () => {
  const suite: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
    [
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
      "57edf4a22be3c955ac49da2e2107b67a",
    ],
  ];
  for (const [text, digest] of suite) assert.equal(hex(md5(enc.encode(text))), digest, JSON.stringify(text));
});

Deno.test("md5() agrees with OpenSSL's MD5 on every length around the block and padding boundaries and on random input", () => {
  for (let n = 0; n <= 200; n++) {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    assert.equal(hex(md5(data)), createHash("md5").update(data).digest("hex"), `length ${n}`);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (data) => {
      assert.equal(hex(md5(data)), createHash("md5").update(data).digest("hex"));
    }),
    { numRuns: 2000 },
  );
});
