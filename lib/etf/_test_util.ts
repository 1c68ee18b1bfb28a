// Helpers shared by the ETF tests.
import fc from "fast-check";
import { encodeTerm } from "./encode.ts";
import { EtfDecodeError } from "./errors.ts";
import {
  atom,
  BitBinary,
  ErlFloat,
  ErlMap,
  ExportFun,
  ImproperList,
  Pid,
  Port,
  Ref,
  type Term,
  Tuple,
} from "./term.ts";

/** Bytes from a hex string (spaces allowed). */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Lower-case hex of bytes. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Runs `fn`, which must throw an EtfDecodeError, and returns it. */
export function decodeError(fn: () => unknown): EtfDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof EtfDecodeError) return e;
    throw new Error(`Expected an EtfDecodeError, got ${e}`, { cause: e });
  }
  throw new Error("Expected an EtfDecodeError, nothing was thrown");
}

/** True when an `erl` executable is on PATH. */
export function hasProgram(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

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
  fc.tuple(nodes, u32, fc.array(u32, { minLength: 1, maxLength: 5 })).map(([n, c, ids]) =>
    new Ref(n, c, ids)
  ),
  fc.tuple(nodes, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), u32).map(([n, id, c]) => new Port(n, id, c)),
  fc.tuple(atoms, atoms, fc.integer({ min: 0, max: 255 })).map(([m, f, a]) => new ExportFun(m, f, a)),
);

/** A tail that does not make the list proper or longer: no list, no string. */
const tailLeaf = leaf.filter((t) => typeof t !== "string");

/** Arbitrary terms of bounded depth; map keys are distinct. */
export const { term } = fc.letrec<{ term: Term; node: Term }>((tie) => ({
  term: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("node")),
  node: fc.oneof(
    fc.array(tie("term"), { maxLength: 6 }),
    fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }),
    fc.array(tie("term"), { maxLength: 6 }).map((e) => new Tuple(e)),
    fc.tuple(
      fc.array(tie("term"), { minLength: 1, maxLength: 4 }),
      fc.oneof(tailLeaf, tie("term").map((t) => new Tuple([t]))),
    )
      .map(([e, t]) => new ImproperList(e, t)),
    fc.uniqueArray(fc.tuple(tie("term"), tie("term")), {
      maxLength: 5,
      selector: ([k]) => toHex(encodeTerm(k)),
    }).map((entries) => new ErlMap(entries)),
  ),
}));
