/**
 * Erlang terms as TypeScript values.
 *
 * | Erlang | TypeScript |
 * |---|---|
 * | integer | `number` (safe integers) or `bigint` (beyond 2^53) |
 * | float | {@link ErlFloat} (a JS number that is not an integer also encodes as a float) |
 * | atom | {@link Atom} (`true`/`false` decode to atoms; JS booleans encode to them) |
 * | binary | `Uint8Array` |
 * | bitstring | {@link BitBinary} |
 * | proper list | `Term[]`; a charlist from STRING_EXT decodes to `Term[]` of numbers too |
 * | improper list | {@link ImproperList} |
 * | tuple | {@link Tuple} |
 * | map | {@link ErlMap} |
 * | pid, reference, port | {@link Pid}, {@link Ref}, {@link Port} |
 * | `fun M:F/A` | {@link ExportFun} |
 * | local fun | {@link LocalFun} (opaque, re-encodes to the same bytes) |
 *
 * A JS `string` encodes as a charlist (STRING_EXT when every code point is below 256 and it fits).
 * @module
 */

/** Any Erlang term. */
export type Term =
  | number
  | bigint
  | boolean
  | string
  | ErlFloat
  | Atom
  | Uint8Array
  | BitBinary
  | Term[]
  | ImproperList
  | Tuple
  | ErlMap
  | Pid
  | Ref
  | Port
  | ExportFun
  | LocalFun;

/** An atom. Compare atoms by {@link Atom.name} (or {@link isAtom}); they are not interned. */
export class Atom {
  /** The atom's text (Unicode). */
  readonly name: string;
  /** Makes an atom named `name`. */
  constructor(name: string) {
    this.name = name;
  }
  /** The atom as Erlang prints it (quoted where needed). */
  toString(): string {
    return /^[a-z][A-Za-z0-9_@]*$/.test(this.name) ? this.name : `'${this.name.replace(/[\\']/g, "\\$&")}'`;
  }
}

/** Makes an atom. */
export function atom(name: string): Atom {
  return new Atom(name);
}

/** True when `t` is an atom, and when `name` is given, that atom. */
export function isAtom(t: unknown, name?: string): t is Atom {
  return t instanceof Atom && (name === undefined || t.name === name);
}

/** A float, kept apart from integers (JS cannot tell `1` from `1.0`). */
export class ErlFloat {
  /** The value; finite. */
  readonly value: number;
  /** Wraps a finite number as a float. */
  constructor(value: number) {
    this.value = value;
  }
}

/** A bitstring whose length is not a multiple of 8. */
export class BitBinary {
  /** The bytes; the last holds `bits` significant high-order bits. */
  readonly bytes: Uint8Array;
  /** Significant bits in the last byte, 1 to 8. */
  readonly bits: number;
  /** Makes a bitstring from its bytes and the significant bits (1–8) of the last byte. */
  constructor(bytes: Uint8Array, bits: number) {
    this.bytes = bytes;
    this.bits = bits;
  }
}

/** A tuple. */
export class Tuple {
  /** The elements in order. */
  readonly elements: Term[];
  /** Makes a tuple of `elements`. */
  constructor(elements: Term[]) {
    this.elements = elements;
  }
  /** The number of elements. */
  get arity(): number {
    return this.elements.length;
  }
}

/** Makes a tuple. */
export function tuple(...elements: Term[]): Tuple {
  return new Tuple(elements);
}

/** A list whose last tail is not `[]`. */
export class ImproperList {
  /** The elements before the tail; at least one. */
  readonly elements: Term[];
  /** The final tail. */
  readonly tail: Term;
  /** Makes `[elements... | tail]`. */
  constructor(elements: Term[], tail: Term) {
    this.elements = elements;
    this.tail = tail;
  }
}

/** A map, in the order the keys arrived. Keys are terms, so look them up with {@link mapGet}. */
export class ErlMap {
  /** Key/value pairs. */
  readonly entries: [Term, Term][];
  /** Makes a map from key/value pairs (keys must be distinct). */
  constructor(entries: [Term, Term][]) {
    this.entries = entries;
  }
}

/** A process identifier. */
export class Pid {
  /** The node the process lives on. */
  readonly node: Atom;
  /** Process number. */
  readonly id: number;
  /** Serial. */
  readonly serial: number;
  /** The node incarnation (creation). */
  readonly creation: number;
  /** Makes a pid. */
  constructor(node: Atom, id: number, serial: number, creation: number) {
    this.node = node;
    this.id = id;
    this.serial = serial;
    this.creation = creation;
  }
}

