import assert from "node:assert/strict";
import { ByteWriter } from "../bytes/writer.ts";
import { hex, toHex } from "./_test_util.ts";
import {
  type Atom,
  atom,
  BitBinary,
  encodeTerm,
  encodeTermInto,
  ErlFloat,
  ErlMap,
  EtfEncodeError,
  ExportFun,
  ImproperList,
  LocalFun,
  Pid,
  Port,
  Ref,
  type Term,
  tuple,
} from "./mod.ts";

function enc(t: Term): string {
  return toHex(encodeTerm(t));
}

function encodeError(t: unknown, code: string): EtfEncodeError {
  try {
    encodeTerm(t as Term);
  } catch (e) {
    assert.ok(e instanceof EtfEncodeError, `expected EtfEncodeError, got ${e}`);
    assert.equal(e.name, "EtfEncodeError");
    assert.equal(e.code, code);
    assert.match(e.message, /^[A-Z][^]*[^.]$/);
    return e;
  }
  throw new Error("expected an EtfEncodeError");
}

Deno.test("encodeTerm() writes integers with the smallest tag", () => {
  assert.equal(enc(0), "836100");
  assert.equal(enc(255), "8361ff");
  assert.equal(enc(256), "836200000100");
  assert.equal(enc(-1), "8362ffffffff");
  assert.equal(enc(2147483647), "83627fffffff");
  assert.equal(enc(-2147483648), "836280000000");
  assert.equal(enc(2147483648), "836e040000000080");
  assert.equal(enc(-2147483649), "836e040101000080");
  assert.equal(enc(2 ** 53), "836e070000000000000020");
  assert.equal(enc(Number.MAX_SAFE_INTEGER), "836e0700ffffffffffff1f");
  assert.equal(enc(-0), "836100");
});

Deno.test("encodeTerm() writes bigints by value, SMALL_BIG_EXT up to 255 digit bytes then LARGE_BIG_EXT", () => {
  assert.equal(enc(7n), "836107");
  assert.equal(enc(-7n), "8362fffffff9");
  assert.equal(enc(2n ** 64n - 1n), "836e0800ffffffffffffffff");
  assert.equal(enc(-(2n ** 64n)), "836e09010000000000000000" + "01");
  assert.equal(enc(2n ** 2040n - 1n), "836eff00" + "ff".repeat(255));
  assert.equal(enc(2n ** 2040n), "836f0000010000" + "00".repeat(255) + "01");
  assert.equal(enc(-(2n ** 2040n)), "836f0000010001" + "00".repeat(255) + "01");
});

Deno.test("encodeTerm() writes an integral number beyond 2^53 as the exact bignum", () => {
  assert.equal(enc(1e20), enc(100000000000000000000n));
  assert.equal(enc(-(2 ** 64)), enc(-(2n ** 64n)));
});

Deno.test("encodeTerm() writes non-integral numbers and ErlFloat as NEW_FLOAT_EXT", () => {
  assert.equal(enc(1.5), "83463ff8000000000000");
  assert.equal(enc(new ErlFloat(1)), "83463ff0000000000000");
  assert.equal(enc(new ErlFloat(-0)), "83468000000000000000");
  assert.equal(enc(new ErlFloat(1e300)), "83467e37e43c8800759c");
});

Deno.test("encodeTerm() rejects NaN and infinite floats with BAD_FLOAT", () => {
  encodeError(NaN, "BAD_FLOAT");
  encodeError(Infinity, "BAD_FLOAT");
  encodeError(new ErlFloat(-Infinity), "BAD_FLOAT");
  encodeError(new ErlFloat(NaN), "BAD_FLOAT");
});

Deno.test("encodeTerm() writes atoms as SMALL_ATOM_UTF8_EXT, ATOM_UTF8_EXT over 255 bytes", () => {
  assert.equal(enc(atom("ok")), "8377026f6b");
  assert.equal(enc(atom("")), "837700");
  assert.equal(enc(atom("héllo")), "83770668c3a96c6c6f");
  assert.equal(enc(atom("a".repeat(255))), "8377ff" + "61".repeat(255));
  assert.equal(enc(atom("😀".repeat(255))), "837603fc" + "f09f9880".repeat(255));
  assert.equal(enc(true), "837704" + "74727565");
  assert.equal(enc(false), "837705" + "66616c7365");
});

