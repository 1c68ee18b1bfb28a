/** Stable codes of {@link ClusterError}. */
export type ClusterErrorCode = "LOCAL_NODE_DOWN" | "LOCAL_NODE_UNKNOWN" | "LOCAL_NODE_AMBIGUOUS" | "STOPPED";

/** The reconcile loop cannot do its work: the local node is not there, or not known. */
export class ClusterError extends Error {
  /** Always `"ClusterError"`. */
  override name = "ClusterError";
  /** A stable code for programs to match on. */
  readonly code: ClusterErrorCode;
  /** A reconcile failure; `options.cause` carries the underlying error. */
  constructor(code: ClusterErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
