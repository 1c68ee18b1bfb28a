// Property tests: round trips of arbitrary terms, and hostile (mutated or random) input.
import assert from "node:assert/strict";
import fc from "fast-check";
import { hex, term, toHex } from "./_test_util.ts";
import { decodeTerm, decodeTermAt, encodeTerm, EtfDecodeError, type Term, termEquals } from "./mod.ts";

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

/** Decodes hostile bytes: it either succeeds (and the result re-encodes) or throws EtfDecodeError. */
function decodeOrTypedError(bytes: Uint8Array): void {
  let t: Term;
  try {
    t = decodeTerm(bytes);
  } catch (e) {
    if (e instanceof EtfDecodeError) return;
    throw new Error(`Expected EtfDecodeError for ${toHex(bytes)}, got ${e}`, { cause: e });
  }
  // Whatever decodes is a valid term: it encodes, and decodes again to itself.
  assert.ok(termEquals(decodeTerm(encodeTerm(t)), t), `unstable: ${toHex(bytes)}`);
}

const file = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/etf/vectors.json", import.meta.url)),
) as { cases: Record<string, string>[] };
const seeds = file.cases.flatMap((c) =>
  ["default", "v2", "v0", "z"].filter((k) => c[k]).map((k) => hex(c[k]))
)
  .filter((b) => b.length < 2000);

Deno.test("decodeTerm() on mutated OTP vectors decodes or throws EtfDecodeError", () => {
  const mutation = fc.tuple(
    fc.constantFrom(...seeds),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
  );
  fc.assert(
    fc.property(mutation, ([seed, edits]) => {
      const bytes = seed.slice();
      for (const [at, value] of edits) bytes[1 + (at % (bytes.length - 1))] = value;
      decodeOrTypedError(bytes);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("decodeTerm() on mutated encodings of arbitrary terms decodes or throws EtfDecodeError", () => {
  fc.assert(
    fc.property(term, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (t, at, value, cut) => {
      const bytes = encodeTerm(t);
      if (bytes.length < 2) return;
      const i = 1 + (at % (bytes.length - 1));
      if (cut) decodeOrTypedError(bytes.subarray(0, i));
      else {
        bytes[i] = value;
        decodeOrTypedError(bytes);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decodeTerm() on random bytes after the version byte decodes or throws EtfDecodeError", () => {
  const interesting = fc.constantFrom(
    80,
    97,
    98,
    99,
    100,
    104,
    105,
    106,
    107,
    108,
    109,
    110,
    111,
    112,
    116,
    119,
  );
  fc.assert(
    fc.property(interesting, fc.uint8Array({ maxLength: 64 }), (tag, rest) => {
      decodeOrTypedError(new Uint8Array([131, tag, ...rest]));
    }),
    { numRuns: 5000 },
  );
});
