// Fuzzing of the compressed-term inflater on its own: mutated zlib streams (stored, fixed and dynamic
// blocks) and random bytes after a valid zlib header; only InflateError or output within the limit.
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import fc from "fast-check";
import { fuzz, mutated } from "../bytes/_fuzz.ts";
import { InflateError, zlibInflate } from "./_inflate.ts";

const MAX_OUTPUT = 8192;

function inflateOrTyped(input: Uint8Array): string {
  try {
    const { output, consumed } = zlibInflate(input, MAX_OUTPUT);
    assert.ok(output.length <= MAX_OUTPUT, `inflated ${output.length} bytes past ${MAX_OUTPUT}`);
    assert.ok(consumed > 0 && consumed <= input.length, `consumed ${consumed} of ${input.length}`);
    return "ok";
  } catch (e) {
    if (e instanceof InflateError) return e.code;
    throw e;
  }
}

const text = new TextEncoder().encode("erlang distribution ".repeat(100));
const noise = Uint8Array.from({ length: 1500 }, (_, i) => (i * 7919 + (i >> 3)) & 0xff);
const seeds = [text, noise, text.subarray(0, 7)].flatMap((data) =>
  [0, 1, 6, 9].map((level) => new Uint8Array(deflateSync(data, { level })))
);

Deno.test("zlibInflate() on mutated zlib streams returns within its limit or throws InflateError", async () => {
  await fuzz("inflate: mutated zlib streams", mutated(seeds), inflateOrTyped, { runs: 3000 });
});

Deno.test("zlibInflate() on random blocks after a zlib header returns within its limit or throws InflateError", async () => {
  // 0x78 0x9c: deflate, 32 KiB window, default level; the first bits pick the block type.
  await fuzz(
    "inflate: random blocks",
    fc.uint8Array({ maxLength: 200 }),
    (rest) => inflateOrTyped(new Uint8Array([0x78, 0x9c, ...rest])),
    { runs: 3000 },
  );
});
