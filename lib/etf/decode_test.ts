import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { deflateSync } from "node:zlib";
import { decodeError, hex, toHex } from "./_test_util.ts";
import {
  Atom,
  atom,
  BitBinary,
  decodeTerm,
  decodeTermAt,
  encodeTerm,
  ErlFloat,
  ErlMap,
  type EtfDecodeError,
  ImproperList,
  LocalFun,
  Pid,
  Port,
  Ref,
  type Term,
  termEquals,
  Tuple,
  tuple,
} from "./mod.ts";

const d = (h: string) => decodeTerm(hex(h));
const A_AT_B = "64 0003 614062"; // ATOM_EXT 'a@b'

function assertTerm(actual: Term, want: Term): void {
  assert.ok(termEquals(actual, want), `got ${Deno.inspect(actual, { depth: 5 })}`);
}

function fails(
  h: string | Uint8Array,
  code: string,
  options?: Parameters<typeof decodeTerm>[1],
): EtfDecodeError {
  const bytes = typeof h === "string" ? hex(h) : h;
  const e = decodeError(() => decodeTerm(bytes, options));
  assert.equal(e.code, code, e.message);
  assert.equal(e.name, "EtfDecodeError");
  assert.match(e.message, /^Cannot decode (compressed )?term at (inflated )?byte \d+: [^]*[^.]$/);
  return e;
}

Deno.test("decodeTerm() decodes integers to numbers, and to bigints beyond 2^53", () => {
  assert.equal(d("83 61 ff"), 255);
  assert.equal(d("83 62 ffffffff"), -1);
  assert.equal(d("83 6e 07 00 ffffffffffff1f"), Number.MAX_SAFE_INTEGER);
  assert.equal(d("83 6e 07 00 00000000000020"), 2n ** 53n);
  assert.equal(d("83 6e 07 01 ffffffffffff1f"), -Number.MAX_SAFE_INTEGER);
  assert.equal(d("83 6e 07 00 00000000000020".replace("20", "21")), 2n ** 53n + 2n ** 48n);
  assert.equal(d("83 6e 08 01 0000000000000080"), -(2n ** 63n));
  assert.equal(d("83 6e 09 00 000000000000000001"), 2n ** 64n);
  assert.equal(d("83 6f 00000100 00" + "00".repeat(255) + "01"), 2n ** 2040n);
});

Deno.test("decodeTerm() accepts non-canonical bignums: leading zero digits, zero digits, negative zero", () => {
  assert.equal(d("83 6e 01 00 05"), 5);
  assert.equal(d("83 6e 00 00"), 0);
  assert.ok(Object.is(d("83 6e 02 01 0000"), 0));
  assert.equal(d("83 6e 10 00 01" + "00".repeat(15)), 1);
});

Deno.test("decodeTerm() rejects a truncated SMALL_BIG_EXT", () => {
  const e = fails("83 6e 08 00 010203", "TRUNCATED");
  assert.equal(e.offset, 3);
  assert.equal(e.tag, 110);
  assert.equal(
    e.message,
    "Cannot decode term at byte 3: SMALL_BIG_EXT needs a sign byte and 8 digit bytes, 4 remain",
  );
});

Deno.test("decodeTerm() rejects a bignum sign byte other than 0 or 1", () => {
  fails("83 6e 01 02 05", "INVALID");
});

Deno.test("decodeTerm() decodes NEW_FLOAT_EXT and FLOAT_EXT to ErlFloat", () => {
  assertTerm(d("83 46 3ff8000000000000"), new ErlFloat(1.5));
  const negZero = d("83 46 8000000000000000");
  assert.ok(negZero instanceof ErlFloat && Object.is(negZero.value, -0));
  const text = new TextEncoder().encode("1.50000000000000000000e+00");
  const old = new Uint8Array(33);
  old.set([131, 99]);
  old.set(text, 2);
  assertTerm(decodeTerm(old), new ErlFloat(1.5));
});

