// Known-good vectors: real term_to_binary output from OTP, written by tools/gen_etf_vectors.escript.
import assert from "node:assert/strict";
import { decodeError, hex, toHex } from "./_test_util.ts";
import {
  Atom,
  BitBinary,
  decodeTerm,
  encodeTerm,
  ErlFloat,
  ErlMap,
  EtfDecodeError,
  ExportFun,
  ImproperList,
  LocalFun,
  Pid,
  Port,
  Ref,
  type Term,
  termEquals,
  Tuple,
} from "./mod.ts";

interface Vector {
  name: string;
  source: string;
  expect: Tagged;
  default: string;
  v2?: string;
  v0?: string;
  z?: string;
}
// deno-lint-ignore no-explicit-any
type Tagged = Record<string, any>;

const file = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/etf/vectors.json", import.meta.url)),
) as { otp_release: string; node: string; creation: number; cases: Vector[] };

const utf8 = new TextDecoder();
const atomOf = (h: string) => new Atom(utf8.decode(hex(h)));

/** The Term a tagged JSON value stands for (see enc/1 in the escript). */
function expected(t: Tagged): Term {
  if ("int" in t) {
    const x = BigInt(t.int);
    return x >= -BigInt(Number.MAX_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
  }
  if ("float" in t) return new ErlFloat(new DataView(hex(t.float).buffer).getFloat64(0));
  if ("atom" in t) return atomOf(t.atom);
  if ("bin" in t) return hex(t.bin);
  if ("bits" in t) return new BitBinary(hex(t.bits), t.n);
  if ("list" in t) return t.list.map(expected);
  if ("ilist" in t) return new ImproperList(t.ilist.map(expected), expected(t.tail));
  if ("tuple" in t) return new Tuple(t.tuple.map(expected));
  if ("map" in t) return new ErlMap(t.map.map(([k, v]: Tagged[]) => [expected(k), expected(v)]));
  if ("pid" in t) {
    // pid_to_list: <0.Id.Serial>
    const [, id, serial] = t.pid.text.match(/^<\d+\.(\d+)\.(\d+)>$/)!;
    return new Pid(atomOf(t.pid.node), Number(id), Number(serial), t.pid.creation);
  }
  if ("ref" in t) {
    // ref_to_list prints the words from the last to the first: #Ref<0.W2.W1.W0>
    const words = t.ref.text.slice(5, -1).split(".").slice(1).map(Number).reverse();
    return new Ref(atomOf(t.ref.node), t.ref.creation, words);
  }
  if ("port" in t) {
    const [, id] = t.port.text.match(/^#Port<\d+\.(\d+)>$/)!;
    return new Port(atomOf(t.port.node), BigInt(id), t.port.creation);
  }
  if ("xfun" in t) return new ExportFun(atomOf(t.xfun.module), atomOf(t.xfun.function), t.xfun.arity);
  throw new Error(`Unknown tagged value ${JSON.stringify(t)}`);
}

function assertMatches(actual: Term, v: Vector, variant: string): void {
  const what = `${v.name} (${v.source}) ${variant}`;
  if ("lfun" in v.expect) {
    assert.ok(actual instanceof LocalFun, what);
    assert.equal(actual.module.name, atomOf(v.expect.lfun.module).name, what);
    assert.equal(actual.arity, v.expect.lfun.arity, what);
    return;
  }
  assert.ok(
    termEquals(actual, expected(v.expect)),
    `${what} decoded to ${Deno.inspect(actual, { depth: 4 })}`,
  );
}

const variants = (v: Vector) =>
  (["default", "v2", "v0", "z"] as const).filter((k) => v[k] !== undefined).map((k) => [k, v[k]!] as const);

Deno.test(`vectors.json holds real term_to_binary output (OTP ${file.otp_release}, ${file.cases.length} cases)`, () => {
  assert.ok(file.cases.length >= 60);
  // Every outer tag the brief asks for appears right after the version byte somewhere.
  const outer = new Set(file.cases.flatMap((v) => variants(v).map(([, h]) => parseInt(h.slice(2, 4), 16))));
  for (
    const tag of [
      70,
      77,
      80,
      88,
      89,
      90,
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
      113,
      116,
      118,
      119,
    ]
  ) {
    assert.ok(outer.has(tag), `no vector starts with tag ${tag}`);
  }
});

Deno.test("decodeTerm() decodes every OTP vector, in every variant, to the term it came from", () => {
  for (const v of file.cases) {
    for (const [variant, h] of variants(v)) assertMatches(decodeTerm(hex(h)), v, variant);
  }
});

Deno.test("decodeTerm() gives local pids, refs and ports the generating node's name and creation", () => {
  for (const name of ["pid_self", "ref_make_ref", "port_first"]) {
    const t = decodeTerm(hex(file.cases.find((v) => v.name === name)!.default)) as Pid | Ref | Port;
    assert.equal(t.node.name, file.node);
    assert.equal(t.creation, file.creation);
  }
});

Deno.test("encodeTerm() reproduces the exact minor_version 2 bytes of every decoded vector", () => {
  for (const v of file.cases) {
    const canonical = v.v2 ?? v.default;
    assert.equal(toHex(encodeTerm(decodeTerm(hex(canonical)))), canonical, `${v.name} (${v.source})`);
    // The older forms (ATOM_EXT, FLOAT_EXT, compressed) also re-encode to the canonical bytes.
    for (const [variant, h] of variants(v)) {
      if (v.expect.lfun !== undefined) continue; // raw bytes keep the atom tags they arrived with
      assert.equal(toHex(encodeTerm(decodeTerm(hex(h)))), canonical, `${v.name} ${variant}`);
    }
  }
});

Deno.test("decodeTerm() rejects every vector truncated at every length with TRUNCATED", () => {
  for (const v of file.cases) {
    for (const [variant, h] of variants(v)) {
      const bytes = hex(h);
      for (let n = 0; n < bytes.length; n++) {
        const e = decodeError(() => decodeTerm(bytes.subarray(0, n)));
        if (variant === "z" && n > 6) {
          // Inside the zlib stream a cut shows as an early end, or as a checksum or size mismatch.
          assert.ok(e.code === "TRUNCATED" || e.code === "INVALID", `${v.name} z at ${n}: ${e.message}`);
        } else {
          assert.equal(e.code, "TRUNCATED", `${v.name} ${variant} at ${n}: ${e.message}`);
        }
      }
    }
  }
});

Deno.test("decodeTerm() rejects every vector with a trailing byte with TRAILING", () => {
  for (const v of file.cases) {
    for (const [variant, h] of variants(v)) {
      const bytes = hex(h + "00");
      const e = decodeError(() => decodeTerm(bytes));
      assert.equal(e.code, "TRAILING", `${v.name} ${variant}`);
      assert.equal(e.offset, bytes.length - 1);
      assert.ok(e instanceof EtfDecodeError);
    }
  }
});