Deno.test("encodeTerm() rejects atoms over 255 characters and lone surrogates", () => {
  encodeError(atom("a".repeat(256)), "ATOM_TOO_LONG");
  encodeError(atom("é".repeat(256)), "ATOM_TOO_LONG");
  encodeError(atom("\ud800"), "INVALID");
});

Deno.test("encodeTerm() writes JS strings as STRING_EXT when they fit, else as a LIST_EXT of code points", () => {
  assert.equal(enc(""), "836a");
  assert.equal(enc("abc"), "836b0003616263");
  assert.equal(enc("é"), "836b0001e9");
  assert.equal(enc("a☃"), "836c00000002616162000026036a");
  assert.equal(enc("😀"), "836c0000000162" + "0001f600" + "6a");
  assert.equal(toHex(encodeTerm("x".repeat(65535))).slice(0, 10), "836bffff78");
  const long = encodeTerm("x".repeat(65536));
  assert.equal(toHex(long.subarray(0, 8)), "836c000100006178");
  assert.equal(long.length, 1 + 5 + 2 * 65536 + 1);
});

Deno.test("encodeTerm() writes arrays of 0..255 integers as STRING_EXT like term_to_binary", () => {
  assert.equal(enc([]), "836a");
  assert.equal(enc([1, 2, 3]), "836b0003010203");
  assert.equal(enc([0, 255n]), "836b000200ff");
  assert.equal(enc([1, 256]), "836c00000002610162000001006a");
  assert.equal(enc([1, 1.5]), "836c000000026101463ff80000000000006a");
  assert.equal(enc([atom("a"), []]), "836c000000027701616a6a");
});

Deno.test("encodeTerm() writes improper lists with their tail", () => {
  assert.equal(enc(new ImproperList([1], 2)), "836c0000000161016102");
  assert.equal(
    enc(new ImproperList([atom("a"), atom("b")], atom("c"))),
    "836c00000002770161770162770163",
  );
});

Deno.test("encodeTerm() writes SMALL_TUPLE_EXT up to 255 elements, LARGE_TUPLE_EXT beyond", () => {
  assert.equal(enc(tuple()), "836800");
  assert.equal(enc(tuple(atom("ok"), 1)), "836802" + "77026f6b" + "6101");
  const big = encodeTerm(tuple(...Array.from({ length: 256 }, () => 0)));
  assert.equal(toHex(big.subarray(0, 6)), "836900000100");
  const max = encodeTerm(tuple(...Array.from({ length: 255 }, () => 0)));
  assert.equal(toHex(max.subarray(0, 3)), "8368ff");
});

Deno.test("encodeTerm() writes maps in entry order", () => {
  assert.equal(enc(new ErlMap([])), "837400000000");
  assert.equal(enc(new ErlMap([[atom("b"), 2], [atom("a"), 1]])), "83740000000277016261027701616101");
});

Deno.test("encodeTerm() writes binaries and bitstrings", () => {
  assert.equal(enc(new Uint8Array()), "836d00000000");
  assert.equal(enc(new Uint8Array([1, 2, 3])), "836d00000003010203");
  assert.equal(enc(new BitBinary(new Uint8Array([0x20]), 3)), "834d000000010320");
  // The unused low bits are cleared; 8 bits make a plain binary.
  assert.equal(enc(new BitBinary(new Uint8Array([0xff, 0xff]), 5)), "834d0000000205fff8");
  assert.equal(enc(new BitBinary(new Uint8Array([9]), 8)), "836d0000000109");
});

Deno.test("encodeTerm() rejects bitstrings with a bad bit count", () => {
  encodeError(new BitBinary(new Uint8Array([1]), 0), "INVALID");
  encodeError(new BitBinary(new Uint8Array([1]), 9), "INVALID");
  encodeError(new BitBinary(new Uint8Array([]), 3), "INVALID");
});

