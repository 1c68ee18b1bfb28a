import { connectNode } from "../dist/mod.ts";
import { configFrom, cookieFrom, DIST_KEYS } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { errorSummary, ms, printJson, println, table } from "./common.ts";
import { nodeArgument, TIMEOUT_OPTION } from "./node_options.ts";
import { type CommandDef, configOptions, durationValue, type ParsedCommandLine } from "./options.ts";

/** One node's answer. */
export interface PingResult {
  node: string;
  result: "pong" | "pang";
  /** Round trip of `net_kernel` is_auth over the open link, in ms. */
  rttMs?: number;
  /** EPMD lookup, TCP connect and handshake, in ms. */
  connectMs?: number;
  error?: { code: string; message: string };
}

/** `erlmesh ping NODE...`: pong or pang for each node, with round-trip times. */
export const command: CommandDef = {
  name: "ping",
  summary: COMMANDS.ping.summary,
  args: [{
    name: "NODE",
    help: "node names, name@host (a name without @host means this host)",
    required: true,
    variadic: true,
  }],
  options: [TIMEOUT_OPTION, ...configOptions(["cookieFile", "epmdPort", "distPort", ...DIST_KEYS])],
};

/** Runs `erlmesh ping`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const targets = cli.args.map(nodeArgument);
  const timeout = durationValue(String(cli.values.timeout ?? "5s"), "--timeout", 1, 3_600_000);
  const cfg = await configFrom(cli, ["cookieFile", "epmdPort"]);
  const opts = { timeout, epmdPort: cfg.epmdPort, output: cli.output };
  const cookie = await cookieFrom(cfg);
  const results = await Promise.all(targets.map(async (node): Promise<PingResult> => {
    const t0 = performance.now();
    try {
      const conn = await connectNode(node, { cookie, timeoutMs: opts.timeout, epmdPort: opts.epmdPort });
      const t1 = performance.now();
      try {
        const ok = await conn.ping({ timeoutMs: opts.timeout });
        const t2 = performance.now();
        return ok ? { node, result: "pong", rttMs: ms(t2 - t1), connectMs: ms(t1 - t0) } : {
          node,
          result: "pang",
          error: { code: "NOT_AUTH", message: "net_kernel did not answer 'yes'" },
        };
      } finally {
        conn.close();
      }
    } catch (err) {
      return { node, result: "pang", error: errorSummary(err) };
    }
  }));
  if (opts.output === "json") printJson({ results });
  else {
    println(table(
      ["RESULT", "NODE", "TIME"],
      results.map((r) => [
        r.result,
        r.node,
        r.result === "pong" ? `${r.rttMs} ms (connect ${r.connectMs} ms)` : r.error?.message ?? "",
      ]),
    ));
  }
  return results.every((r) => r.result === "pong") ? 0 : 1;
}
