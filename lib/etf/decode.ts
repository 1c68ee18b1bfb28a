import { InflateError, zlibInflate } from "./_inflate.ts";
import { EtfDecodeError, type EtfDecodeErrorCode } from "./errors.ts";
import {
  type DecodeOptions,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
  MAX_ATOM_CHARS,
  Tag,
  tagName,
  VERSION,
} from "./limits.ts";
import {
  Atom,
  BitBinary,
  ErlFloat,
  ErlMap,
  ExportFun,
  ImproperList,
  LocalFun,
  Pid,
  Port,
  Ref,
  type Term,
  Tuple,
} from "./term.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The `%.20e` text of FLOAT_EXT: optional sign, digits, optional fraction and exponent. */
const FLOAT_TEXT = /^[ ]*[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/;

/**
 * Decodes one standalone term: a version byte 131 followed by the term, with nothing after it.
 *
 * Integers decode to `number` when they are safe integers and to `bigint` otherwise; floats to
 * {@link ErlFloat}; atoms (including `true`/`false`) to {@link Atom}; STRING_EXT to a `number[]`;
 * BIT_BINARY_EXT with 8 bits in its last byte to a plain `Uint8Array`. A list whose tail is itself
 * encoded as a list is joined into one list. A compressed term (tag 80) is inflated synchronously.
 *
 * Binaries are copies, never views into `bytes`; small ones (up to 1 KiB) may share one
 * ArrayBuffer per call, so reach for `.buffer` only together with `byteOffset` and `byteLength`.
 *
 * @throws {EtfDecodeError} on malformed, truncated, too deep or too large input, or trailing bytes.
 * @example
 * ```ts
 * import { decodeTerm, Tuple } from "./mod.ts";
 *
 * const t = decodeTerm(new Uint8Array([131, 104, 2, 119, 2, 111, 107, 97, 42])); // {ok, 42}
 * console.log(t instanceof Tuple); // true
 * ```
 */
export function decodeTerm(bytes: Uint8Array, options?: DecodeOptions): Term {
  const { term, offset } = decodeTermAt(bytes, 0, options);
  if (offset !== bytes.length) {
    throw new EtfDecodeError("TRAILING", offset, `${bytes.length - offset} bytes follow the term`);
  }
  return term;
}

/**
 * Decodes the standalone term (version byte 131 first) that starts at `offset`, and returns it with
 * the offset just after it. Use it for distribution packets, which hold consecutive 131-terms.
 *
 * @throws {EtfDecodeError} on malformed, truncated, too deep or too large input.
 * @example
 * ```ts
 * import { decodeTermAt } from "./mod.ts";
 *
 * const bytes = new Uint8Array([131, 97, 1, 131, 106]); // 1, then []
 * const first = decodeTermAt(bytes, 0);
 * const second = decodeTermAt(bytes, first.offset);
 * console.log(first.term, second.term, second.offset); // 1 [] 5
 * ```
 */
export function decodeTermAt(
  bytes: Uint8Array,
  offset: number,
  options?: DecodeOptions,
): { term: Term; offset: number } {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("decodeTermAt() needs a Uint8Array");
  if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) {
    throw new RangeError(`decodeTermAt() offset ${offset} is outside the input of ${bytes.length} bytes`);
  }
  const maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isInteger(maxDepth) || maxDepth < 0) throw new RangeError(`Invalid maxDepth ${maxDepth}`);
  if (!(maxBytes >= 0)) throw new RangeError(`Invalid maxBytes ${maxBytes}`);
  if (offset >= bytes.length) {
    throw new EtfDecodeError("TRUNCATED", offset, "expected the version byte 131, the input ends");
  }
  if (bytes[offset] !== VERSION) {
    throw new EtfDecodeError("BAD_VERSION", offset, `expected the version byte 131, got ${bytes[offset]}`);
  }
  const d = new Decoder(bytes, offset + 1, { maxDepth, budget: maxBytes, maxBytes, inflated: false });
  try {
    if (offset + 1 < bytes.length && bytes[offset + 1] === Tag.COMPRESSED) return d.compressed();
    const term = d.term(0);
    return { term, offset: d.pos };
  } catch (e) {
    if (e instanceof EtfDecodeError) throw e;
    // Only reachable with a maxDepth far above the default: keep the error typed.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw new EtfDecodeError("TOO_DEEP", d.pos, "the JS stack overflowed, lower maxDepth", undefined, {
        cause: e,
      });
    }
    throw e;
  }
}