Deno.test("decodeTerm() rejects NaN and infinite NEW_FLOAT_EXT, and FLOAT_EXT that is not a number", () => {
  fails("83 46 7ff8000000000000", "INVALID");
  fails("83 46 7ff0000000000000", "INVALID");
  const bad = new Uint8Array(33);
  bad.set([131, 99, 0x6e, 0x61, 0x6e]); // "nan"
  fails(bad, "INVALID");
  const inf = new Uint8Array(33);
  inf.set([131, 99]);
  inf.set(new TextEncoder().encode("1.0e999"), 2);
  fails(inf, "INVALID");
});

Deno.test("decodeTerm() decodes all four atom tags, Latin-1 and UTF-8", () => {
  assertTerm(d("83 77 02 6f6b"), atom("ok"));
  assertTerm(d("83 76 0002 6f6b"), atom("ok"));
  assertTerm(d("83 64 0005 68e96c6c6f"), atom("héllo"));
  assertTerm(d("83 73 05 68e96c6c6f"), atom("héllo"));
  assertTerm(d("83 77 06 68c3a96c6c6f"), atom("héllo"));
  const t = d("83 77 04 74727565");
  assert.ok(t instanceof Atom && t.name === "true", "true decodes to an Atom, not a boolean");
});

Deno.test("decodeTerm() rejects invalid UTF-8 in atoms and atoms over 255 characters", () => {
  fails("83 77 02 c328", "INVALID");
  fails("83 76 0001 ff", "INVALID");
  fails("83 64 0100" + "61".repeat(256), "INVALID");
  fails("83 76 0100" + "61".repeat(256), "INVALID");
  fails("83 76 03fc" + "61".repeat(1020), "INVALID");
  fails("83 76 0200" + "c3a9".repeat(256), "INVALID");
  fails("83 76 0400" + "f09f9880".repeat(256), "INVALID");
  assertTerm(d("83 76 03fc" + "f09f9880".repeat(255)), atom("😀".repeat(255)));
});

Deno.test("decodeTerm() decodes STRING_EXT to a list of integers, not a JS string", () => {
  const t = d("83 6b 0003 616263");
  assert.deepEqual(t, [97, 98, 99]);
  assert.deepEqual(d("83 6b 0000"), []);
});

Deno.test("decodeTerm() joins a list whose tail is encoded as another list", () => {
  assertTerm(d("83 6c 00000001 7701 61 6c 00000001 7701 62 6a"), [atom("a"), atom("b")]);
  assertTerm(d("83 6c 00000001 6101 6b 0002 6162"), [1, 97, 98]);
  assertTerm(d("83 6c 00000000 6a"), []);
  assertTerm(d("83 6c 00000000 6102"), 2);
  assertTerm(d("83 6c 00000001 6101 6c 00000000 6102"), new ImproperList([1], 2));
});

Deno.test("decodeTerm() decodes improper lists", () => {
  const t = d("83 6c 00000002 7701 61 7701 62 7701 63");
  assert.ok(t instanceof ImproperList);
  assertTerm(t, new ImproperList([atom("a"), atom("b")], atom("c")));
});

Deno.test("decodeTerm() decodes tuples and maps", () => {
  const t = d("83 68 02 7702 6f6b 612a");
  assert.ok(t instanceof Tuple);
  assertTerm(t, tuple(atom("ok"), 42));
  const m = d("83 74 00000002 7701 62 6102 7701 61 6101");
  assert.ok(m instanceof ErlMap);
  assert.deepEqual(m.entries.map(([k]) => (k as Atom).name), ["b", "a"], "keeps the wire order");
});

Deno.test("decodeTerm() rejects a map that repeats a key", () => {
  const e = fails("83 74 00000002 7701 61 6101 7701 61 6102", "INVALID");
  assert.equal(e.offset, 11);
});

