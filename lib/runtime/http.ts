import { splitHostPort } from "../bytes/address.ts";
import type { Reconciler } from "../cluster/mod.ts";
import type { Readiness } from "../config/mod.ts";
import { RuntimeError } from "./errors.ts";
import { judge, type ProbeKind } from "./health.ts";
import type { MeshMetrics } from "./metrics.ts";

/** Options of {@link serveHealth}. */
export interface HealthServerOptions {
  /** `host:port` to listen on; port 0 picks a free one. */
  listen: string;
  reconciler: Reconciler;
  metrics: MeshMetrics;
  readiness: Readiness;
  /** How old the last good cycle may be for the node to count as answering, ms. */
  staleMs: number;
}

const PATHS: Record<string, ProbeKind> = {
  "/livez": "liveness",
  "/readyz": "readiness",
  "/startupz": "startup",
};

/** Parses `host:port` (`[v6]:port`, `:port`). */
export function parseListen(listen: string): { hostname: string; port: number } {
  const hp = splitHostPort(listen.trim());
  if (hp?.port === undefined) {
    throw new RuntimeError(
      "HTTP",
      `Invalid http address '${listen}': expected host:port such as 0.0.0.0:9090 or :9090`,
    );
  }
  return { hostname: hp.host || "0.0.0.0", port: hp.port };
}

/**
 * Serves `/livez`, `/readyz`, `/startupz` (200 or 503 with one line of detail) and `/metrics` (the
 * Prometheus text format). Probe answers come from the loop's state, so they are immediate.
 */
export function serveHealth(options: HealthServerOptions): Deno.HttpServer<Deno.NetAddr> {
  const { hostname, port } = parseListen(options.listen);
  return Deno.serve({ hostname, port, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/metrics") {
      return new Response(await options.metrics.text(), {
        headers: { "content-type": options.metrics.contentType },
      });
    }
    const kind = PATHS[path];
    if (!kind) {
      return new Response("not found: try /livez, /readyz, /startupz or /metrics\n", { status: 404 });
    }
    const r = judge(kind, options.reconciler, options.readiness, options.staleMs);
    return new Response(`${r.ok ? "ok" : "fail"}: ${r.detail}\n`, {
      status: r.ok ? 200 : 503,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  });
}
