/**
 * Why a discovered peer is missing, in a snapshot's own words. A snapshot never asks the local node to
 * connect, so it must not say that a connect failed: it says what it observed.
 * @module
 */
import type { DiagnosisCode, PeerDiagnosis } from "./diagnose.ts";

export type { DiagnosisCode } from "./diagnose.ts";

/**
 * Why a peer is missing in a snapshot: the diagnosis codes, except that a peer erlmesh itself can reach
 * is `NOT_CONNECTED` (no connect was attempted; `REFUSED` and `RPC` only say something after a real
 * connect_node), and `NOT_CONNECTED` too when no diagnosis was made; `NAME_FORM` for a peer of the
 * other name form, which is not diagnosed. A snapshot built from a reconciler's report carries the
 * report's codes (`PENDING`, `CONNECTING`, …), hence the open tail.
 */
export type PeerReasonCode =
  | Exclude<DiagnosisCode, "REFUSED" | "RPC">
  | "NOT_CONNECTED"
  | "NAME_FORM"
  | (string & Record<never, never>);

/** A snapshot's reason for a missing peer. */
export interface PeerReason {
  /** See {@link PeerReasonCode}. */
  code: PeerReasonCode;
  /** One sentence: what was observed, and what to do. */
  message: string;
}

/**
 * The reason a snapshot gives for a discovered peer missing from the local node's `nodes()`, from a
 * diagnosis made without asking the local node to connect (EPMD, then erlmesh's own handshake).
 * Diagnoses that describe the peer (not registered, cookie refused, …) keep their words; `REFUSED`
 * becomes `NOT_CONNECTED` with what it means when nobody asked the local node to connect.
 *
 * @example
 * ```ts
 * import { snapshotReason } from "./reasons.ts";
 * snapshotReason("b@10.0.0.2", { code: "REFUSED", message: "…" }).code; // "NOT_CONNECTED"
 * ```
 */
export function snapshotReason(node: string, diagnosis: PeerDiagnosis | undefined): PeerReason {
  if (diagnosis === undefined) {
    return { code: "NOT_CONNECTED", message: `'${node}' is not connected to the local node (not diagnosed)` };
  }
  if (diagnosis.code === "REFUSED" || diagnosis.code === "RPC") {
    return {
      code: "NOT_CONNECTED",
      message: `'${node}' is not connected to the local node; erlmesh's own handshake with it succeeds, ` +
        "so the local node has not been asked to connect to it, or refused to: run 'erlmesh agent --once' " +
        "(it asks and says why a connect fails) or check the agent's and the local node's logs",
    };
  }
  return { code: diagnosis.code, message: diagnosis.message };
}