/** A reference. */
export class Ref {
  /** The node that made it. */
  readonly node: Atom;
  /** The node incarnation (creation). */
  readonly creation: number;
  /** One to five 32-bit words. */
  readonly ids: number[];
  /** Makes a reference. */
  constructor(node: Atom, creation: number, ids: number[]) {
    this.node = node;
    this.creation = creation;
    this.ids = ids;
  }
}

/** A port identifier. */
export class Port {
  /** The node the port lives on. */
  readonly node: Atom;
  /** Port number (64-bit since OTP 26). */
  readonly id: bigint;
  /** The node incarnation (creation). */
  readonly creation: number;
  /** Makes a port. */
  constructor(node: Atom, id: bigint, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
  }
}

/** An external fun, `fun M:F/A`. */
export class ExportFun {
  /** Module. */
  readonly module: Atom;
  /** Function. */
  readonly function: Atom;
  /** Arity. */
  readonly arity: number;
  /** Makes `fun module:fn/arity`. */
  constructor(module: Atom, fn: Atom, arity: number) {
    this.module = module;
    this.function = fn;
    this.arity = arity;
  }
}

/** A local fun (NEW_FUN_EXT): opaque; only its module and arity are read out. */
export class LocalFun {
  /** The module that defines it. */
  readonly module: Atom;
  /** Arity. */
  readonly arity: number;
  /** The whole encoded term after the tag byte, so it re-encodes unchanged. */
  readonly raw: Uint8Array;
  /** Wraps a decoded NEW_FUN_EXT body. */
  constructor(module: Atom, arity: number, raw: Uint8Array) {
    this.module = module;
    this.arity = arity;
    this.raw = raw;
  }
}

/** Structural equality of two terms (numbers and bigints of the same value are equal). */
export function termEquals(a: Term, b: Term): boolean {
  if (a === b) return true;
  if ((typeof a === "number" || typeof a === "bigint") && (typeof b === "number" || typeof b === "bigint")) {
    if (typeof a === "number" && !Number.isInteger(a)) return false;
    if (typeof b === "number" && !Number.isInteger(b)) return false;
    return BigInt(a) === BigInt(b);
  }
  if (typeof a === "boolean" || typeof b === "boolean") {
    const an = typeof a === "boolean" ? String(a) : a instanceof Atom ? a.name : undefined;
    const bn = typeof b === "boolean" ? String(b) : b instanceof Atom ? b.name : undefined;
    return an !== undefined && an === bn;
  }
  if (typeof a === "string" || typeof b === "string") {
    const al = typeof a === "string" ? [...a].map((c) => c.codePointAt(0)!) : a;
    const bl = typeof b === "string" ? [...b].map((c) => c.codePointAt(0)!) : b;
    if (!Array.isArray(al) || !Array.isArray(bl)) return false;
    return termEquals(al, bl);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => termEquals(x, b[i]));
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) return bytesEqual(a, b);
  if (a instanceof Atom && b instanceof Atom) return a.name === b.name;
  if (a instanceof ErlFloat && b instanceof ErlFloat) {
    return Object.is(a.value, b.value) || a.value === b.value;
  }
  if (a instanceof BitBinary && b instanceof BitBinary) {
    return a.bits === b.bits && bytesEqual(a.bytes, b.bytes);
  }
  if (a instanceof Tuple && b instanceof Tuple) return termEquals(a.elements, b.elements);
  if (a instanceof ImproperList && b instanceof ImproperList) {
    return termEquals(a.elements, b.elements) && termEquals(a.tail, b.tail);
  }
  if (a instanceof ErlMap && b instanceof ErlMap) {
    return a.entries.length === b.entries.length &&
      a.entries.every(([k, v]) => {
        const e = b.entries.find(([k2]) => termEquals(k, k2));
        return e !== undefined && termEquals(v, e[1]);
      });
  }
  if (a instanceof Pid && b instanceof Pid) {
    return a.node.name === b.node.name && a.id === b.id && a.serial === b.serial && a.creation === b.creation;
  }
  if (a instanceof Ref && b instanceof Ref) {
    return a.node.name === b.node.name && a.creation === b.creation && termEquals(a.ids, b.ids);
  }
  if (a instanceof Port && b instanceof Port) {
    return a.node.name === b.node.name && a.id === b.id && a.creation === b.creation;
  }
  if (a instanceof ExportFun && b instanceof ExportFun) {
    return a.module.name === b.module.name && a.function.name === b.function.name && a.arity === b.arity;
  }
  if (a instanceof LocalFun && b instanceof LocalFun) return bytesEqual(a.raw, b.raw);
  return false;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Looks a key up in a map term. */
export function mapGet(map: ErlMap, key: Term): Term | undefined {
  return map.entries.find(([k]) => termEquals(k, key))?.[1];
}