Deno.test("decodeTerm() decodes BIT_BINARY_EXT to BitBinary, and to Uint8Array with 8 bits", () => {
  assertTerm(d("83 4d 00000001 03 20"), new BitBinary(new Uint8Array([0x20]), 3));
  assertTerm(d("83 4d 00000001 03 3f"), new BitBinary(new Uint8Array([0x20]), 3)); // low bits cleared
  const whole = d("83 4d 00000002 08 0102");
  assert.ok(whole instanceof Uint8Array && !(whole instanceof BitBinary));
  assert.deepEqual(whole, new Uint8Array([1, 2]));
  assert.deepEqual(d("83 4d 00000000 08"), new Uint8Array());
});

Deno.test("decodeTerm() rejects BIT_BINARY_EXT with 0 or over 8 bits, or no bytes and under 8 bits", () => {
  fails("83 4d 00000001 00 20", "INVALID");
  fails("83 4d 00000001 09 20", "INVALID");
  fails("83 4d 00000000 03", "INVALID");
});

Deno.test("decodeTerm() copies binaries out of the input", () => {
  const input = hex("83 6d 00000002 0102");
  const b = decodeTerm(input) as Uint8Array;
  input[6] = 9;
  assert.deepEqual(b, new Uint8Array([1, 2]));
});

Deno.test("decodeTerm() decodes old and new pid, reference and port tags", () => {
  const node = atom("a@b");
  assertTerm(d(`83 67 ${A_AT_B} 00000055 00000001 03`), new Pid(node, 85, 1, 3));
  assertTerm(d(`83 58 ${A_AT_B} 00000055 00000001 00000103`), new Pid(node, 85, 1, 259));
  assertTerm(d(`83 65 ${A_AT_B} 00000009 02`), new Ref(node, 2, [9]));
  assertTerm(d(`83 72 0002 ${A_AT_B} 02 00000009 0000000a`), new Ref(node, 2, [9, 10]));
  assertTerm(
    d(`83 5a 0005 ${A_AT_B} 00000102 00000001 00000002 00000003 00000004 00000005`),
    new Ref(node, 258, [1, 2, 3, 4, 5]),
  );
  assertTerm(d(`83 66 ${A_AT_B} 00000007 02`), new Port(node, 7n, 2));
  assertTerm(d(`83 59 ${A_AT_B} 00000007 00000102`), new Port(node, 7n, 258));
  assertTerm(d(`83 78 ${A_AT_B} 0000000100000007 00000102`), new Port(node, 2n ** 32n + 7n, 258));
});

Deno.test("decodeTerm() rejects references with 0 or over 5 words, and nodes that are not atoms", () => {
  fails(`83 5a 0000 ${A_AT_B} 00000001`, "INVALID");
  fails(`83 5a 0006 ${A_AT_B} 00000001` + "00000001".repeat(6), "INVALID");
  fails("83 58 6a 00000001 00000000 00000000", "INVALID");
  fails("83 71 7701 6d 6101 6102", "INVALID"); // EXPORT_EXT function is an integer
  fails("83 71 7701 6d 7701 66 6201000000", "INVALID"); // EXPORT_EXT arity is not SMALL_INTEGER_EXT
});

Deno.test("decodeTerm() checks NEW_FUN_EXT sizes and fields", () => {
  const fun = decodeTerm(encodeTerm(new LocalFun(atom("m"), 1, makeFunRaw(1, []))));
  assert.ok(fun instanceof LocalFun);
  assert.equal(fun.module.name, "m");
  assert.equal(fun.arity, 1);
  // Size that disagrees with the fields.
  const raw = makeFunRaw(1, []);
  const bigger = new Uint8Array(raw.length + 1);
  bigger.set(raw);
  new DataView(bigger.buffer).setUint32(0, bigger.length);
  fails(new Uint8Array([131, 112, ...bigger]), "INVALID");
  // Too small to hold the header, and larger than the input.
  fails("83 70 00000010" + "00".repeat(12), "INVALID");
  fails("83 70 00001000" + "00".repeat(40), "TRUNCATED");
  // Free variables are decoded.
  const withFree = decodeTerm(encodeTerm(new LocalFun(atom("m"), 0, makeFunRaw(0, [hex("7701 78")]))));
  assert.ok(withFree instanceof LocalFun);
  const lying = makeFunRaw(0, [hex("7701 78")]);
  new DataView(lying.buffer).setUint32(25, 1000);
  fails(new Uint8Array([131, 112, ...lying]), "INVALID");
});

