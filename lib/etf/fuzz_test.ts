// Property tests: round trips of arbitrary terms, and hostile (mutated or random) input.
import assert from "node:assert/strict";
import fc from "fast-check";
import { hex, toHex } from "./_test_util.ts";
import {
  atom,
  BitBinary,
  decodeTerm,
  decodeTermAt,
  encodeTerm,
  ErlFloat,
  ErlMap,
  EtfDecodeError,
  ExportFun,
  ImproperList,
  Pid,
  Port,
  Ref,
  type Term,
  termEquals,
  Tuple,
} from "./mod.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });

const atomName = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 40 }).filter((s) => [...s].length <= 255 && s.isWellFormed()),
  fc.constantFrom("ok", "true", "false", "", "a".repeat(255), "é".repeat(255), "😀".repeat(255)),
);
const atoms = atomName.map(atom);
const nodes = fc.constantFrom("a@b", "erlmesh_1@host.example", "nonode@nohost").map(atom);

const integers: fc.Arbitrary<Term> = fc.oneof(
  fc.integer({ min: -300, max: 300 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.bigInt({ min: -(2n ** 2100n), max: 2n ** 2100n }),
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53, 255, 256, -1, 0),
);

const leaf: fc.Arbitrary<Term> = fc.oneof(
  integers,
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => new ErlFloat(x)),
  atoms,
  fc.boolean(),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 10 }),
  fc.uint8Array({ maxLength: 40 }),
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 7 }))
    .map(([b, bits]) => {
      const bytes = b.slice();
      bytes[bytes.length - 1] &= (0xff00 >> bits) & 0xff;
      return new BitBinary(bytes, bits);
    }),
  fc.tuple(nodes, u32, u32, u32).map(([n, id, serial, creation]) => new Pid(n, id, serial, creation)),
  fc.tuple(nodes, u32, fc.array(u32, { minLength: 1, maxLength: 5 })).map(([n, c, ids]) => new Ref(n, c, ids)),
  fc.tuple(nodes, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), u32).map(([n, id, c]) => new Port(n, id, c)),
  fc.tuple(atoms, atoms, fc.integer({ min: 0, max: 255 })).map(([m, f, a]) => new ExportFun(m, f, a)),
);

/** A tail that does not make the list proper or longer: no list, no string. */
const tailLeaf = leaf.filter((t) => typeof t !== "string");

const { term } = fc.letrec<{ term: Term; node: Term }>((tie) => ({
  term: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("node")),
  node: fc.oneof(
    fc.array(tie("term"), { maxLength: 6 }),
    fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }),
    fc.array(tie("term"), { maxLength: 6 }).map((e) => new Tuple(e)),
    fc.tuple(fc.array(tie("term"), { minLength: 1, maxLength: 4 }), fc.oneof(tailLeaf, tie("term").map((t) => new Tuple([t]))))
      .map(([e, t]) => new ImproperList(e, t)),
    fc.uniqueArray(fc.tuple(tie("term"), tie("term")), {
      maxLength: 5,
      selector: ([k]) => toHex(encodeTerm(k)),
    }).map((entries) => new ErlMap(entries)),
  ),
}));

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
const seeds = file.cases.flatMap((c) => ["default", "v2", "v0", "z"].filter((k) => c[k]).map((k) => hex(c[k])))
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
  const interesting = fc.constantFrom(80, 97, 98, 99, 100, 104, 105, 106, 107, 108, 109, 110, 111, 112, 116, 119);
  fc.assert(
    fc.property(interesting, fc.uint8Array({ maxLength: 64 }), (tag, rest) => {
      decodeOrTypedError(new Uint8Array([131, tag, ...rest]));
    }),
    { numRuns: 5000 },
  );
});
