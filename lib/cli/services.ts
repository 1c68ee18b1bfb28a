import { logger } from "./logging.ts";
import type { ClusterEvent, CycleReport, Reconciler, ReconcilerCounters } from "../cluster/mod.ts";
import type { Config } from "../config/mod.ts";
import type { MeshMetrics } from "../runtime/metrics.ts";
import { logCycle, logEvent } from "./events_log.ts";

/** The metrics and health server around a reconcile loop (`agent` and `run`). */
export interface MeshServices {
  /** The metrics, when `http` is set (their module is loaded only then). */
  metrics?: MeshMetrics;
  /** Called for every event: logs it once. */
  onEvent: (e: ClusterEvent) => void;
  /** Called after every cycle: updates the metrics. */
  onCycle: (r: CycleReport, counters: ReconcilerCounters) => void;
  /** Starts the HTTP server when `http` is configured. */
  listen(reconciler: Reconciler): void;
  /** Stops the HTTP server. */
  close(): Promise<void>;
}

/** Event logging and, when `http` is set, metrics and `/livez`, `/readyz`, `/startupz`, `/metrics`. */
export async function meshServices(cfg: Config): Promise<MeshServices> {
  // The metrics and the HTTP server cost memory: only with --http.
  const metrics = cfg.http ? new (await import("../runtime/metrics.ts")).MeshMetrics() : undefined;
  const { serveHealth } = await import("../runtime/http.ts");
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  return {
    metrics,
    onEvent: logEvent,
    onCycle: (r, counters) => {
      metrics?.update(r, counters);
      logCycle(r);
    },
    listen(reconciler) {
      if (!cfg.http || !metrics) return;
      server = serveHealth({
        listen: cfg.http,
        reconciler,
        metrics,
        readiness: cfg.readiness,
        staleMs: Math.max(3 * cfg.interval, 5000),
      });
      logger(["erlmesh", "http"]).info(
        "Health and metrics on http://{addr}/ (/livez /readyz /startupz /metrics)",
        {
          addr: `${server.addr.hostname}:${server.addr.port}`,
        },
      );
    },
    async close() {
      await server?.shutdown();
    },
  };
}
