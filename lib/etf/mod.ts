/**
 * The Erlang External Term Format: {@link encodeTerm} and {@link decodeTerm} convert between
 * {@link Term} values and `term_to_binary` bytes; {@link encodeTermInto} and {@link decodeTermAt}
 * work inside distribution packets.
 *
 * @example
 * ```ts
 * import { atom, decodeTerm, encodeTerm, termEquals, tuple } from "./mod.ts";
 *
 * const bytes = encodeTerm(tuple(atom("ok"), [1, 2, 3], new Uint8Array([7])));
 * const back = decodeTerm(bytes); // {ok, [1,2,3], <<7>>}
 * console.log(termEquals(back, tuple(atom("ok"), [1, 2, 3], new Uint8Array([7])))); // true
 * ```
 * @module
 */
export * from "./term.ts";
export { decodeTerm, decodeTermAt } from "./decode.ts";
export { encodeTerm, encodeTermInto, type TermWriter } from "./encode.ts";
export {
  EtfDecodeError,
  type EtfDecodeErrorCode,
  EtfEncodeError,
  type EtfEncodeErrorCode,
} from "./errors.ts";
export { type DecodeOptions, DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, type EncodeOptions } from "./limits.ts";