interface Limits {
  maxDepth: number;
  budget: number;
  maxBytes: number;
  inflated: boolean;
}

/** Binaries up to this size are copied into a shared slab instead of a buffer of their own. */
const SLAB_ITEM_MAX = 1024;
const SLAB_SIZE = 64 * 1024;
const ATOM_CACHE_SLOTS = 64;

interface CachedAtom {
  at: number;
  n: number;
  atom: Atom;
}

class Decoder {
  readonly b: Uint8Array;
  readonly v: DataView;
  pos: number;
  readonly lim: Limits;
  slab: Uint8Array | undefined;
  slabUsed = 0;
  /** Recently decoded ASCII atoms by a hash of their bytes: repeated atoms skip string decoding. */
  atoms: (CachedAtom | undefined)[] | undefined;

  constructor(bytes: Uint8Array, pos: number, limits: Limits) {
    // A Node Buffer's slice() is a view, not a copy: work on a plain Uint8Array over the same memory.
    this.b = bytes.constructor === Uint8Array
      ? bytes
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    this.lim = limits;
  }

  /**
   * A copy of `b[start, start + n)`. Small copies are views into a slab shared within one decode
   * call (at most 64 KiB, and never more than the input left), which is much cheaper than one
   * ArrayBuffer per binary.
   */
  copy(start: number, n: number): Uint8Array {
    if (n > SLAB_ITEM_MAX) return this.b.slice(start, start + n);
    let slab = this.slab;
    if (slab === undefined || this.slabUsed + n > slab.length) {
      slab = this.slab = new Uint8Array(Math.max(n, Math.min(SLAB_SIZE, this.b.length - start)));
      this.slabUsed = 0;
    }
    const out = slab.subarray(this.slabUsed, this.slabUsed + n);
    const b = this.b;
    for (let i = 0; i < n; i++) out[i] = b[start + i];
    this.slabUsed += n;
    return out;
  }

  fail(code: EtfDecodeErrorCode, at: number, detail: string, tag?: number, cause?: unknown): never {
    throw new EtfDecodeError(code, at, detail, tag, { inflated: this.lim.inflated, cause });
  }

  /** Fails unless `n` more bytes remain; `what` names them (a constant, or `n bytes` by default). */
  need(n: number, tag: number, what?: string): void {
    const left = this.b.length - this.pos;
    if (n > left) {
      this.fail("TRUNCATED", this.pos, `${tagName(tag)} needs ${what ?? `${n} bytes`}, ${left} remain`, tag);
    }
  }

  /** Fails unless a claimed count of `n` items of at least `min` bytes each fits the input. */
  fits(n: number, min: number, tag: number, what: string): void {
    const left = this.b.length - this.pos;
    if (n * min > left) {
      this.fail("TRUNCATED", this.pos, `${tagName(tag)} claims ${n} ${what}, ${left} bytes remain`, tag);
    }
  }

  /** Spends `n` of the allocation budget. */
  charge(n: number, tag: number, at: number): void {
    this.lim.budget -= n;
    if (this.lim.budget < 0) {
      this.fail("TOO_LARGE", at, `${tagName(tag)} of size ${n} goes over maxBytes ${this.lim.maxBytes}`, tag);
    }
  }

  deeper(depth: number, tag: number, at: number): void {
    if (depth >= this.lim.maxDepth) {
      this.fail("TOO_DEEP", at, `${tagName(tag)} nests deeper than maxDepth ${this.lim.maxDepth}`, tag);
    }
  }

