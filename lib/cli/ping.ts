import type { Command } from "commander";
import { command } from "./commands.ts";
import { connectNode, parseNodeName } from "../dist/mod.ts";
import {
  act,
  errorSummary,
  globalOptions,
  loadCookie,
  ms,
  printJson,
  println,
  table,
  withCookieOption,
  withGlobalOptions,
} from "./common.ts";
import { UsageError } from "./errors.ts";
import { localHostname } from "../dist/names.ts";

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
export function pingCommand(): Command {
  return withCookieOption(withGlobalOptions(
    command("ping")
      .argument("<nodes...>", "node names, name@host (a name without @host means this host)"),
  )).action(act(async (nodes: string[], raw: Record<string, unknown>) => {
    const opts = globalOptions(raw);
    const targets = nodes.map((n) => {
      try {
        return parseNodeName(n, localHostname().split(".")[0]).full;
      } catch (err) {
        throw new UsageError((err as Error).message, { cause: err });
      }
    });
    const cookie = await loadCookie(opts);
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
  }));
}
