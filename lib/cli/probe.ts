import type { Command } from "commander";
import { atomList, connectByAlive, connectNode } from "../dist/mod.ts";
import { parseListen } from "../runtime/http.ts";
import { configFrom, cookieFrom, enumeratorFrom, sourceFrom, withConfigOptions } from "./cluster_setup.ts";
import { command } from "./commands.ts";
import { act, errorSummary, println } from "./common.ts";
import { UsageError } from "./errors.ts";
import { localTarget } from "./local_node.ts";
import { globalOutput } from "./output.ts";

const PATHS = { liveness: "/livez", readiness: "/readyz", startup: "/startupz" } as const;

/** `erlmesh probe readiness|liveness|startup`: for exec probes. */
export function probeCommand(): Command {
  return withConfigOptions(
    command("probe")
      .argument("<kind>", "readiness, liveness or startup")
      .option(
        "--probe-timeout <ms>",
        "deadline of the whole probe, below Kubernetes' 1 s default timeoutSeconds",
        "800",
      ),
  ).action(act(async (kind: string, raw: Record<string, unknown>) => {
    const out = globalOutput(raw);
    if (!(kind in PATHS)) {
      throw new UsageError(`Invalid probe '${kind}': expected readiness, liveness or startup`);
    }
    const { probeTimeout, ...rest } = raw;
    const timeoutMs = Number(probeTimeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60000) {
      throw new UsageError(
        `Invalid --probe-timeout '${probeTimeout}': expected milliseconds from 1 to 60000`,
      );
    }
    const cfg = await configFrom(rest);
    const signal = AbortSignal.timeout(timeoutMs);
    let ok: boolean;
    let detail: string;
    try {
      if (cfg.http) {
        // A running agent or `run` answers from its own state: cheapest.
        const { hostname, port } = parseListen(cfg.http);
        const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
        const res = await fetch(
          `http://${host.includes(":") ? `[${host}]` : host}:${port}${PATHS[kind as keyof typeof PATHS]}`,
          {
            signal,
          },
        );
        ok = res.ok;
        detail = (await res.text()).trim();
      } else {
        [ok, detail] = await directProbe(kind as keyof typeof PATHS, cfg, signal, timeoutMs);
      }
    } catch (err) {
      ok = false;
      detail = signal.aborted ? `no answer within ${timeoutMs} ms` : errorSummary(err).message;
    }
    if (out.output === "json") println(JSON.stringify({ probe: kind, ok, detail }));
    else println(`${kind}: ${ok ? "ok" : "fail"}: ${detail.replace(/^(ok|fail): /, "")}`);
    return ok ? 0 : 1;
  }));
}

/** Checks the local node itself: liveness and startup need it to answer; readiness as configured. */
async function directProbe(
  kind: keyof typeof PATHS,
  cfg: Awaited<ReturnType<typeof configFrom>>,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<[boolean, string]> {
  const target = localTarget(cfg);
  const cookie = await cookieFrom(cfg);
  const opts = { cookie, epmdPort: cfg.epmdPort, timeoutMs, signal };
  const conn = target.localNode
    ? await connectNode(target.localNode, opts)
    : await connectByAlive(target.localAlive!, "127.0.0.1", opts);
  try {
    const connected = atomList(await conn.rpc("erlang", "nodes", [], { timeoutMs, signal }), "nodes()");
    if (kind !== "readiness" || cfg.readiness === "node") return [true, `${conn.node} answers`];
    if (typeof cfg.readiness === "number") {
      return [
        connected.length >= cfg.readiness,
        `${conn.node} is connected to ${connected.length} peer(s), ${cfg.readiness} needed`,
      ];
    }
    const disc = await sourceFrom(cfg).discover(signal);
    const peers = (await enumeratorFrom(cfg).enumerate(disc.hosts, signal)).peers.map((p) => p.node).filter((
      n,
    ) => n !== conn.node);
    const set = new Set(connected);
    const missing = peers.filter((p) => !set.has(p));
    return missing.length === 0
      ? [true, `${conn.node} is connected to all ${peers.length} discovered peer(s)`]
      : [false, `${conn.node} is missing ${missing.join(", ")}`];
  } finally {
    conn.close();
  }
}
