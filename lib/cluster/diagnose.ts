import {
  connectNode,
  type Cookie,
  HandshakeError,
  type HandshakeErrorCode,
  parseNodeName,
} from "../dist/mod.ts";
import { EpmdError, portPlease } from "../epmd/mod.ts";
import { BytesError, connectTcp, deadline } from "../bytes/mod.ts";

/**
 * Why a discovered peer is not connected:
 * - from the peer's EPMD ({@link probePeer}): `NOT_REGISTERED`, `TIMEOUT`, `UNREACHABLE`;
 * - from erlmesh's own handshake ({@link diagnosePeer}): every {@link HandshakeErrorCode}, such as
 *   `COOKIE_REJECTED`, `BAD_DIGEST`, `NAME_MISMATCH` or `NOT_ALLOWED`;
 * - `REFUSED`: erlmesh's own handshake succeeds, so the local node's `connect_node` is what failed;
 * - `RPC`: the call asking the local node to `connect_node` failed (the reconciler's);
 * - `UNKNOWN`: any other failure.
 */
export type DiagnosisCode = HandshakeErrorCode | "REFUSED" | "RPC" | "UNKNOWN";

const REFUSAL_CODES: ReadonlySet<DiagnosisCode> = new Set<DiagnosisCode>([
  "COOKIE_REJECTED",
  "BAD_DIGEST",
  "NAME_MISMATCH",
  "NOT_ALLOWED",
  "CERT_REJECTED",
  "CERT_UNTRUSTED",
  "CERT_NAME",
  "CERT_EXPIRED",
  "TLS_REQUIRED",
  "NO_TLS",
]);

/**
 * True for the codes that mean the peer (or the local node) refused erlmesh's handshake: a wrong
 * cookie (`COOKIE_REJECTED`, `BAD_DIGEST`), another name (`NAME_MISMATCH`), `NOT_ALLOWED`, or a TLS
 * failure (a certificate refused, untrusted, misnamed or expired; TLS on one side only). Each refused
 * handshake is a line in that node's log (a TLS alert is a notice there), so these are retried slowly.
 *
 * @example
 * ```ts
 * import { isRefusalCode } from "./diagnose.ts";
 * isRefusalCode("COOKIE_REJECTED"); // true
 * isRefusalCode("TIMEOUT"); // false
 * ```
 */
export function isRefusalCode(code: DiagnosisCode): boolean {
  return REFUSAL_CODES.has(code);
}

/** Why a discovered peer is not connected, in a form that says what to fix. */
export interface PeerDiagnosis {
  /** A stable code; see {@link DiagnosisCode}. */
  code: DiagnosisCode;
  /** One sentence. */
  message: string;
}

/** Options of {@link probePeer} and {@link diagnosePeer}. */
export interface ProbeOptions {
  /** EPMD port on the peer's host. */
  epmdPort?: number;
  /** Deadline. @default 1000 */
  timeoutMs?: number;
  /** Aborts the probe. */
  signal?: AbortSignal;
}

/**
 * Asks the EPMD on the peer's host whether the peer is registered. Undefined when it is (so a connect
 * can be asked for), or why not. Cheap: one EPMD request, answered at once by a reachable host, so a
 * partitioned peer costs the local node nothing.
 */
export async function probePeer(
  node: string,
  options: ProbeOptions = {},
): Promise<PeerDiagnosis | undefined> {
  const { alive, host } = parseNodeName(node);
  try {
    await portPlease(host, alive, {
      port: options.epmdPort,
      timeoutMs: options.timeoutMs ?? 1000,
      signal: options.signal,
    });
    return undefined;
  } catch (err) {
    if (!(err instanceof EpmdError)) throw err;
    if (err.code === "NOT_REGISTERED") {
      return {
        code: "NOT_REGISTERED",
        message: `EPMD on ${host} has no node '${alive}' (not started yet, or stopped)`,
      };
    }
    if (err.code === "TIMEOUT") {
      return {
        code: "TIMEOUT",
        message: `EPMD on ${host} did not answer in time (host down or partitioned)`,
      };
    }
    return { code: "UNREACHABLE", message: `EPMD on ${host} is unreachable (${err.message})` };
  }
}

