/**
 * Readiness judged from a mesh snapshot: one pure rule for `/readyz` and `erlmesh probe readiness`.
 * @module
 */
import type { MeshSnapshot } from "./snapshot.ts";

/**
 * When a pod is ready (the `readiness` setting): `node` (the local node answers), `meshed` (the
 * snapshot's verdict is `MESHED` or `ALONE`), or a number K (at least K discovered peers connected).
 */
export type ReadinessRule = "node" | "meshed" | number;

/** A readiness answer. */
export interface ReadinessVerdict {
  /** Whether the pod is ready. */
  ok: boolean;
  /** One line saying why. */
  detail: string;
}

/**
 * Judges readiness from a snapshot (pure). The local node must answer under every rule. Then:
 *
 * - `node`: ready.
 * - `meshed`: ready when the verdict is `MESHED` (peers discovered, all connected) or `ALONE` (discovery
 *   answered, listed this node and no other node is registered on the hosts). Not ready on an empty
 *   answer (`NO_HOSTS`), a failed discovery (`DISCOVERY_FAILED`), nodes that match no basename
 *   (`NO_MATCHING_NODES`) or a missing peer: a readiness that passed on those would form single-node
 *   clusters. Pod 0 of an `OrderedReady` StatefulSet becomes ready because the Service lists it
 *   (`publishNotReadyAddresses: true`, which `wait --self` needs too): it is then `ALONE`. Without
 *   that setting, DNS has no record of a not-ready pod, pod 0 sees `NO_HOSTS` and never becomes ready
 *   under `meshed`: use `node` or K = 0 there.
 * - K: ready when at least K discovered peers are connected; K = 0 is ready whenever the node answers.
 *
 * @example
 * ```ts
 * import { judgeReadiness } from "./readiness.ts";
 * import type { MeshSnapshot } from "./snapshot.ts";
 * declare const snapshot: MeshSnapshot;
 * const { ok, detail } = judgeReadiness(snapshot, "meshed");
 * console.log(ok ? "ready" : `not ready: ${detail}`);
 * ```
 */
export function judgeReadiness(
  snapshot: Pick<MeshSnapshot, "local" | "peers" | "verdict">,
  rule: ReadinessRule,
): ReadinessVerdict {
  const { local } = snapshot;
  if (!local.up) return { ok: false, detail: `${local.node} does not answer: ${local.error.message}` };
  if (rule === "node") return { ok: true, detail: `${local.node} answers` };
  if (rule === "meshed") {
    const { verdict } = snapshot;
    return {
      ok: verdict.code === "MESHED" || verdict.code === "ALONE",
      detail: `${local.node}: ${verdict.message}`,
    };
  }
  const connected = snapshot.peers.filter((p) => p.state === "connected").length;
  const of = `${connected} of ${snapshot.peers.length} discovered ${
    snapshot.peers.length === 1 ? "peer" : "peers"
  }`;
  return connected >= rule
    ? { ok: true, detail: `${local.node} is connected to ${of}, at least ${rule} needed` }
    : {
      ok: false,
      detail: `${local.node} is connected to ${of}, ${rule} needed${
        snapshot.peers.length < rule ? ` (${snapshot.verdict.message})` : ""
      }`,
    };
}
