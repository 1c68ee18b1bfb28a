import { loadLogging, logger } from "./logging.ts";
import type { ClusterEvent, CycleReport } from "../cluster/mod.ts";

/**
 * Logs, at debug level, a pass that had something to do (a peer missing, an attempt started, a failure):
 * a quiet pass logs nothing, so `--log-level debug` shows the work without a line per interval.
 */
export function logCycle(r: CycleReport): void {
  if (r.ok && r.missing.length === 0 && r.attempted.length === 0) {
    void loadLogging(); // nothing left to do: the moment to load the logger (see logging.ts)
    return;
  }
  logger(["erlmesh", "cluster"]).debug(
    "Pass: {connected} connected, {missing} missing, {attempted} attempted",
    {
      event: "cycle",
      ok: r.ok,
      error: r.error,
      connected: r.connected.length,
      missing: r.missing.length,
      attempted: r.attempted.length,
      missingPeers: r.missing.map((m) => `${m.node} ${m.code}`),
      attemptedPeers: r.attempted,
      discovered: r.discovered.length,
      durationMs: Math.round(r.durationMs),
    },
  );
}

/** Logs a reconcile event: each join, departure and failure once. */
export function logEvent(e: ClusterEvent): void {
  const log = logger(["erlmesh", "cluster"]);
  switch (e.type) {
    case "local_up":
      log.info("Connected to the local node {node}", {
        event: e.type,
        node: e.node,
        generation: e.generation,
      });
      return;
    case "local_down":
      log.warn("The local node {node} is not reachable: {reason}", {
        event: e.type,
        node: e.node,
        reason: e.reason,
      });
      return;
    case "local_refused":
      log.error(
        "Cannot mesh the local node {node} ({code}): {reason}; retrying in {first}, then at most every {max}, and at once when the node restarts",
        {
          event: e.type,
          node: e.node,
          code: e.code,
          reason: e.reason,
          cookieSource: e.cookieSource,
          first: `${e.retry.firstMs / 1000} s`,
          max: `${e.retry.maxMs / 1000} s`,
        },
      );
      return;
    case "name_form_mismatch":
      log.error(
        "Cannot mesh the local node {node} with the nodes on {hosts}{peerList}: it runs with {form} names and those have {other} names, which net_kernel refuses, so erlmesh never asks it to connect them; {fix}",
        {
          event: e.type,
          node: e.node,
          hosts: e.hosts.join(", "),
          peerList: e.peers.length ? ` (${e.peers.join(", ")})` : "",
          peers: e.peers,
          form: e.kind,
          other: e.kind === "short" ? "long" : "short",
          fix: e.fix,
        },
      );
      return;
    case "join":
      log.info("Peer {node} joined", { event: e.type, node: e.node });
      return;
    case "leave":
      log.warn("Peer {node} left", { event: e.type, node: e.node });
      return;
    case "connect_failed":
      log.warn("Cannot connect to {node} ({code}): {reason}", {
        event: e.type,
        node: e.node,
        code: e.code,
        reason: e.reason,
      });
      return;
    case "discovery_failed":
      log.warn("Discovery failed ({code}): {reason}; {action}", {
        event: e.type,
        code: e.code,
        reason: e.reason,
        action: e.stale ? "keeping the last good answer" : "no earlier answer to keep",
      });
      return;
    case "discovery_recovered":
      log.info("Discovery works again", { event: e.type });
      return;
    case "watch_failed":
      log.warn("Cannot watch node events on the local node ({reason}); relying on polling", {
        event: e.type,
        reason: e.reason,
      });
      return;
    case "peer_found":
      log.debug("Discovered {node}", { event: e.type, node: e.node });
      return;
    case "peer_gone":
      log.info("{node} is no longer discovered", { event: e.type, node: e.node });
      return;
  }
}
