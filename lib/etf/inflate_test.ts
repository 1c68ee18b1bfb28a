import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import fc from "fast-check";
import { InflateError, zlibInflate } from "./_inflate.ts";

const eq = (a: Uint8Array, b: Uint8Array) => assert.deepEqual(Array.from(a), Array.from(b));

Deno.test("zlibInflate() reads what zlib writes at every level: stored, fixed and dynamic blocks", () => {
  const texts = [
    new Uint8Array(0),
    new TextEncoder().encode("a"),
    new TextEncoder().encode("erlang ".repeat(5000)),
    Uint8Array.from({ length: 70000 }, (_, i) => (i * 7919) & 0xff),
  ];
  for (const data of texts) {
    for (const level of [0, 1, 6, 9]) {
      const z = new Uint8Array(deflateSync(data, { level }));
      const r = zlibInflate(z, data.length);
      eq(r.output, data);
      assert.equal(r.consumed, z.length);
    }
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 9 }), (data, level) => {
      const z = new Uint8Array(deflateSync(data, { level }));
      const withTail = new Uint8Array([...z, 1, 2, 3]);
      const r = zlibInflate(withTail, data.length);
      eq(r.output, data);
      assert.equal(r.consumed, z.length);
    }),
    { numRuns: 500 },
  );
});

Deno.test("zlibInflate() fails with its typed error on truncated, corrupted and oversized input, never another", () => {
  const data = new TextEncoder().encode("hello hello hello hello world");
  const z = new Uint8Array(deflateSync(data));
  for (let n = 0; n < z.length; n++) {
    assert.throws(
      () => zlibInflate(z.subarray(0, n), data.length),
      (e: unknown) => e instanceof InflateError,
    );
  }
  assert.throws(
    () => zlibInflate(z, data.length - 1),
    (e: unknown) => e instanceof InflateError && e.code === "TOO_LARGE",
  );
  const badSum = z.slice();
  badSum[badSum.length - 1] ^= 1;
  assert.throws(() => zlibInflate(badSum, data.length), /Adler-32/);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), fc.nat(255), (junk, at, byte) => {
      const m = z.slice();
      m[at % m.length] = byte;
      for (const input of [junk, m]) {
        try {
          const r = zlibInflate(input, 1000);
          assert.ok(r.output.length <= 1000);
        } catch (e) {
          assert.ok(e instanceof InflateError, String(e));
        }
      }
    }),
    { numRuns: 3000 },
  );
});
