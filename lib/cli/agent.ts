import { type MeshSnapshot, type Reconciler, snapshotOfCycle } from "../cluster/mod.ts";
import { basenameOf, reconcilerFrom, snapshotFrom } from "./cluster_setup.ts";
import { configFrom, cookieFrom } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { meshServices } from "./services.ts";
import { localTarget } from "./local_node.ts";
import { type Logger, logger, setupLogging } from "./logging.ts";
import { type CommandDef, CONFIG_FILE_OPTION, configOptions, type ParsedCommandLine } from "./options.ts";
import { CONFIG_KEY_NAMES } from "../config/mod.ts";

/** `erlmesh agent`: keeps an already running node meshed (the sidecar form). */
export const command: CommandDef = {
  name: "agent",
  summary: COMMANDS.agent.summary,
  args: [],
  options: [
    {
      long: "once",
      key: "once",
      help: "run one reconcile pass and exit: 0 when every discovered peer is connected, 1 otherwise",
    },
    CONFIG_FILE_OPTION,
    ...configOptions(CONFIG_KEY_NAMES),
  ],
  conflicts: [["once", "http"]],
};

/** Runs `erlmesh agent`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const cfg = await configFrom(cli, CONFIG_KEY_NAMES);
  await setupLogging(cfg.logFormat, cfg.logLevel);
  const log = logger(["erlmesh", "agent"]);
  keepRunningOnInternalErrors(log);
  const target = localTarget(cfg);
  const cookie = await cookieFrom(cfg);
  const services = await meshServices(cfg);
  const reconciler = reconcilerFrom(cfg, target, cookie, services.onEvent, services.onCycle);
  log.info(
    "erlmesh agent started for {node}, discovering peers through {source} (cookie from {cookieSource})",
    {
      node: target.localNode ?? `${target.localAlive}@? (learnt from the local EPMD)`,
      source: reconciler.source.description,
      cookieSource: cookie.source,
    },
  );
  if (cli.values.once) {
    const localLabel = target.localNode ?? `${target.localAlive}@127.0.0.1`;
    return await runOnce(reconciler, cfg.connectTimeout, {
      localLabel,
      basename: basenameOf(cfg),
      snapshot: () => snapshotFrom(cfg, target, cookie, { diagnose: false, localNode: reconciler.link.name }),
    });
  }
  services.listen(reconciler);
  try {
    return await runUntilSignalled(reconciler, log);
  } finally {
    await services.close();
  }
}

/**
 * One pass: wait for the local node, reconcile (a cycle, its connect attempts, a second cycle for the
 * retries, a last one to observe), then judge like `status`. Exit 0 when meshed (or alone by design).
 * With no peer discovered, `snapshot` looks again (what EPMD lists instead, whether this node is there):
 * zero peers is never taken for success on trust.
 */
export async function runOnce(
  reconciler: Reconciler,
  waitMs: number,
  options: { localLabel: string; basename?: string; snapshot: () => Promise<MeshSnapshot> },
): Promise<number> {
  const log = logger(["erlmesh", "agent"]);
  try {
    await reconciler.link.waitUp(waitMs);
  } catch { /* the cycle reports it */ }
  let r = await reconciler.runCycle();
  for (let i = 0; i < 2 && r.ok && r.attempted.length > 0; i++) {
    await reconciler.idle();
    r = await reconciler.runCycle();
  }
  await reconciler.idle();
  reconciler.stop();
  if (!r.ok) {
    log.error("Reconcile pass failed: {error}", { error: r.error });
    return 1;
  }
  const snap = r.discovered.length > 0
    ? snapshotOfCycle(r, { localLabel: options.localLabel, basename: options.basename })
    : await options.snapshot();
  const fields = { event: "once", verdict: snap.verdict.code, message: snap.verdict.message };
  if (snap.verdict.ok) log.info("{message}", fields);
  else log.error("{message}", fields);
  return snap.verdict.ok ? 0 : 1;
}

/**
 * Runs the loop until SIGTERM or SIGINT and logs the counters in its last line. No signal asks for
 * the counters (they are on `/metrics` with `--http`): operating the agent never means sending a
 * signal that a runtime may tie a feature to (Deno 2.9.2+ opens an inspector port on SIGUSR1). SIGHUP,
 * SIGQUIT, SIGUSR1 and SIGUSR2 are logged and ignored, so a stray signal does not kill the sidecar.
 */
export async function runUntilSignalled(
  reconciler: Reconciler,
  log: Logger,
): Promise<number> {
  const stop = () => reconciler.stop();
  const stopping = ["SIGTERM", "SIGINT"] as const;
  const ignored = (["SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const).map((signal) =>
    [
      signal,
      () =>
        log.info(
          "Ignoring {signal}: the agent stops on SIGTERM or SIGINT; " +
            "its counters are on /metrics (--http) and in its last log line",
          { event: "signal_ignored", signal },
        ),
    ] as const
  );
  for (const sig of stopping) Deno.addSignalListener(sig, stop);
  for (const [sig, f] of ignored) Deno.addSignalListener(sig, f);
  try {
    await reconciler.run();
  } finally {
    for (const sig of stopping) Deno.removeSignalListener(sig, stop);
    for (const [sig, f] of ignored) Deno.removeSignalListener(sig, f);
  }
  // One line in text logs too: the counters as key=value pairs in the message, the object as a property.
  const counters = { ...reconciler.counters };
  const summary = Object.entries(counters)
    .map(([k, v]) => `${k}=${typeof v === "number" ? v : JSON.stringify(v)}`)
    .join(" ");
  log.info("erlmesh agent stopped after {cycles} cycles; counters: {summary}", {
    event: "stopped",
    cycles: counters.cycles,
    summary,
    counters,
  });
  return 0;
}

/** An agent must not die of a stray rejected promise: it logs the bug and keeps the mesh. */
export function keepRunningOnInternalErrors(log: Logger): void {
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    const r = e.reason;
    log.error("Internal error, kept running (please report it): {error}", {
      error: r instanceof Error ? r.stack ?? r.message : String(r),
    });
  });
}
