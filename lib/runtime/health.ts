import type { CycleReport, Reconciler } from "../cluster/mod.ts";
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
 * readiness: as `readiness` says (`node`, `meshed`, or at least K connected peers);
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
  if (kind === "liveness" || readiness === "node") return { ok: true, detail: `${local} answers` };
  const connected = (last?.discovered.length ?? 0) - (last?.missing.length ?? 0);
  if (readiness === "meshed") {
    return last && last.missing.length === 0
      ? { ok: true, detail: `${local} is connected to all ${last.discovered.length} discovered peer(s)` }
      : { ok: false, detail: `${local} is missing ${last?.missing.map((m) => m.node).join(", ")}` };
  }
  return connected >= readiness
    ? { ok: true, detail: `${local} is connected to ${connected} peer(s), at least ${readiness} needed` }
    : { ok: false, detail: `${local} is connected to ${connected} peer(s), ${readiness} needed` };
}
