/**
 * Stable codes of {@link EtfDecodeError}.
 *
 * - `BAD_VERSION`: the first byte is not 131.
 * - `TRUNCATED`: the input ends inside a term, or a length claims more bytes than remain.
 * - `UNKNOWN_TAG`: a tag byte that is not part of the External Term Format.
 * - `UNSUPPORTED_TAG`: a known tag this codec refuses (LOCAL_EXT, ATOM_CACHE_REF, FUN_EXT).
 * - `TOO_DEEP`: containers nested deeper than `maxDepth`.
 * - `TOO_LARGE`: the term would allocate more than `maxBytes`.
 * - `INVALID`: a well-framed but malformed value (bad UTF-8, NaN float, duplicate map key, a bad
 *   zlib stream, ...).
 * - `TRAILING`: bytes remain after the term.
 */
export type EtfDecodeErrorCode =
  | "BAD_VERSION"
  | "TRUNCATED"
  | "UNKNOWN_TAG"
  | "UNSUPPORTED_TAG"
  | "TOO_DEEP"
  | "TOO_LARGE"
  | "INVALID"
  | "TRAILING";

/**
 * Bytes that are not a valid External Term Format term.
 *
 * @example
 * ```ts
 * import { decodeTerm, EtfDecodeError } from "./mod.ts";
 *
 * try {
 *   decodeTerm(new Uint8Array([131, 110, 8, 0, 1, 2, 3]));
 * } catch (e) {
 *   if (e instanceof EtfDecodeError) console.log(e.code, e.offset); // TRUNCATED 3
 * }
 * ```
 */
export class EtfDecodeError extends Error {
  /** Always `"EtfDecodeError"`. */
  override name = "EtfDecodeError";
  /** A stable code for programs to match on. */
  readonly code: EtfDecodeErrorCode;
  /**
   * The byte offset where decoding failed, counted in the input (or, inside a compressed term, in
   * the inflated data; the message says so).
   */
  readonly offset: number;
  /** The tag byte of the term being decoded, when there was one. */
  readonly tag: number | undefined;

  /**
   * Makes the error; the message reads `Cannot decode term at byte <offset>: <detail>`.
   * Set `options.inflated` when `offset` counts in the inflated data of a compressed term.
   */
  constructor(
    code: EtfDecodeErrorCode,
    offset: number,
    detail: string,
    tag?: number,
    options?: ErrorOptions & { inflated?: boolean },
  ) {
    super(
      options?.inflated
        ? `Cannot decode compressed term at inflated byte ${offset}: ${detail}`
        : `Cannot decode term at byte ${offset}: ${detail}`,
      options,
    );
    this.code = code;
    this.offset = offset;
    this.tag = tag;
  }
}

/**
 * Stable codes of {@link EtfEncodeError}.
 *
 * - `NOT_A_TERM`: a JS value with no Erlang counterpart (`undefined`, a plain object, ...).
 * - `BAD_FLOAT`: NaN or ±Infinity.
 * - `ATOM_TOO_LONG`: an atom over 255 characters.
 * - `TOO_DEEP`: containers nested deeper than `maxDepth` (or a cycle).
 * - `TOO_LARGE`: a length that does not fit its field.
 * - `INVALID`: a term object whose fields are out of range (a negative pid id, a ref with six
 *   words, a bitstring with 9 bits in its last byte, ...).
 */
export type EtfEncodeErrorCode =
  | "NOT_A_TERM"
  | "BAD_FLOAT"
  | "ATOM_TOO_LONG"
  | "TOO_DEEP"
  | "TOO_LARGE"
  | "INVALID";

/**
 * A value that cannot be written in the External Term Format.
 *
 * @example
 * ```ts
 * import { encodeTerm, ErlFloat, EtfEncodeError } from "./mod.ts";
 *
 * try {
 *   encodeTerm(new ErlFloat(NaN));
 * } catch (e) {
 *   if (e instanceof EtfEncodeError) console.log(e.code); // BAD_FLOAT
 * }
 * ```
 */
export class EtfEncodeError extends Error {
  /** Always `"EtfEncodeError"`. */
  override name = "EtfEncodeError";
  /** A stable code for programs to match on. */
  readonly code: EtfEncodeErrorCode;

  /** Makes the error. */
  constructor(code: EtfEncodeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