/** A NEW_FUN_EXT body for module m with the given encoded free variables. */
function makeFunRaw(arity: number, free: Uint8Array[]): Uint8Array {
  const tail = [
    ...hex("7701 6d"), // module m
    ...hex("6100"), // old index
    ...hex("6200000001"), // old uniq
    ...hex(`58 ${A_AT_B} 00000001 00000000 00000001`), // pid
    ...free.flatMap((f) => [...f]),
  ];
  const raw = new Uint8Array(29 + tail.length);
  const v = new DataView(raw.buffer);
  v.setUint32(0, raw.length);
  raw[4] = arity;
  raw.fill(0xab, 5, 21); // uniq
  v.setUint32(21, 0); // index
  v.setUint32(25, free.length);
  raw.set(tail, 29);
  return raw;
}

Deno.test("decodeTerm() rejects LOCAL_EXT, ATOM_CACHE_REF and FUN_EXT as UNSUPPORTED_TAG", () => {
  assert.equal(fails("83 79 00", "UNSUPPORTED_TAG").tag, 121);
  assert.equal(fails("83 52 00", "UNSUPPORTED_TAG").tag, 82);
  assert.equal(fails("83 75 00000000", "UNSUPPORTED_TAG").tag, 117);
});

Deno.test("decodeTerm() rejects unknown tags with UNKNOWN_TAG and names the tag", () => {
  const e = fails("83 68 01 01", "UNKNOWN_TAG");
  assert.equal(e.tag, 1);
  assert.equal(e.offset, 3);
  assert.equal(e.message, "Cannot decode term at byte 3: unknown tag 1");
  fails("83 ff", "UNKNOWN_TAG");
  fails("83 44", "UNKNOWN_TAG"); // 68 is a dist header byte, never a term tag
});

Deno.test("decodeTerm() rejects a missing or wrong version byte", () => {
  fails(new Uint8Array(), "TRUNCATED");
  const e = fails("82 6a", "BAD_VERSION");
  assert.equal(e.offset, 0);
  fails("83", "TRUNCATED");
});

Deno.test("decodeTerm() rejects trailing bytes with TRAILING at the first extra byte", () => {
  const e = fails("83 6a 00 00", "TRAILING");
  assert.equal(e.offset, 2);
});

Deno.test("decodeTermAt() reads consecutive terms and returns the offset after each", () => {
  const bytes = new Uint8Array([0xff, ...encodeTerm(tuple(2, atom("x"))), ...encodeTerm("hi")]);
  const first = decodeTermAt(bytes, 1);
  assertTerm(first.term, tuple(2, atom("x")));
  const second = decodeTermAt(bytes, first.offset);
  assertTerm(second.term, "hi");
  assert.equal(second.offset, bytes.length);
  assert.throws(() => decodeTermAt(bytes, bytes.length + 1), RangeError);
  assert.equal(decodeError(() => decodeTermAt(bytes, bytes.length)).code, "TRUNCATED");
  assert.equal(decodeError(() => decodeTermAt(bytes, 0)).code, "BAD_VERSION");
});

Deno.test("decodeTerm() returns plain Uint8Array copies even from a Node Buffer or a compressed term", () => {
  const input = Buffer.from(encodeTerm([new Uint8Array(2000).fill(1), new Uint8Array([5])]));
  const [big, small] = decodeTerm(input) as Uint8Array[];
  input.fill(0);
  assert.equal(big.constructor, Uint8Array);
  assert.equal(small.constructor, Uint8Array);
  assert.equal(big[0], 1);
  assert.equal(small[0], 5);
  const fromZ = decodeTerm(compressed(new Uint8Array(3000).fill(2)));
  assert.equal(fromZ.constructor, Uint8Array);
});

