/** Bad command-line input: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** A stable code for programs to match on. */
  readonly code = "USAGE";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
