import { connectNode, type Cookie, HandshakeError, parseNodeName } from "../dist/mod.ts";
import { EpmdError, portPlease } from "../epmd/mod.ts";

/** Why a discovered peer is not connected, in a form that says what to fix. */
export interface PeerDiagnosis {
  /** A stable code: UNREACHABLE, TIMEOUT, NOT_REGISTERED, COOKIE_REJECTED, NAME_MISMATCH, REFUSED, … */
  code: string;
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
    if (err instanceof HandshakeError) {
      if (err.code === "COOKIE_REJECTED") {
        return {
          code: "COOKIE_REJECTED",
          message: `'${node}' refuses the cookie: it runs with a different cookie than this pod`,
        };
      }
      if (err.code === "NAME_MISMATCH") {
        return { code: "NAME_MISMATCH", message: err.message.replace(/^Cannot connect to '[^']*': /, "") };
      }
      return { code: err.code, message: err.message };
    }
    return { code: "UNKNOWN", message: err instanceof Error ? err.message : String(err) };
  }
}