Deno.test("decodeTerm() works on a Uint8Array view into a larger buffer", () => {
  const buf = new Uint8Array([9, 9, 9, ...encodeTerm(tuple(300, 1.5)), 9]);
  assertTerm(decodeTerm(buf.subarray(3, buf.length - 1)), tuple(300, new ErlFloat(1.5)));
});

function compressed(term: Term, declared?: number): Uint8Array {
  const body = encodeTerm(term).subarray(1);
  const z = deflateSync(body);
  const out = new Uint8Array(6 + z.length);
  out.set([131, 80]);
  new DataView(out.buffer).setUint32(2, declared ?? body.length);
  out.set(z, 6);
  return out;
}

Deno.test("decodeTerm() inflates compressed terms synchronously", () => {
  const term = tuple(atom("ok"), "x".repeat(1000), new Uint8Array(500));
  assertTerm(decodeTerm(compressed(term)), term);
});

Deno.test("decodeTermAt() returns the offset after a compressed term's zlib stream", () => {
  const bytes = new Uint8Array([...compressed([1, 2, 3]), ...encodeTerm(atom("next"))]);
  const first = decodeTermAt(bytes, 0);
  assertTerm(first.term, [1, 2, 3]);
  assertTerm(decodeTermAt(bytes, first.offset).term, atom("next"));
  fails(bytes, "TRAILING");
});

Deno.test("decodeTerm() rejects a compressed term whose declared size is wrong", () => {
  const term = "abc".repeat(100);
  const size = encodeTerm(term).length - 1;
  fails(compressed(term, size + 1), "INVALID");
  fails(compressed(term, size - 1), "INVALID");
  fails(compressed(term, 0), "INVALID");
  fails(compressed(term, 0xffffffff), "TOO_LARGE");
  fails(compressed(term, size), "TOO_LARGE", { maxBytes: size - 1 });
});

Deno.test("decodeTerm() rejects a compressed term with a corrupt zlib stream or bad inflated data", () => {
  const bytes = compressed("abc".repeat(100));
  bytes[bytes.length - 1] ^= 0xff; // adler32 checksum
  fails(bytes, "INVALID");
  fails("83 50 00000005 0102030405", "INVALID");
  // The inflated data holds a bad term: the offset counts in the inflated data.
  const z = deflateSync(hex("68 02 61 01 01"));
  const e = fails(new Uint8Array([131, 80, 0, 0, 0, 5, ...z]), "UNKNOWN_TAG");
  assert.equal(e.offset, 4);
  assert.match(e.message, /^Cannot decode compressed term at inflated byte 4: unknown tag 1$/);
  // A compressed tag inside a term is refused.
  fails("83 68 01 50 00000001", "INVALID");
  // Inflated data that holds more than one term.
  const two = deflateSync(hex("6a 6a"));
  fails(new Uint8Array([131, 80, 0, 0, 0, 2, ...two]), "INVALID");
});

Deno.test("decodeTerm() rejects nesting beyond maxDepth with TOO_DEEP", () => {
  const nested = (n: number) => new Uint8Array([131, ...new Array(n).fill([104, 1]).flat(), 106]);
  assert.doesNotThrow(() => decodeTerm(nested(512)));
  fails(nested(513), "TOO_DEEP");
  fails(nested(11), "TOO_DEEP", { maxDepth: 10 });
  assert.doesNotThrow(() => decodeTerm(nested(10), { maxDepth: 10 }));
  const e = fails(nested(100_000), "TOO_DEEP");
  assert.equal(e.offset, 1 + 2 * 512);
  // Lists and maps count too.
  const lists = new Uint8Array([
    131,
    ...new Array(600).fill([108, 0, 0, 0, 1]).flat(),
    106,
    ...new Array(600).fill(106),
  ]);
  fails(lists, "TOO_DEEP");
  const maps = new Uint8Array([131, ...new Array(600).fill([116, 0, 0, 0, 1, 106]).flat(), 106]);
  fails(maps, "TOO_DEEP");
  const tails = new Uint8Array([131, ...new Array(600).fill([108, 0, 0, 0, 1, 104, 1]).flat(), 97, 0]);
  fails(tails, "TOO_DEEP");
});