Deno.test("encodeTerm() writes pids, refs and ports in the OTP 23+ forms", () => {
  const node = atom("a@b");
  assert.equal(enc(new Pid(node, 85, 0, 7)), "8358" + "7703614062" + "00000055" + "00000000" + "00000007");
  assert.equal(
    enc(new Ref(node, 7, [1, 2, 3])),
    "835a0003" + "7703614062" + "00000007" + "00000001" + "00000002" + "00000003",
  );
  assert.equal(enc(new Port(node, 5n, 7)), "8359" + "7703614062" + "00000005" + "00000007");
  assert.equal(enc(new Port(node, 2n ** 32n, 7)), "8378" + "7703614062" + "0000000100000000" + "00000007");
});

Deno.test("encodeTerm() rejects out-of-range pid, ref and port fields", () => {
  const node = atom("a@b");
  encodeError(new Pid(node, -1, 0, 0), "INVALID");
  encodeError(new Pid(node, 1, 0, 2 ** 32), "INVALID");
  encodeError(new Ref(node, 0, []), "INVALID");
  encodeError(new Ref(node, 0, [1, 2, 3, 4, 5, 6]), "INVALID");
  encodeError(new Ref(node, 0, [1.5]), "INVALID");
  encodeError(new Port(node, -1n, 0), "INVALID");
  encodeError(new Port(node, 2n ** 64n, 0), "INVALID");
  encodeError(new Pid("a@b" as unknown as Atom, 1, 0, 0), "INVALID");
});

Deno.test("encodeTerm() writes export funs as EXPORT_EXT and local funs from their raw bytes", () => {
  assert.equal(
    enc(new ExportFun(atom("lists"), atom("map"), 2)),
    "8371" + "77056c69737473" + "7703" + "6d6170" + "6102",
  );
  encodeError(new ExportFun(atom("m"), atom("f"), 256), "INVALID");
  const raw = new Uint8Array(40);
  new DataView(raw.buffer).setUint32(0, 40);
  assert.equal(enc(new LocalFun(atom("m"), 0, raw)), "8370" + toHex(raw));
  encodeError(new LocalFun(atom("m"), 0, raw.subarray(0, 39)), "INVALID");
});

Deno.test("encodeTerm() rejects values that are not terms", () => {
  encodeError(undefined, "NOT_A_TERM");
  encodeError(null, "NOT_A_TERM");
  encodeError({ a: 1 }, "NOT_A_TERM");
  encodeError(() => 1, "NOT_A_TERM");
  encodeError(Symbol("x"), "NOT_A_TERM");
  encodeError(new Uint16Array(2), "NOT_A_TERM");
  encodeError([1, undefined], "NOT_A_TERM");
  // deno-lint-ignore no-sparse-arrays
  encodeError([1, , 3, 300], "NOT_A_TERM");
  encodeError(new ImproperList([], 1), "INVALID");
  const e = encodeError(tuple(new Date() as unknown as Term), "NOT_A_TERM");
  assert.equal(e.message, "Cannot encode value of type Date: it is not a Term");
});

Deno.test("encodeTerm() rejects nesting deeper than maxDepth, and cycles", () => {
  let deep: Term = [];
  for (let i = 0; i < 513; i++) deep = [deep];
  encodeError(deep, "TOO_DEEP");
  assert.doesNotThrow(() => encodeTerm(deep, { maxDepth: 513 }));
  const cyclic: Term[] = [1];
  cyclic.push(cyclic);
  encodeError(cyclic, "TOO_DEEP");
  let deepTuple: Term = 1;
  for (let i = 0; i < 10; i++) deepTuple = tuple(deepTuple);
  assert.throws(() => encodeTerm(deepTuple, { maxDepth: 9 }), EtfEncodeError);
  assert.doesNotThrow(() => encodeTerm(deepTuple, { maxDepth: 10 }));
});

Deno.test("encodeTermInto() appends without the version byte", () => {
  const w = new ByteWriter(4);
  w.u8(0xee);
  encodeTermInto(w, tuple(atom("rex"), "ok"));
  assert.equal(toHex(w.finish()), "ee" + "6802" + "7703726578" + "6b00026f6b");
  assert.deepEqual(encodeTerm(1), hex("83 61 01"));
});
