// Property tests: round trips of arbitrary terms, and hostile (mutated or random) input.
import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzz, mutated } from "../bytes/_fuzz.ts";
import { hex, term, toHex } from "./_test_util.ts";
import {
  type DecodeOptions,
  decodeTerm,
  decodeTermAt,
  encodeTerm,
  EtfDecodeError,
  type Term,
  termEquals,
} from "./mod.ts";
import { Tag } from "./limits.ts";

Deno.test("decodeTerm(encodeTerm(t)) equals t for arbitrary terms", () => {
  fc.assert(
    fc.property(term, (t) => {
      const bytes = encodeTerm(t);
      const back = decodeTerm(bytes);
      assert.ok(termEquals(back, t), `round trip changed ${Deno.inspect(t, { depth: 6 })}`);
      // Re-encoding the decoded term gives the same bytes.
      assert.deepEqual(encodeTerm(back), bytes);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("decodeTermAt() splits arbitrary pairs of consecutive terms", () => {
  fc.assert(
    fc.property(term, term, (a, b) => {
      const ea = encodeTerm(a);
      const bytes = new Uint8Array([...ea, ...encodeTerm(b)]);
      const first = decodeTermAt(bytes, 0);
      assert.equal(first.offset, ea.length);
      const second = decodeTermAt(bytes, first.offset);
      assert.equal(second.offset, bytes.length);
      assert.ok(termEquals(first.term, a) && termEquals(second.term, b));
    }),
    { numRuns: 200 },
  );
});

/**
 * Decodes hostile bytes: it either succeeds (and the result re-encodes to a term that decodes to
 * itself) or throws EtfDecodeError; returns "ok" or the error's code.
 */
function decodeOrTypedError(bytes: Uint8Array, options?: DecodeOptions): string {
  let t: Term;
  try {
    t = decodeTerm(bytes, options);
  } catch (e) {
    if (e instanceof EtfDecodeError) return e.code;
    throw new Error(`Expected EtfDecodeError for ${toHex(bytes)}, got ${e}`, { cause: e });
  }
  // Whatever decodes is a valid term: it encodes, and decodes again to itself.
  assert.ok(termEquals(decodeTerm(encodeTerm(t)), t), `unstable: ${toHex(bytes)}`);
  return "ok";
}

const file = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/etf/vectors.json", import.meta.url)),
) as { cases: Record<string, string>[] };
const seeds = file.cases.flatMap((c) =>
  ["default", "v2", "v0", "z"].filter((k) => c[k]).map((k) => hex(c[k]))
)
  .filter((b) => b.length < 2000);
/** The compressed encodings (term_to_binary(T, [compressed])) among the OTP vectors. */
const compressedSeeds = seeds.filter((b) => b[1] === Tag.COMPRESSED);

Deno.test("decodeTerm() on mutated OTP vectors decodes or throws EtfDecodeError", async () => {
  // Byte 0 (the version) stays: a wrong one is one check, already tested.
  await fuzz("etf: mutated OTP vectors", mutated(seeds, 1), (bytes) => decodeOrTypedError(bytes), {
    runs: 5000,
  });
});

Deno.test("decodeTerm() on mutated encodings of arbitrary terms decodes or throws EtfDecodeError", async () => {
  const input = fc.tuple(term, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean());
  await fuzz("etf: mutated arbitrary terms", input, ([t, at, value, cut]) => {
    const bytes = encodeTerm(t);
    if (bytes.length < 2) return "ok";
    const i = 1 + (at % (bytes.length - 1));
    if (cut) return decodeOrTypedError(bytes.subarray(0, i));
    bytes[i] = value;
    return decodeOrTypedError(bytes);
  }, { runs: 2000 });
});

Deno.test("decodeTerm() on random bytes after the version byte decodes or throws EtfDecodeError", async () => {
  const tags = fc.constantFrom(...Object.values(Tag));
  await fuzz(
    "etf: random bytes after a tag",
    fc.tuple(tags, fc.uint8Array({ maxLength: 64 })),
    ([tag, rest]) => decodeOrTypedError(new Uint8Array([131, tag, ...rest])),
    { runs: 5000 },
  );
});

Deno.test("decodeTerm() on mutated compressed OTP terms stays within a small maxBytes or throws EtfDecodeError", async () => {
  // The inflated size is declared in bytes 2..5 and the zlib stream follows: mutations there reach the
  // inflater (lib/etf/_inflate.ts) through the decoder, under a budget of 4 KiB.
  const maxBytes = 4096;
  await fuzz("etf: mutated compressed terms", mutated(compressedSeeds, 2), (bytes) => {
    const outcome = decodeOrTypedError(bytes, { maxBytes });
    if (outcome === "ok") {
      const size = new DataView(bytes.buffer, bytes.byteOffset).getUint32(2);
      assert.ok(size <= maxBytes, `inflated ${size} bytes past maxBytes ${maxBytes}: ${toHex(bytes)}`);
    }
    return outcome;
  }, { runs: 3000 });
});

Deno.test("decodeTermAt() on two mutated OTP vectors in a row decodes or throws EtfDecodeError", async () => {
  // As in a distribution packet: a control term and a message term back to back.
  await fuzz(
    "etf: mutated pairs (decodeTermAt)",
    fc.tuple(mutated(seeds, 1), fc.constantFrom(...seeds)),
    ([a, b]) => {
      const bytes = new Uint8Array([...a, ...b]);
      try {
        const first = decodeTermAt(bytes, 0);
        assert.ok(first.offset > 0 && first.offset <= bytes.length);
        if (first.offset < bytes.length) decodeTermAt(bytes, first.offset);
        return "ok";
      } catch (e) {
        if (e instanceof EtfDecodeError) return e.code;
        throw new Error(`Expected EtfDecodeError for ${toHex(bytes)}, got ${e}`, { cause: e });
      }
    },
    { runs: 2000 },
  );
});

Deno.test("decodeTerm() on well-compressed mutated terms (a valid zlib stream of hostile bytes) decodes or throws EtfDecodeError", async () => {
  // Mutating the zlib stream mostly fails its Adler-32 check: here the inflated bytes themselves are
  // hostile (a mutated OTP vector without its version byte), and the declared size is right or off.
  const { deflateSync } = await import("node:zlib");
  const input = fc.tuple(
    mutated(seeds.filter((b) => b[1] !== Tag.COMPRESSED), 1),
    fc.integer({ min: -2, max: 2 }),
  );
  await fuzz("etf: compressed hostile terms", input, ([term, sizeError]) => {
    const inner = term.subarray(1);
    const z = new Uint8Array(deflateSync(inner));
    const size = Math.max(0, inner.length + (sizeError === 0 || sizeError === 1 ? 0 : sizeError));
    const bytes = new Uint8Array(6 + z.length);
    bytes.set([131, Tag.COMPRESSED]);
    new DataView(bytes.buffer).setUint32(2, size);
    bytes.set(z, 6);
    return decodeOrTypedError(bytes, { maxBytes: 1 << 16 });
  }, { runs: 2000 });
});
