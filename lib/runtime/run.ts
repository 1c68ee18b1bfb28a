import { aliveMatcher } from "../dist/mod.ts";
import { isHelperName } from "../discovery/mod.ts";
import { names } from "../epmd/mod.ts";
import { connectTcp, deadline, sleep } from "../bytes/mod.ts";
import type { Reconciler } from "../cluster/mod.ts";
import { RuntimeError } from "./errors.ts";
import { startReaper } from "./reaper.ts";
import { exitCodeOf, FORWARDED_SIGNALS } from "./signals.ts";

/** What `run` reports while it works. */
export type RunEvent =
  | { type: "started"; pid: number; command: string }
  | { type: "registered"; alive: string; afterMs: number }
  | { type: "not_registered"; alive: string; afterMs: number; known: string[] }
  | { type: "signal"; signal: string }
  | { type: "exited"; code: number; signal?: string }
  | { type: "no_reaper"; reason: string };

/** Options of {@link runRelease}. */
export interface RunReleaseOptions {
  /** The release command and its arguments. */
  command: string[];
  /** The child's whole environment. */
  env: Record<string, string>;
  /** The alive part of the release's node, looked for in the local EPMD; may hold `*` (a glob). */
  alive: string;
  /** Where the local EPMD listens. */
  epmdPort?: number;
  /**
   * The node's fixed distribution port when it runs without EPMD: the node counts as started once
   * 127.0.0.1 accepts connections there (EPMD is never asked).
   */
  distPort?: number;
  /** How long the node may take to register before `run` says so. @default 60000 */
  startTimeoutMs?: number;
  /** Builds the reconcile loop once the node has registered. */
  reconciler: Reconciler;
  /** Receives progress. */
  onEvent?: (e: RunEvent) => void;
}

/**
 * Runs the release as a child (as PID 1 of a container): forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT,
 * SIGUSR1 and SIGUSR2 to it, reaps orphans, waits for its node to register with the local EPMD, runs
 * the reconcile loop until the release exits, and returns the release's exit code (128 + signal when
 * it was killed).
 */
export async function runRelease(options: RunReleaseOptions): Promise<number> {
  const emit = (e: RunEvent) => options.onEvent?.(e);
  const [cmd, ...args] = options.command;
  // Listen before the child exists: a SIGTERM in the first milliseconds must reach it too, not end us.
  let child: Deno.ChildProcess | undefined;
  const early: Deno.Signal[] = [];
  const forwarders = FORWARDED_SIGNALS.map((sig) => {
    const f = () => {
      emit({ type: "signal", signal: sig });
      if (!child) return void early.push(sig);
      try {
        child.kill(sig);
      } catch { /* already gone */ }
    };
    Deno.addSignalListener(sig, f);
    return [sig, f] as const;
  });
  const unlisten = () => {
    for (const [sig, f] of forwarders) Deno.removeSignalListener(sig, f);
  };
  try {
    child = new Deno.Command(cmd, {
      args,
      env: options.env,
      clearEnv: true,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (err) {
    unlisten();
    const why = err instanceof Error ? err.message : String(err);
    throw new RuntimeError("SPAWN", `Cannot start the release '${options.command.join(" ")}': ${why}`, {
      cause: err,
    });
  }
  emit({ type: "started", pid: child.pid, command: options.command.join(" ") });
  for (const sig of early) {
    try {
      child.kill(sig);
    } catch { /* already gone */ }
  }
  const released = child;
  const { reaper, why } = startReaper(() => new Set([released.pid]));
  if (!reaper) emit({ type: "no_reaper", reason: why ?? "unknown" });

  let exited = false;
  const status = released.status.then((s) => {
    exited = true;
    return s;
  });
  // A glob basename (`*`, `app-*`) is matched as the reconciler matches it; helpers never count.
  const matches = options.alive.includes("*")
    ? ((m) => (name: string) => m(name) && !isHelperName(name))(aliveMatcher(options.alive))
    : (name: string) => name === options.alive;
  const loop = (async () => {
    const t0 = performance.now();
    const deadline = t0 + (options.startTimeoutMs ?? 60000);
    let reported = false;
    let delay = 10;
    while (!exited) {
      let known: string[] = [];
      if (options.distPort !== undefined) {
        // Without EPMD: the node is up once its distribution port accepts a connection.
        if (await listening(options.distPort)) {
          emit({ type: "registered", alive: options.alive, afterMs: Math.round(performance.now() - t0) });
          break;
        }
      } else {
        try {
          const reply = await names("127.0.0.1", { port: options.epmdPort, timeoutMs: 1000 });
          known = reply.nodes.map((n) => n.name);
          const found = known.find(matches);
          if (found !== undefined) {
            emit({ type: "registered", alive: found, afterMs: Math.round(performance.now() - t0) });
            break;
          }
        } catch { /* EPMD not up yet: the release starts it */ }
      }
      if (!reported && performance.now() > deadline) {
        reported = true;
        emit({
          type: "not_registered",
          alive: options.alive,
          afterMs: Math.round(performance.now() - t0),
          known,
        });
      }
      // Local EPMD is cheap to ask: every 10 ms while the node boots, so the first connect follows its
      // registration at once; every 2 s once the start timeout has passed.
      await Promise.race([sleep(delay), status]);
      delay = reported ? 2000 : 10;
    }
    if (!exited) await options.reconciler.run();
  })();

  const final = await status;
  options.reconciler.stop();
  await loop.catch(() => {});
  unlisten();
  reaper?.reapNow();
  reaper?.stop();
  const code = exitCodeOf(final);
  emit({ type: "exited", code, signal: final.signal ?? undefined });
  return code;
}

/** True when 127.0.0.1 accepts a TCP connection on `port` within a second (closed at once). */
async function listening(port: number): Promise<boolean> {
  const d = deadline(1000);
  try {
    (await connectTcp("127.0.0.1", port, { signal: d.signal })).close();
    return true;
  } catch {
    return false;
  } finally {
    d.clear();
  }
}