  u8(tag: number, what: string): number {
    this.need(1, tag, what);
    return this.b[this.pos++];
  }

  u16(tag: number, what: string): number {
    this.need(2, tag, what);
    const x = this.v.getUint16(this.pos);
    this.pos += 2;
    return x;
  }

  u32(tag: number, what: string): number {
    this.need(4, tag, what);
    const x = this.v.getUint32(this.pos);
    this.pos += 4;
    return x;
  }

  term(depth: number): Term {
    const b = this.b;
    const at = this.pos;
    if (at >= b.length) this.fail("TRUNCATED", at, "expected a tag byte, the input ends");
    const tag = b[this.pos++];
    switch (tag) {
      case Tag.SMALL_INTEGER:
        return this.u8(tag, "1 byte");
      case Tag.INTEGER: {
        this.need(4, tag, "4 bytes");
        const x = this.v.getInt32(this.pos);
        this.pos += 4;
        return x;
      }
      case Tag.SMALL_ATOM_UTF8:
        return this.atomBody(tag, this.u8(tag, "a length byte"), false);
      case Tag.ATOM_UTF8:
        return this.atomBody(tag, this.u16(tag, "a 2-byte length"), false);
      case Tag.ATOM:
        return this.atomBody(tag, this.u16(tag, "a 2-byte length"), true);
      case Tag.SMALL_ATOM:
        return this.atomBody(tag, this.u8(tag, "a length byte"), true);
      case Tag.SMALL_TUPLE:
        return this.tuple(tag, this.u8(tag, "an arity byte"), depth, at);
      case Tag.LARGE_TUPLE:
        return this.tuple(tag, this.u32(tag, "a 4-byte arity"), depth, at);
      case Tag.NIL:
        return [];
      case Tag.STRING: {
        const n = this.u16(tag, "a 2-byte length");
        const out: Term[] = [];
        this.string(n, out);
        return out;
      }
      case Tag.LIST:
        return this.list(depth, at);
      case Tag.BINARY: {
        const n = this.u32(tag, "a 4-byte length");
        this.need(n, tag);
        this.charge(n, tag, at);
        const out = this.copy(this.pos, n);
        this.pos += n;
        return out;
      }
      case Tag.BIT_BINARY:
        return this.bitBinary(at);
      case Tag.SMALL_BIG:
        return this.big(tag, this.u8(tag, "a digit count"), at);
      case Tag.LARGE_BIG:
        return this.big(tag, this.u32(tag, "a 4-byte digit count"), at);
      case Tag.NEW_FLOAT: {
        this.need(8, tag, "8 bytes");
        const x = this.v.getFloat64(this.pos);
        if (!Number.isFinite(x)) this.fail("INVALID", this.pos, `NEW_FLOAT_EXT holds ${x}`, tag);
        this.pos += 8;
        return new ErlFloat(x);
      }
      case Tag.FLOAT:
        return this.oldFloat();
      case Tag.MAP:
        return this.map(depth, at);
      case Tag.NEW_PID:
      case Tag.PID: {
        const node = this.nodeAtom(tag);
        this.need(tag === Tag.PID ? 9 : 12, tag);
        const id = this.v.getUint32(this.pos);
        const serial = this.v.getUint32(this.pos + 4);
        const creation = tag === Tag.PID ? b[this.pos + 8] : this.v.getUint32(this.pos + 8);
        this.pos += tag === Tag.PID ? 9 : 12;
        return new Pid(node, id, serial, creation);
      }
      case Tag.NEWER_REFERENCE:
      case Tag.NEW_REFERENCE: {
        const n = this.u16(tag, "a 2-byte length");
        if (n < 1 || n > 5) {
          this.fail("INVALID", this.pos - 2, `${tagName(tag)} has ${n} words, expected 1 to 5`, tag);
        }
        const node = this.nodeAtom(tag);
        const cs = tag === Tag.NEW_REFERENCE ? 1 : 4;
        this.need(cs + 4 * n, tag);
        const creation = cs === 1 ? b[this.pos] : this.v.getUint32(this.pos);
        this.pos += cs;
        const ids: number[] = [];
        for (let i = 0; i < n; i++, this.pos += 4) ids.push(this.v.getUint32(this.pos));
        return new Ref(node, creation, ids);
      }
      case Tag.REFERENCE: {
        const node = this.nodeAtom(tag);
        this.need(5, tag, "5 bytes");
        const id = this.v.getUint32(this.pos);
        const creation = b[this.pos + 4];
        this.pos += 5;
        return new Ref(node, creation, [id]);
      }
      case Tag.V4_PORT: {
        const node = this.nodeAtom(tag);
        this.need(12, tag, "12 bytes");
        const id = this.v.getBigUint64(this.pos);
        const creation = this.v.getUint32(this.pos + 8);
        this.pos += 12;
        return new Port(node, id, creation);
      }
      case Tag.NEW_PORT:
      case Tag.PORT: {
        const node = this.nodeAtom(tag);
        const size = tag === Tag.PORT ? 5 : 8;
        this.need(size, tag);
        const id = BigInt(this.v.getUint32(this.pos));
        const creation = tag === Tag.PORT ? b[this.pos + 4] : this.v.getUint32(this.pos + 4);
        this.pos += size;
        return new Port(node, id, creation);
      }
      case Tag.EXPORT: {
        const module = this.nodeAtom(tag);
        const fn = this.nodeAtom(tag);
        if (this.pos < b.length && b[this.pos] !== Tag.SMALL_INTEGER) {
          this.fail(
            "INVALID",
            this.pos,
            `EXPORT_EXT arity must be a SMALL_INTEGER_EXT, got ${tagName(b[this.pos])}`,
            tag,
          );
        }
        this.need(2, tag, "a 2-byte arity");
        const arity = b[this.pos + 1];
        this.pos += 2;
        return new ExportFun(module, fn, arity);
      }
      case Tag.NEW_FUN:
        return this.newFun(depth, at);
      case Tag.COMPRESSED:
        return this.fail("INVALID", at, "a compressed term may only follow the version byte", tag);
      case Tag.LOCAL:
      case Tag.ATOM_CACHE_REF:
      case Tag.FUN:
        return this.fail("UNSUPPORTED_TAG", at, `${tagName(tag)} is not supported`, tag);
      default:
        return this.fail("UNKNOWN_TAG", at, `unknown tag ${tag}`, tag);
    }
  }

