import { ByteWriter } from "../bytes/writer.ts";
import { EtfEncodeError } from "./errors.ts";
import { DEFAULT_MAX_DEPTH, type EncodeOptions, MAX_ATOM_CHARS, Tag, VERSION } from "./limits.ts";
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

const utf8 = new TextEncoder();

/**
 * What {@link encodeTermInto} writes to: the part of `ByteWriter` (lib/bytes) it uses, so a
 * `ByteWriter` can be passed as is.
 */
export interface TermWriter {
  /** Bytes written so far. */
  readonly length: number;
  /** Appends one byte. */
  u8(v: number): this;
  /** Appends a big-endian u16. */
  u16(v: number): this;
  /** Appends a big-endian u32. */
  u32(v: number): this;
  /** Appends a big-endian i32. */
  i32(v: number): this;
  /** Appends a big-endian u64. */
  u64(v: bigint): this;
  /** Appends a big-endian IEEE 754 double. */
  f64(v: number): this;
  /** Appends raw bytes. */
  bytes(b: Uint8Array): this;
  /** Overwrites a u32 at `offset`. */
  setU32(offset: number, v: number): this;
}

/**
 * Encodes a term as a standalone External Term Format binary, starting with the version byte 131.
 *
 * Integers (`number` or `bigint`) take the smallest tag: SMALL_INTEGER_EXT for 0–255, INTEGER_EXT
 * for the rest of the 32-bit range, SMALL_BIG_EXT or LARGE_BIG_EXT beyond. A `number` that is not
 * an integer, and an {@link ErlFloat}, encode as NEW_FLOAT_EXT. Atoms use SMALL_ATOM_UTF8_EXT (or
 * ATOM_UTF8_EXT over 255 bytes), `true`/`false` become atoms, a `string` becomes a charlist
 * (STRING_EXT when it can), and an array of 1 to 65535 integers in 0–255 becomes STRING_EXT as in
 * `term_to_binary`. Map keys are written in entry order and are not checked for duplicates.
 *
 * @throws {EtfEncodeError} for NaN or infinite floats, atoms over 255 characters, values that are
 * not terms, out-of-range fields and nesting deeper than `maxDepth`.
 * @example
 * ```ts
 * import { atom, encodeTerm, tuple } from "./mod.ts";
 *
 * console.log(encodeTerm(tuple(atom("ok"), 42))); // Uint8Array [131, 104, 2, 119, 2, 111, 107, 97, 42]
 * ```
 */
export function encodeTerm(term: Term, options?: EncodeOptions): Uint8Array {
  const w = new ByteWriter(256);
  w.u8(VERSION);
  encodeTermInto(w, term, options);
  return w.finish();
}

/**
 * Appends a term to `w` without the version byte (for building distribution packets). On error
 * `w` holds a partial term and should be discarded.
 *
 * @throws {EtfEncodeError} as {@link encodeTerm} does.
 * @example
 * ```ts
 * import { ByteWriter } from "../bytes/mod.ts";
 * import { atom, encodeTermInto } from "./mod.ts";
 *
 * const w = new ByteWriter();
 * w.u8(131);
 * encodeTermInto(w, atom("rex"));
 * console.log(w.finish()); // Uint8Array [131, 119, 3, 114, 101, 120]
 * ```
 */
export function encodeTermInto(w: TermWriter, term: Term, options?: EncodeOptions): void {
  const maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 0) throw new RangeError(`Invalid maxDepth ${maxDepth}`);
  try {
    new Encoder(w, maxDepth).term(term, 0);
  } catch (e) {
    // Only reachable with a maxDepth far above the default: keep the error typed.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw new EtfEncodeError("TOO_DEEP", "Cannot encode term: the JS stack overflowed, lower maxDepth", {
        cause: e,
      });
    }
    throw e;
  }
}

