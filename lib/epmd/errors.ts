/**
 * Stable codes of {@link EpmdError}.
 *
 * - `BAD_PORT`: the EPMD port option is not an integer in 1..65535.
 * - `BAD_NAME`: the name to resolve is empty, longer than 255 UTF-8 bytes, not well-formed or holds `@`.
 * - `CANNOT_RESOLVE`: the host name has no address (DNS or `/etc/hosts` do not know it); EPMD was not asked.
 * - `REFUSED`: the host refused the TCP connection: nothing listens on that port (EPMD not running, or
 *   on another port: `ERL_EPMD_PORT`).
 * - `UNREACHABLE`: no TCP connection to EPMD for another reason (no route to the host, network down).
 * - `NOT_EPMD`: something answers on the port, but not EPMD: an HTTP or SSH server, or a port that
 *   closes the connection without answering NAMES_REQ (which EPMD always answers), such as an Erlang
 *   distribution port.
 * - `TIMEOUT`: the deadline passed before the operation finished.
 * - `ABORTED`: the caller's signal aborted the operation for a reason other than a timeout.
 * - `NO_REPLY`: EPMD closed the connection without sending anything (it does so for names it rejects).
 * - `BAD_REPLY`: EPMD sent something that is not the expected reply, or stopped in the middle of one.
 * - `TOO_LARGE`: the NAMES_REQ reply is larger than the client accepts.
 * - `NOT_REGISTERED`: PORT2_RESP with result 1: no node with that name is registered.
 * - `EPMD_ERROR`: PORT2_RESP with another non-zero result (see {@link EpmdError.result}).
 */
export type EpmdErrorCode =
  | "BAD_PORT"
  | "BAD_NAME"
  | "CANNOT_RESOLVE"
  | "REFUSED"
  | "UNREACHABLE"
  | "NOT_EPMD"
  | "TIMEOUT"
  | "ABORTED"
  | "NO_REPLY"
  | "BAD_REPLY"
  | "TOO_LARGE"
  | "NOT_REGISTERED"
  | "EPMD_ERROR";

/** Structured fields of an {@link EpmdError}. */
export interface EpmdErrorOptions extends ErrorOptions {
  /** The EPMD host asked, or `""` when no host was involved. */
  host?: string;
  /** The EPMD port asked, or `0` when no port was involved. */
  port?: number;
  /** The non-zero result byte of a PORT2_RESP. */
  result?: number;
}

/**
 * A failed EPMD operation: EPMD unreachable, silent, hostile, or the name not registered.
 *
 * @example Matching on the code
 * ```ts
 * import { EpmdError, portPlease } from "./mod.ts";
 *
 * try {
 *   await portPlease("127.0.0.1", "app", { timeoutMs: 1000 });
 * } catch (err) {
 *   if (err instanceof EpmdError && err.code === "NOT_REGISTERED") console.log("app is not running");
 *   else if (err instanceof EpmdError) console.log(err.message);
 *   else throw err;
 * }
 * ```
 */
export class EpmdError extends Error {
  /** Always `"EpmdError"`. */
  override name = "EpmdError";
  /** A stable code for programs to match on. */
  readonly code: EpmdErrorCode;
  /** The EPMD host asked, or `""` when no host was involved. */
  readonly host: string;
  /** The EPMD port asked, or `0` when no port was involved. */
  readonly port: number;
  /** The non-zero result byte of a PORT2_RESP, for `NOT_REGISTERED` and `EPMD_ERROR`. */
  readonly result?: number;

  /** Creates an error; `message` follows "Action: state" with no final period. */
  constructor(code: EpmdErrorCode, message: string, options: EpmdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.host = options.host ?? "";
    this.port = options.port ?? 0;
    if (options.result !== undefined) this.result = options.result;
  }
}