/**
 * For nodes run without EPMD (`distPort`): whether something listens on the peer's distribution port,
 * by a TCP connection closed at once, before any byte is sent (OTP 25, 27 and 29 log nothing for it,
 * even at debug level). Undefined when it does; a diagnosis when it refuses or does not answer in time.
 * The reconciler asks this before a retry, as it asks EPMD otherwise, so a partitioned or stopped peer
 * never reaches `net_kernel:connect_node/1`, whose attempt would wait for the SYN to be re-sent.
 */
export async function probeDistPort(
  node: string,
  port: number,
  options: Omit<ProbeOptions, "epmdPort"> = {},
): Promise<PeerDiagnosis | undefined> {
  const { host } = parseNodeName(node);
  const timeoutMs = options.timeoutMs ?? 1000;
  try {
    const d = deadline(timeoutMs, options.signal);
    try {
      (await connectTcp(host, port, { signal: d.signal })).close();
    } finally {
      d.clear();
    }
    return undefined;
  } catch (err) {
    if (!(err instanceof BytesError)) throw err;
    if (err.code === "TIMEOUT") {
      return {
        code: "TIMEOUT",
        message: `the distribution port ${port} on ${host} did not answer in time (host down or partitioned)`,
      };
    }
    return { code: "UNREACHABLE", message: `the distribution port ${port} does not answer (${err.message})` };
  }
}

/**
 * Finds out why a connect to a registered peer failed, by trying erlmesh's own hidden handshake with
 * it: a refused cookie or a node that answers under another name is named as such.
 */
export async function diagnosePeer(
  node: string,
  cookie: Cookie,
  options: ProbeOptions = {},
): Promise<PeerDiagnosis> {
  try {
    const conn = await connectNode(node, {
      cookie,
      epmdPort: options.epmdPort,
      timeoutMs: options.timeoutMs ?? 2000,
      signal: options.signal,
    });
    conn.close();
    return {
      code: "REFUSED",
      message:
        `'${node}' accepts erlmesh's own connection, but the local node's connect_node failed: check the local node's log (name form -name vs -sname, net_kernel:allow/1, or a cookie set per node)`,
    };
  } catch (err) {
    return diagnosisOf(node, err);
  }
}

/**
 * The diagnosis of a failed connect to `node`, from the error's code and fields (never from its
 * message text): a refused cookie and a node answering under another name say what to fix; other
 * handshake failures keep the handshake's message; anything else is `UNKNOWN`.
 *
 * @example
 * ```ts
 * import { HandshakeError } from "../dist/mod.ts";
 * import { diagnosisOf } from "./diagnose.ts";
 * const err = new HandshakeError("NAME_MISMATCH", "b@10.0.0.2", "…", { peerName: "c@10.0.0.2" });
 * diagnosisOf("b@10.0.0.2", err).message; // "the node on that port is 'c@10.0.0.2', not 'b@10.0.0.2' (…)"
 * ```
 */
export function diagnosisOf(node: string, err: unknown): PeerDiagnosis {
  if (!(err instanceof HandshakeError)) {
    return { code: "UNKNOWN", message: err instanceof Error ? err.message : String(err) };
  }
  switch (err.code) {
    case "COOKIE_REJECTED":
      return {
        code: "COOKIE_REJECTED",
        message: `'${node}' refuses the cookie: it runs with a different cookie than this pod`,
      };
    case "NAME_MISMATCH":
      if (err.peerName === undefined) break;
      return {
        code: "NAME_MISMATCH",
        message: `the node on that port is '${err.peerName}', not '${err.node}' ` +
          "(use the node's exact name, as in its -name/-sname or RELEASE_NODE)",
      };
  }
  return { code: err.code, message: err.message };
}