function isU32(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

class Encoder {
  readonly w: TermWriter;
  readonly maxDepth: number;

  constructor(w: TermWriter, maxDepth: number) {
    this.w = w;
    this.maxDepth = maxDepth;
  }

  deeper(depth: number): void {
    if (depth >= this.maxDepth) {
      throw new EtfEncodeError("TOO_DEEP", `Cannot encode term: nesting goes over maxDepth ${this.maxDepth}`);
    }
  }

  term(t: Term, depth: number): void {
    const w = this.w;
    switch (typeof t) {
      case "number":
        if (Number.isInteger(t)) this.integer(t);
        else this.float(t);
        return;
      case "bigint":
        this.bigint(t);
        return;
      case "string":
        this.string(t);
        return;
      case "boolean":
        this.atom(t ? "true" : "false");
        return;
      case "object":
        if (Array.isArray(t)) return this.list(t, depth);
        if (t instanceof Atom) return this.atom(t.name);
        if (t instanceof Tuple) {
          const n = t.elements.length;
          if (n <= 255) w.u8(Tag.SMALL_TUPLE).u8(n);
          else w.u8(Tag.LARGE_TUPLE).u32(n);
          if (n > 0) this.deeper(depth);
          for (let i = 0; i < n; i++) this.term(t.elements[i], depth + 1);
          return;
        }
        if (t instanceof Uint8Array) {
          w.u8(Tag.BINARY).u32(t.length).bytes(t);
          return;
        }
        if (t instanceof ErlFloat) return this.float(t.value);
        if (t instanceof ErlMap) {
          const n = t.entries.length;
          w.u8(Tag.MAP).u32(n);
          if (n > 0) this.deeper(depth);
          for (let i = 0; i < n; i++) {
            const e = t.entries[i];
            this.term(e[0], depth + 1);
            this.term(e[1], depth + 1);
          }
          return;
        }
        if (t instanceof ImproperList) {
          const n = t.elements.length;
          if (n === 0) throw new EtfEncodeError("INVALID", "Cannot encode ImproperList: it has no elements");
          this.deeper(depth);
          w.u8(Tag.LIST).u32(n);
          for (let i = 0; i < n; i++) this.term(t.elements[i], depth + 1);
          this.term(t.tail, depth + 1);
          return;
        }
        if (t instanceof BitBinary) return this.bitBinary(t);
        if (t instanceof Pid) {
          if (!isU32(t.id) || !isU32(t.serial) || !isU32(t.creation)) {
            throw new EtfEncodeError(
              "INVALID",
              "Cannot encode Pid: id, serial and creation must be u32 integers",
            );
          }
          w.u8(Tag.NEW_PID);
          this.nodeAtom(t.node, "Pid");
          w.u32(t.id).u32(t.serial).u32(t.creation);
          return;
        }
        if (t instanceof Ref) {
          const n = t.ids.length;
          if (n < 1 || n > 5 || !t.ids.every(isU32) || !isU32(t.creation)) {
            throw new EtfEncodeError(
              "INVALID",
              `Cannot encode Ref: it needs 1 to 5 u32 ids and a u32 creation`,
            );
          }
          w.u8(Tag.NEWER_REFERENCE).u16(n);
          this.nodeAtom(t.node, "Ref");
          w.u32(t.creation);
          for (let i = 0; i < n; i++) w.u32(t.ids[i]);
          return;
        }
        if (t instanceof Port) {
          if (typeof t.id !== "bigint" || t.id < 0n || t.id > 0xffffffffffffffffn || !isU32(t.creation)) {
            throw new EtfEncodeError(
              "INVALID",
              "Cannot encode Port: id must be a u64 bigint and creation a u32",
            );
          }
          w.u8(t.id > 0xffffffffn ? Tag.V4_PORT : Tag.NEW_PORT);
          this.nodeAtom(t.node, "Port");
          if (t.id > 0xffffffffn) w.u64(t.id);
          else w.u32(Number(t.id));
          w.u32(t.creation);
          return;
        }
        if (t instanceof ExportFun) {
          if (!Number.isInteger(t.arity) || t.arity < 0 || t.arity > 255) {
            throw new EtfEncodeError("INVALID", `Cannot encode ExportFun: arity ${t.arity} is not in 0..255`);
          }
          w.u8(Tag.EXPORT);
          this.nodeAtom(t.module, "ExportFun");
          this.nodeAtom(t.function, "ExportFun");
          w.u8(Tag.SMALL_INTEGER).u8(t.arity);
          return;
        }
        if (t instanceof LocalFun) {
          const r = t.raw;
          const size = r.length >= 4 ? ((r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]) >>> 0 : -1;
          if (r.length < 29 || size !== r.length) {
            throw new EtfEncodeError(
              "INVALID",
              "Cannot encode LocalFun: raw does not hold a NEW_FUN_EXT body",
            );
          }
          w.u8(Tag.NEW_FUN).bytes(r);
          return;
        }
        break;
    }
    throw new EtfEncodeError("NOT_A_TERM", `Cannot encode value of type ${describe(t)}: it is not a Term`);
  }

  nodeAtom(a: Atom, owner: string): void {
    if (!(a instanceof Atom)) {
      throw new EtfEncodeError(
        "INVALID",
        `Cannot encode ${owner}: its node, module or function is not an Atom`,
      );
    }
    this.atom(a.name);
  }

  integer(v: number): void {
    const w = this.w;
    if (v >= 0 && v <= 255) {
      w.u8(Tag.SMALL_INTEGER).u8(v);
    } else if (v >= -0x80000000 && v <= 0x7fffffff) {
      w.u8(Tag.INTEGER).i32(v);
    } else if (Number.isSafeInteger(v)) {
      let m = Math.abs(v);
      let n = 0;
      for (let x = m; x > 0; x = Math.floor(x / 256)) n++;
      w.u8(Tag.SMALL_BIG).u8(n).u8(v < 0 ? 1 : 0);
      for (let i = 0; i < n; i++) {
        w.u8(m % 256);
        m = Math.floor(m / 256);
      }
    } else {
      this.bigint(BigInt(v));
    }
  }

  bigint(v: bigint): void {
    if (v >= -0x80000000n && v <= 0x7fffffffn) return this.integer(Number(v));
    const w = this.w;
    const neg = v < 0n;
    let hex = (neg ? -v : v).toString(16);
    if (hex.length % 2 === 1) hex = "0" + hex;
    const n = hex.length / 2;
    if (n <= 255) w.u8(Tag.SMALL_BIG).u8(n);
    else if (n <= 0xffffffff) w.u8(Tag.LARGE_BIG).u32(n);
    else {throw new EtfEncodeError(
        "TOO_LARGE",
        `Cannot encode integer: ${n} digit bytes do not fit LARGE_BIG_EXT`,
      );}
    w.u8(neg ? 1 : 0);
    for (let i = hex.length - 2; i >= 0; i -= 2) w.u8(nibble(hex, i) * 16 + nibble(hex, i + 1));
  }

  float(v: number): void {
    if (!Number.isFinite(v)) {
      throw new EtfEncodeError("BAD_FLOAT", `Cannot encode float ${v}: Erlang floats are finite`);
    }
    this.w.u8(Tag.NEW_FLOAT).f64(v);
  }

  atom(name: string): void {
    const w = this.w;
    const n = name.length;
    let ascii = n <= 255;
    for (let i = 0; ascii && i < n; i++) if (name.charCodeAt(i) > 0x7f) ascii = false;
    if (ascii) {
      w.u8(Tag.SMALL_ATOM_UTF8).u8(n);
      for (let i = 0; i < n; i++) w.u8(name.charCodeAt(i));
      return;
    }
    let chars = 0;
    for (const _ of name) chars++;
    if (chars > MAX_ATOM_CHARS) {
      throw new EtfEncodeError(
        "ATOM_TOO_LONG",
        `Cannot encode atom '${
          name.slice(0, 20)
        }...': it has ${chars} characters, the limit is ${MAX_ATOM_CHARS}`,
      );
    }
    if (!name.isWellFormed()) {
      throw new EtfEncodeError("INVALID", `Cannot encode atom '${name}': it holds a lone surrogate`);
    }
    const bytes = utf8.encode(name);
    if (bytes.length <= 255) w.u8(Tag.SMALL_ATOM_UTF8).u8(bytes.length);
    else w.u8(Tag.ATOM_UTF8).u16(bytes.length);
    w.bytes(bytes);
  }

  string(s: string): void {
    const w = this.w;
    const n = s.length;
    if (n === 0) {
      w.u8(Tag.NIL);
      return;
    }
    let latin1 = n <= 0xffff;
    for (let i = 0; latin1 && i < n; i++) if (s.charCodeAt(i) > 0xff) latin1 = false;
    if (latin1) {
      w.u8(Tag.STRING).u16(n);
      for (let i = 0; i < n; i++) w.u8(s.charCodeAt(i));
      return;
    }
    w.u8(Tag.LIST);
    const lenAt = w.length;
    w.u32(0);
    let count = 0;
    for (const c of s) {
      this.integer(c.codePointAt(0)!);
      count++;
    }
    w.setU32(lenAt, count).u8(Tag.NIL);
  }

  list(a: Term[], depth: number): void {
    const w = this.w;
    const n = a.length;
    if (n === 0) {
      w.u8(Tag.NIL);
      return;
    }
    if (n <= 0xffff && a.every(isByte)) {
      w.u8(Tag.STRING).u16(n);
      for (let i = 0; i < n; i++) w.u8(Number(a[i]));
      return;
    }
    this.deeper(depth);
    w.u8(Tag.LIST).u32(n);
    for (let i = 0; i < n; i++) this.term(a[i], depth + 1);
    w.u8(Tag.NIL);
  }

  bitBinary(t: BitBinary): void {
    const { bytes, bits } = t;
    if (!(bytes instanceof Uint8Array) || !Number.isInteger(bits) || bits < 1 || bits > 8) {
      throw new EtfEncodeError("INVALID", `Cannot encode BitBinary: bits ${bits} is not in 1..8`);
    }
    const w = this.w;
    const n = bytes.length;
    if (bits === 8) {
      w.u8(Tag.BINARY).u32(n).bytes(bytes);
      return;
    }
    if (n === 0) throw new EtfEncodeError("INVALID", `Cannot encode BitBinary: no bytes but ${bits} bits`);
    w.u8(Tag.BIT_BINARY).u32(n).u8(bits).bytes(bytes.subarray(0, n - 1));
    w.u8(bytes[n - 1] & (0xff00 >> bits) & 0xff);
  }
}

/** An integer term in 0..255 (what `term_to_binary` packs into STRING_EXT). */
function isByte(x: Term): boolean {
  if (typeof x === "number") return x >= 0 && x <= 255 && Number.isInteger(x);
  return typeof x === "bigint" && x >= 0n && x <= 255n;
}

function nibble(hex: string, i: number): number {
  const c = hex.charCodeAt(i);
  return c <= 57 ? c - 48 : c - 87;
}
