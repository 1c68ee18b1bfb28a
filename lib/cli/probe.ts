import type { Config } from "../config/mod.ts";
import { judgeReadiness } from "../cluster/mod.ts";
import { parseListen } from "../runtime/http.ts";
import { snapshotFrom } from "./cluster_setup.ts";
import { configFrom, cookieFrom } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { errorSummary, println } from "./common.ts";
import { UsageError } from "./errors.ts";
import { localTarget } from "./local_node.ts";
import {
  type CommandDef,
  CONFIG_FILE_OPTION,
  configOptions,
  durationValue,
  KEY_GROUPS,
  type ParsedCommandLine,
} from "./options.ts";

const PATHS = { liveness: "/livez", readiness: "/readyz", startup: "/startupz" } as const;

/** The configuration keys `probe` reads. */
const KEYS = [
  ...KEY_GROUPS.node,
  ...KEY_GROUPS.discovery,
  ...KEY_GROUPS.connect,
  ...KEY_GROUPS.serve,
] as const;

/** `erlmesh probe readiness|liveness|startup`: for exec probes. */
export const command: CommandDef = {
  name: "probe",
  summary: COMMANDS.probe.summary,
  args: [{ name: "KIND", help: "readiness, liveness or startup", required: true }],
  options: [
    {
      long: "probe-timeout",
      arg: "duration",
      key: "probeTimeout",
      help: "deadline of the whole probe, below Kubernetes' 1 s default timeoutSeconds",
      defaultDoc: "800ms",
    },
    CONFIG_FILE_OPTION,
    ...configOptions(KEYS),
  ],
  notes: "With --http, asks the running agent or run at that address (cheapest); otherwise checks the " +
    "local node itself. Exit 0 when the probe passes, 1 when it fails.",
};

/** Runs `erlmesh probe`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const kind = cli.args[0];
  if (!(kind in PATHS)) {
    throw new UsageError(`Invalid probe '${kind}': expected readiness, liveness or startup`);
  }
  const timeoutMs = durationValue(String(cli.values.probeTimeout ?? "800ms"), "--probe-timeout", 1, 60_000);
  const cfg = await configFrom(cli, KEYS);
  const signal = AbortSignal.timeout(timeoutMs);
  let ok: boolean;
  let detail: string;
  let url = "";
  try {
    if (cfg.http) {
      // A running agent or `run` answers from its own state: cheapest.
      const { hostname, port } = parseListen(cfg.http);
      const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
      url = `http://${host.includes(":") ? `[${host}]` : host}:${port}${PATHS[kind as keyof typeof PATHS]}`;
      const res = await fetch(url, { signal });
      ok = res.ok;
      detail = (await res.text()).trim();
    } else {
      [ok, detail] = await directProbe(kind as keyof typeof PATHS, cfg, signal, timeoutMs);
    }
  } catch (err) {
    ok = false;
    detail = signal.aborted
      ? `no answer within ${timeoutMs} ms${url ? ` from ${url}` : ""}`
      : url && /connection refused/i.test(String(err))
      ? `nothing listens on ${
        url.replace(/\/[a-z]+$/, "")
      }: is 'erlmesh agent' or 'erlmesh run' running with --http ${cfg.http}?`
      : errorSummary(err).message;
  }
  if (cli.output === "json") println(JSON.stringify({ probe: kind, ok, detail }));
  else println(`${kind}: ${ok ? "ok" : "fail"}: ${detail.replace(/^(ok|fail): /, "")}`);
  return ok ? 0 : 1;
}

/**
 * Checks the local node itself: liveness and startup need it to answer; readiness is judged from a
 * snapshot by the same rule as `/readyz` ({@link judgeReadiness}).
 */
async function directProbe(
  kind: keyof typeof PATHS,
  cfg: Config,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<[boolean, string]> {
  const target = localTarget(cfg);
  const cookie = await cookieFrom(cfg);
  const rule = kind === "readiness" ? cfg.readiness : "node";
  // Discovery only where the rule needs it; a probe never diagnoses peers (it must answer quickly).
  const snap = await snapshotFrom(cfg, target, cookie, {
    discover: rule !== "node",
    diagnose: false,
    timeoutMs,
    signal,
  });
  const { ok, detail } = judgeReadiness(snap, rule);
  return [ok, detail];
}
