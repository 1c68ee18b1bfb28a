import { type CycleReport, judgeReadiness, type Reconciler, snapshotOfCycle } from "../cluster/mod.ts";
import type { Readiness } from "../config/mod.ts";

/** The answer to one probe. */
export interface ProbeResult {
  ok: boolean;
  /** One line saying why. */
  detail: string;
}

/** Which probe. */
export type ProbeKind = "liveness" | "readiness" | "startup";

/**
 * Judges the probes from the reconcile loop's state, without network work, so they answer at once:
 * liveness: the local node answered within the last `staleMs` (DNS and peers play no part);
 * readiness: {@link judgeReadiness} of a snapshot of the last cycle ({@link snapshotOfCycle}): `node`,
 * `meshed` (every discovered peer connected, or this node alone by design; never on an empty or failed
 * discovery), or at least K discovered peers connected;
 * startup: the local node has answered once.
 */
export function judge(
  kind: ProbeKind,
  reconciler: Reconciler,
  readiness: Readiness,
  staleMs: number,
): ProbeResult {
  const last: CycleReport | undefined = reconciler.last;
  const fresh = reconciler.lastSuccessAt > 0 && Date.now() - reconciler.lastSuccessAt <= staleMs;
  const local = last?.local ?? reconciler.link.name ?? "the local node";
  if (kind === "startup") {
    return reconciler.lastSuccessAt > 0
      ? { ok: true, detail: `${local} is up` }
      : { ok: false, detail: `${local} has not answered yet${last?.error ? `: ${last.error}` : ""}` };
  }
  if (!fresh) {
    return {
      ok: false,
      detail: `${local} has not answered for ${staleMs} ms${last?.error ? `: ${last.error}` : ""}`,
    };
  }
  // Fresh means the node answered within `staleMs`: enough for liveness and readiness `node`.
  if (kind === "liveness" || readiness === "node") return { ok: true, detail: `${local} answers` };
  if (!last) return { ok: false, detail: `${local} has not been checked yet` };
  const snapshot = snapshotOfCycle(last, { localLabel: local, source: reconciler.source.description });
  return judgeReadiness(snapshot, readiness);
}
