import type { Command } from "commander";
import { command } from "./commands.ts";
import { atomList, connectNode, parseNodeName } from "../dist/mod.ts";
import { atom } from "../etf/term.ts";
import {
  act,
  globalOptions,
  loadCookie,
  printJson,
  println,
  withCookieOption,
  withGlobalOptions,
} from "./common.ts";
import { UsageError } from "./errors.ts";
import { localHostname } from "../dist/names.ts";

/** `erlmesh nodes NODE`: what NODE is connected to, visible and hidden. */
export function nodesCommand(): Command {
  return withCookieOption(withGlobalOptions(
    command("nodes")
      .argument("<node>", "node name, name@host"),
  )).action(act(async (node: string, raw: Record<string, unknown>) => {
    const opts = globalOptions(raw);
    let target: string;
    try {
      target = parseNodeName(node, localHostname().split(".")[0]).full;
    } catch (err) {
      throw new UsageError((err as Error).message, { cause: err });
    }
    const cookie = await loadCookie(opts);
    const conn = await connectNode(target, { cookie, timeoutMs: opts.timeout, epmdPort: opts.epmdPort });
    try {
      const visible = atomList(
        await conn.rpc("erlang", "nodes", [atom("visible")], { timeoutMs: opts.timeout }),
        "nodes(visible)",
      );
      const hidden = atomList(
        await conn.rpc("erlang", "nodes", [atom("hidden")], { timeoutMs: opts.timeout }),
        "nodes(hidden)",
      )
        .filter((n) => n !== conn.localName);
      visible.sort();
      hidden.sort();
      if (opts.output === "json") {
        printJson({ node: target, visible, hidden });
      } else {
        println(
          `${target} is connected to ${visible.length} visible and ${hidden.length} hidden node(s) (erlmesh's own link not counted)`,
        );
        for (const n of visible) println(`  visible  ${n}`);
        for (const n of hidden) println(`  hidden   ${n}`);
      }
      return 0;
    } finally {
      conn.close();
    }
  }));
}
