/**
 * Stable codes of {@link DiscoveryError}.
 *
 * - `NXDOMAIN_OR_NODATA`: the DNS server answered that the name has no records of that type. Deno
 *   reports NXDOMAIN and NODATA alike, and also SERVFAIL and REFUSED (see `resolver.ts`).
 * - `TIMEOUT`: no DNS answer within the deadline (server down, packets dropped).
 * - `DNS`: any other DNS failure (for example a TCP connection error).
 * - `EPMD`: EPMD could not be asked about a host.
 * - `CONFIG`: a source or the enumerator was set up wrongly (bad name, missing basename), or the
 *   Kubernetes service-account files cannot be read.
 * - `FORBIDDEN`: the Kubernetes API refused (403): the service account lacks a permission, which the
 *   error names (`KubernetesForbiddenError`).
 * - `UNAUTHORIZED`: the Kubernetes API did not accept the service-account token (401).
 * - `API`: any other failure of a Kubernetes API request (connection, HTTP error, broken watch).
 */
export type DiscoveryErrorCode =
  | "NXDOMAIN_OR_NODATA"
  | "TIMEOUT"
  | "DNS"
  | "EPMD"
  | "CONFIG"
  | "FORBIDDEN"
  | "UNAUTHORIZED"
  | "API";

/** Structured fields of a {@link DiscoveryError}. */
export interface DiscoveryErrorOptions extends ErrorOptions {
  /** The DNS query (`name TYPE`) or host behind the failure. */
  query?: string;
}

/**
 * A discovery source or the enumerator failed, or was configured wrongly.
 *
 * @example Matching on the code
 * ```ts
 * import { DiscoveryError, srvSource } from "./mod.ts";
 *
 * const source = srvSource({ name: "_epmd._tcp.app.default.svc.cluster.local." });
 * const { error } = await source.discover();
 * if (error instanceof DiscoveryError && error.code === "NXDOMAIN_OR_NODATA") console.log("no peers yet");
 * ```
 */
export class DiscoveryError extends Error {
  /** Always `"DiscoveryError"`. */
  override name = "DiscoveryError";
  /** A stable code for programs to match on. */
  readonly code: DiscoveryErrorCode;
  /** The DNS query (`name TYPE`) or host behind the failure, when there is one. */
  readonly query?: string;

  /** Creates an error; `message` follows "Action: state" with no final period. */
  constructor(code: DiscoveryErrorCode, message: string, options: DiscoveryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.query !== undefined) this.query = options.query;
  }
}
