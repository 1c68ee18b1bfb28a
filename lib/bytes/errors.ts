/** Stable codes of {@link BytesError}. */
export type BytesErrorCode = "EOF" | "TIMEOUT" | "TOO_LARGE" | "CLOSED" | "CONNECT";

/** A transport-level failure: the peer closed early, a deadline passed, or a frame was too large. */
export class BytesError extends Error {
  override name = "BytesError";
  /** A stable code for programs to match on. */
  readonly code: BytesErrorCode;
  constructor(code: BytesErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
