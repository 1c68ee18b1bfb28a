/**
 * Tag numbers and size limits of the External Term Format (erts external.h).
 * @module
 */

/** The version byte that starts every standalone term. */
export const VERSION = 131;

/** Default nesting limit for {@link DecodeOptions.maxDepth} and the encoder. */
export const DEFAULT_MAX_DEPTH = 512;

/** Default allocation budget for decoding: 64 MiB. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** The longest atom, in characters. */
export const MAX_ATOM_CHARS = 255;

/** Tag bytes. */
export const Tag = {
  COMPRESSED: 80,
  NEW_FLOAT: 70,
  BIT_BINARY: 77,
  ATOM_CACHE_REF: 82,
  NEW_PID: 88,
  NEW_PORT: 89,
  NEWER_REFERENCE: 90,
  SMALL_INTEGER: 97,
  INTEGER: 98,
  FLOAT: 99,
  ATOM: 100,
  REFERENCE: 101,
  PORT: 102,
  PID: 103,
  SMALL_TUPLE: 104,
  LARGE_TUPLE: 105,
  NIL: 106,
  STRING: 107,
  LIST: 108,
  BINARY: 109,
  SMALL_BIG: 110,
  LARGE_BIG: 111,
  NEW_FUN: 112,
  EXPORT: 113,
  NEW_REFERENCE: 114,
  SMALL_ATOM: 115,
  MAP: 116,
  FUN: 117,
  ATOM_UTF8: 118,
  SMALL_ATOM_UTF8: 119,
  V4_PORT: 120,
  LOCAL: 121,
} as const;

const NAMES: Record<number, string> = {};
for (const [name, tag] of Object.entries(Tag)) {
  NAMES[tag] = name === "COMPRESSED" ? "compressed term" : `${name}_EXT`;
}

/** The name of a tag for messages, e.g. `SMALL_BIG_EXT`, or `tag 42` for an unknown one. */
export function tagName(tag: number): string {
  return NAMES[tag] ?? `tag ${tag}`;
}

/** Options for {@link decodeTerm} and {@link decodeTermAt}. */
export interface DecodeOptions {
  /**
   * The deepest nesting of lists, tuples, maps and funs accepted: the outermost term is at depth 0
   * and each container's elements are one level deeper.
   * @default {512}
   */
  maxDepth?: number;
  /**
   * A budget for what decoding allocates: the sum of binary, string and big-integer byte lengths,
   * list, tuple and map element counts, and the inflated size of a compressed term. Every length is
   * also checked against the input that remains before anything is allocated.
   * @default {67108864} (64 MiB)
   */
  maxBytes?: number;
}

/** Options for {@link encodeTerm} and {@link encodeTermInto}. */
export interface EncodeOptions {
  /**
   * The deepest nesting of lists, tuples and maps accepted (a cyclic value fails here too).
   * @default {512}
   */
  maxDepth?: number;
}
