import type { Command } from "commander";
import { command } from "./commands.ts";
import { getLogger } from "@logtape/logtape";
import { Reconciler } from "../cluster/mod.ts";
import { act } from "./common.ts";
import { configFrom, cookieFrom, enumeratorFrom, sourceFrom, withConfigOptions } from "./cluster_setup.ts";
import { logEvent } from "./events_log.ts";
import { localTarget } from "./local_node.ts";
import { setupLogging } from "./logging.ts";
import { globalOutput } from "./output.ts";

/** `erlmesh agent`: keeps an already running node meshed (the sidecar form). */
export function agentCommand(): Command {
  return withConfigOptions(
    command("agent"),
  ).action(act(async (raw: Record<string, unknown>) => {
    globalOutput(raw);
    const cfg = await configFrom(raw);
    await setupLogging(cfg.logFormat, cfg.logLevel);
    const log = getLogger(["erlmesh", "agent"]);
    keepRunningOnInternalErrors(log);
    const target = localTarget(cfg);
    const cookie = await cookieFrom(cfg);
    const source = sourceFrom(cfg);
    const reconciler = new Reconciler({
      ...target,
      cookie,
      source,
      enumerator: enumeratorFrom(cfg),
      epmdPort: cfg.epmdPort,
      intervalMs: cfg.interval,
      fastIntervalMs: cfg.fastInterval,
      connectTimeoutMs: cfg.connectTimeout,
      rpcTimeoutMs: cfg.rpcTimeout,
      concurrency: cfg.concurrency,
      onEvent: logEvent,
    });
    log.info(
      "erlmesh agent started for {node}, discovering peers through {source} (cookie from {cookieSource})",
      {
        node: target.localNode ?? `${target.localAlive}@? (learnt from the local EPMD)`,
        source: source.description,
        cookieSource: cookie.source,
      },
    );
    const stop = () => reconciler.stop();
    for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, stop);
    try {
      await reconciler.run();
    } finally {
      for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.removeSignalListener(sig, stop);
    }
    log.info("erlmesh agent stopped after {cycles} cycles", { cycles: reconciler.counters.cycles });
    return 0;
  }));
}

/** An agent must not die of a stray rejected promise: it logs the bug and keeps the mesh. */
export function keepRunningOnInternalErrors(log: ReturnType<typeof getLogger>): void {
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    const r = e.reason;
    log.error("Internal error, kept running (please report it): {error}", {
      error: r instanceof Error ? r.stack ?? r.message : String(r),
    });
  });
}