Deno.test("decodeTerm() joins list-encoded tails in a loop, so a long tail chain is not deep", () => {
  const chain = new Uint8Array([131, ...new Array(100_000).fill([108, 0, 0, 0, 1, 106]).flat(), 97, 0]);
  const t = decodeTerm(chain);
  assert.ok(t instanceof ImproperList);
  assert.equal(t.elements.length, 100_000);
  assert.equal(t.tail, 0);
});

Deno.test("decodeTerm() maps a JS stack overflow from a huge maxDepth to TOO_DEEP", () => {
  const n = 1_000_000;
  const bytes = new Uint8Array(2 * n + 2);
  bytes[0] = 131;
  for (let i = 0; i < n; i++) bytes.set([104, 1], 1 + 2 * i);
  bytes[2 * n + 1] = 106;
  fails(bytes, "TOO_DEEP", { maxDepth: Number.MAX_SAFE_INTEGER });
});

Deno.test("decodeTerm() fails fast on huge claimed lengths without allocating", () => {
  const cases: [string, string][] = [
    ["83 6c ffffffff 6a6a6a6a6a6a6a6a6a6a", "TRUNCATED"],
    ["83 6d ffffffff 0102", "TRUNCATED"],
    ["83 4d ffffffff 08 0102", "TRUNCATED"],
    ["83 69 ffffffff 6a6a", "TRUNCATED"],
    ["83 74 ffffffff 6a6a6a", "TRUNCATED"],
    ["83 6f ffffffff 00 0102", "TRUNCATED"],
    ["83 6b ffff 6162", "TRUNCATED"],
    ["83 76 ffff 6162", "TRUNCATED"],
    ["83 70 ffffffff 00", "TRUNCATED"],
    ["83 50 ffffffff 789c", "TOO_LARGE"],
  ];
  for (const [h, code] of cases) {
    const t0 = performance.now();
    fails(h, code);
    assert.ok(performance.now() - t0 < 50, `${h} took too long`);
  }
});

Deno.test("decodeTerm() enforces maxBytes on binaries, strings, lists, tuples, maps and bignums", () => {
  const opts = { maxBytes: 100 };
  assert.doesNotThrow(() => decodeTerm(encodeTerm(new Uint8Array(100)), opts));
  fails(encodeTerm(new Uint8Array(101)), "TOO_LARGE", opts);
  fails(encodeTerm("x".repeat(101)), "TOO_LARGE", opts);
  fails(encodeTerm(new Array(101).fill(atom("a"))), "TOO_LARGE", opts);
  fails(encodeTerm(new Tuple(new Array(101).fill(0))), "TOO_LARGE", opts);
  fails(
    encodeTerm(new ErlMap(Array.from({ length: 51 }, (_, i) => [i, 0] as [Term, Term]))),
    "TOO_LARGE",
    opts,
  );
  fails(encodeTerm(2n ** 1000n), "TOO_LARGE", opts);
  // The budget is shared by the whole term.
  fails(encodeTerm([new Uint8Array(60), new Uint8Array(60)]), "TOO_LARGE", opts);
  fails(encodeTerm(new Uint8Array(64 * 1024 * 1024 + 1)), "TOO_LARGE");
});

Deno.test("decodeTerm() gives BitBinary and Uint8Array results that re-encode to the same bytes", () => {
  for (const h of ["83 4d 00000001 03 20", "83 6d 00000000", "83 6b 0002 0102"]) {
    assert.equal(toHex(encodeTerm(d(h))), h.replaceAll(" ", ""));
  }
});