  /** Reads an atom that must be there (a node, module or function name). */
  nodeAtom(ctx: number): Atom {
    const b = this.b;
    if (this.pos >= b.length) {
      this.fail("TRUNCATED", this.pos, `${tagName(ctx)} needs an atom, the input ends`, ctx);
    }
    const tag = b[this.pos];
    let latin1: boolean;
    let n: number;
    if (tag === Tag.SMALL_ATOM_UTF8 || tag === Tag.SMALL_ATOM) {
      this.pos++;
      n = this.u8(tag, "a length byte");
      latin1 = tag === Tag.SMALL_ATOM;
    } else if (tag === Tag.ATOM_UTF8 || tag === Tag.ATOM) {
      this.pos++;
      n = this.u16(tag, "a 2-byte length");
      latin1 = tag === Tag.ATOM;
    } else {
      return this.fail("INVALID", this.pos, `${tagName(ctx)} needs an atom, got ${tagName(tag)}`, ctx);
    }
    return this.atomBody(tag, n, latin1);
  }

  atomBody(tag: number, n: number, latin1: boolean): Atom {
    this.need(n, tag);
    const at = this.pos;
    if (n > (latin1 ? MAX_ATOM_CHARS : 4 * MAX_ATOM_CHARS)) {
      this.fail(
        "INVALID",
        at,
        `${tagName(tag)} of ${n} bytes is longer than ${MAX_ATOM_CHARS} characters`,
        tag,
      );
    }
    const b = this.b;
    const end = at + n;
    const slot = (n * 31 + (n > 0 ? b[at] * 7 + b[end - 1] : 0)) & (ATOM_CACHE_SLOTS - 1);
    const cache = this.atoms ??= new Array(ATOM_CACHE_SLOTS);
    const hit = cache[slot];
    if (hit !== undefined && hit.n === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (b[hit.at + i] !== b[at + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.pos = end;
        return hit.atom;
      }
    }
    let ascii = true;
    for (let i = at; i < end; i++) {
      if (b[i] > 0x7f) {
        ascii = false;
        break;
      }
    }
    let name: string;
    if (ascii || latin1) {
      if (n > MAX_ATOM_CHARS) {
        this.fail("INVALID", at, `${tagName(tag)} has ${n} characters, the limit is ${MAX_ATOM_CHARS}`, tag);
      }
      name = String.fromCharCode.apply(null, b.subarray(at, end) as unknown as number[]);
    } else {
      try {
        name = utf8.decode(b.subarray(at, end));
      } catch (e) {
        return this.fail("INVALID", at, `${tagName(tag)} holds invalid UTF-8`, tag, e);
      }
      if (name.length > MAX_ATOM_CHARS) {
        let chars = 0;
        for (const _ of name) chars++;
        if (chars > MAX_ATOM_CHARS) {
          this.fail(
            "INVALID",
            at,
            `${tagName(tag)} has ${chars} characters, the limit is ${MAX_ATOM_CHARS}`,
            tag,
          );
        }
      }
    }
    this.pos = end;
    const atom = new Atom(name);
    if (ascii) cache[slot] = { at, n, atom }; // ASCII reads the same in Latin-1 and UTF-8
    return atom;
  }

  /** Appends the `n` bytes of a STRING_EXT body to `out` as integers. */
  string(n: number, out: Term[]): void {
    this.need(n, Tag.STRING);
    this.charge(n, Tag.STRING, this.pos);
    const b = this.b;
    const end = this.pos + n;
    for (let i = this.pos; i < end; i++) out.push(b[i]);
    this.pos = end;
  }

  tuple(tag: number, n: number, depth: number, at: number): Tuple {
    this.fits(n, 1, tag, "elements");
    this.charge(n, tag, at);
    const elements: Term[] = new Array(n);
    if (n > 0) {
      this.deeper(depth, tag, at);
      for (let i = 0; i < n; i++) elements[i] = this.term(depth + 1);
    }
    return new Tuple(elements);
  }

  list(depth: number, at: number): Term {
    const b = this.b;
    const out: Term[] = [];
    let n = this.u32(Tag.LIST, "a 4-byte length");
    for (;;) {
      // Each element takes at least one byte, and so does the tail.
      this.fits(n + 1, 1, Tag.LIST, "elements and a tail");
      this.charge(n, Tag.LIST, at);
      if (n > 0) {
        this.deeper(depth, Tag.LIST, at);
        for (let i = 0; i < n; i++) out.push(this.term(depth + 1));
      }
      const tail = b[this.pos];
      if (tail === Tag.NIL) {
        this.pos++;
        return out;
      }
      if (tail === Tag.LIST) {
        // A tail encoded as another list continues this one: [a | [b]] is [a, b].
        this.pos++;
        n = this.u32(Tag.LIST, "a 4-byte length");
        continue;
      }
      if (tail === Tag.STRING) {
        this.pos++;
        this.string(this.u16(Tag.STRING, "a 2-byte length"), out);
        return out;
      }
      if (out.length === 0) return this.term(depth); // [] ++ Tail is just Tail
      this.deeper(depth, Tag.LIST, at);
      return new ImproperList(out, this.term(depth + 1));
    }
  }

  map(depth: number, at: number): ErlMap {
    const n = this.u32(Tag.MAP, "a 4-byte arity");
    this.fits(n, 2, Tag.MAP, "pairs");
    this.charge(2 * n, Tag.MAP, at);
    const entries: [Term, Term][] = [];
    if (n === 0) return new ErlMap(entries);
    this.deeper(depth, Tag.MAP, at);
    // Keys are compared by their encoded bytes: the canonical encoding of a term is unique.
    const seen = n > 1 ? new Set<string>() : undefined;
    for (let i = 0; i < n; i++) {
      const ks = this.pos;
      const k = this.term(depth + 1);
      if (seen !== undefined) {
        const sig = latin1(this.b, ks, this.pos);
        if (seen.has(sig)) this.fail("INVALID", ks, "MAP_EXT repeats a key", Tag.MAP);
        seen.add(sig);
      }
      entries.push([k, this.term(depth + 1)]);
    }
    return new ErlMap(entries);
  }

  bitBinary(at: number): Uint8Array | BitBinary {
    const tag = Tag.BIT_BINARY;
    const n = this.u32(tag, "a 4-byte length");
    const bits = this.u8(tag, "a bit count");
    if (bits < 1 || bits > 8) {
      this.fail("INVALID", this.pos - 1, `BIT_BINARY_EXT has ${bits} bits in its last byte`, tag);
    }
    if (n === 0 && bits !== 8) {
      this.fail("INVALID", this.pos - 1, `empty BIT_BINARY_EXT has ${bits} bits`, tag);
    }
    this.need(n, tag);
    this.charge(n, tag, at);
    const bytes = this.copy(this.pos, n);
    this.pos += n;
    if (bits === 8) return bytes;
    bytes[n - 1] &= (0xff00 >> bits) & 0xff; // unused low bits are zero
    return new BitBinary(bytes, bits);
  }

  big(tag: number, n: number, at: number): number | bigint {
    if (n + 1 > this.b.length - this.pos) this.need(n + 1, tag, `a sign byte and ${n} digit bytes`);
    this.charge(n, tag, at);
    const b = this.b;
    const sign = b[this.pos++];
    if (sign > 1) this.fail("INVALID", this.pos - 1, `${tagName(tag)} has sign byte ${sign}`, tag);
    const p = this.pos;
    this.pos += n;
    if (n <= 8) {
      let lo = 0;
      let hi = 0;
      for (let i = Math.min(n, 4) - 1; i >= 0; i--) lo = lo * 256 + b[p + i];
      for (let i = n - 1; i >= 4; i--) hi = hi * 256 + b[p + i];
      if (hi < 0x200000) {
        const x = hi * 0x100000000 + lo;
        return sign && x !== 0 ? -x : x;
      }
      const x = (BigInt(hi) << 32n) | BigInt(lo);
      return sign ? -x : x;
    }
    let hex = "";
    for (let i = p + n - 1; i >= p; i--) hex += HEX[b[i]];
    const x = BigInt("0x" + hex);
    if (x <= MAX_SAFE) {
      const v = Number(x);
      return sign && v !== 0 ? -v : v;
    }
    return sign ? -x : x;
  }

  oldFloat(): ErlFloat {
    const tag = Tag.FLOAT;
    this.need(31, tag, "31 bytes");
    const b = this.b;
    let end = this.pos;
    while (end < this.pos + 31 && b[end] !== 0) end++;
    const text = String.fromCharCode.apply(null, b.subarray(this.pos, end) as unknown as number[]);
    const x = Number.parseFloat(text);
    if (!FLOAT_TEXT.test(text) || !Number.isFinite(x)) {
      this.fail("INVALID", this.pos, `FLOAT_EXT holds ${JSON.stringify(text)}, not a finite float`, tag);
    }
    this.pos += 31;
    return new ErlFloat(x);
  }

  newFun(depth: number, at: number): LocalFun {
    const tag = Tag.NEW_FUN;
    const start = this.pos;
    const size = this.u32(tag, "a 4-byte size");
    // Size, arity, uniq, index and free count come first: 29 bytes; module, old index, old uniq and
    // pid follow and are checked as they are decoded.
    if (size < 29) this.fail("INVALID", start, `NEW_FUN_EXT size ${size} is below its 29-byte header`, tag);
    this.pos = start;
    this.need(size, tag);
    this.charge(size, tag, at);
    const end = start + size;
    const arity = this.b[start + 4];
    const numFree = this.v.getUint32(start + 25);
    this.pos = start + 29;
    const module = this.nodeAtom(tag);
    this.deeper(depth, tag, at);
    const oldIndex = this.term(depth + 1);
    const oldUniq = this.term(depth + 1);
    if (typeof oldIndex !== "number" || typeof oldUniq !== "number") {
      this.fail("INVALID", start, "NEW_FUN_EXT old index and old uniq must be integers", tag);
    }
    if (!(this.term(depth + 1) instanceof Pid)) this.fail("INVALID", start, "NEW_FUN_EXT needs a pid", tag);
    if (numFree > end - this.pos) {
      this.fail(
        "INVALID",
        start,
        `NEW_FUN_EXT claims ${numFree} free variables in ${end - this.pos} bytes`,
        tag,
      );
    }
    for (let i = 0; i < numFree; i++) this.term(depth + 1);
    if (this.pos !== end) {
      this.fail(
        "INVALID",
        start,
        `NEW_FUN_EXT size says ${size} bytes, its fields take ${this.pos - start}`,
        tag,
      );
    }
    return new LocalFun(module, arity, this.b.slice(start, end));
  }

  /** Decodes `80, UncompressedSize:u32, zlib stream` at `pos` (just after the version byte). */
  compressed(): { term: Term; offset: number } {
    const tag = Tag.COMPRESSED;
    const at = this.pos++;
    const size = this.u32(tag, "a 4-byte uncompressed size");
    if (size === 0) this.fail("INVALID", at, "compressed term declares 0 bytes", tag);
    if (size > this.lim.budget) {
      this.fail(
        "TOO_LARGE",
        at,
        `compressed term declares ${size} bytes, over maxBytes ${this.lim.maxBytes}`,
        tag,
      );
    }
    this.charge(size, tag, at);
    const input = this.b.subarray(this.pos);
    let inflated: Uint8Array;
    let consumed: number;
    try {
      const r = zlibInflate(input, size);
      inflated = r.output;
      consumed = r.consumed;
    } catch (e) {
      if (!(e instanceof InflateError)) throw e;
      if (e.code === "TOO_LARGE") {
        return this.fail(
          "INVALID",
          at,
          `compressed term inflates to more than the declared ${size} bytes`,
          tag,
          e,
        );
      }
      if (e.code === "TRUNCATED") {
        return this.fail("TRUNCATED", this.pos, "the zlib stream ends early", tag, e);
      }
      return this.fail("INVALID", this.pos, `bad zlib stream: ${e.message}`, tag, e);
    }
    if (inflated.length !== size) {
      this.fail(
        "INVALID",
        at,
        `compressed term declares ${size} bytes but inflates to ${inflated.length}`,
        tag,
      );
    }
    const inner = new Decoder(inflated, 0, { ...this.lim, inflated: true });
    inner.lim.budget = this.lim.budget;
    const term = inner.term(0);
    if (inner.pos !== size) {
      inner.fail("INVALID", inner.pos, `${size - inner.pos} inflated bytes follow the term`);
    }
    return { term, offset: this.pos + consumed };
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The bytes `b[start..end)` as a string of code units 0–255 (a cheap, exact set key). */
function latin1(b: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i += 8192) {
    s += String.fromCharCode.apply(null, b.subarray(i, Math.min(end, i + 8192)) as unknown as number[]);
  }
  return s;
}
