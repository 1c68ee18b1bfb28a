/** Stable codes of {@link RuntimeError}. */
export type RuntimeErrorCode = "SPAWN" | "NOT_REGISTERED" | "HTTP";

/** `run` mode could not start the release, or the release's node never registered. */
export class RuntimeError extends Error {
  /** Always `RuntimeError`. */
  override name = "RuntimeError";
  /** A stable code for programs to match on. */
  readonly code: RuntimeErrorCode;
  /** Makes an error with a stable code. */
  constructor(code: RuntimeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
