import { atomList, connectNode } from "../dist/mod.ts";
import { atom } from "../etf/term.ts";
import { configFrom, cookieFrom, DIST_KEYS } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { printJson, println } from "./common.ts";
import { nodeArgument, TIMEOUT_OPTION } from "./node_options.ts";
import { type CommandDef, configOptions, durationValue, type ParsedCommandLine } from "./options.ts";

/** `erlmesh nodes NODE`: what NODE is connected to, visible and hidden. */
export const command: CommandDef = {
  name: "nodes",
  summary: COMMANDS.nodes.summary,
  args: [{
    name: "NODE",
    help: "a node name, name@host (a name without @host means this host)",
    required: true,
  }],
  options: [TIMEOUT_OPTION, ...configOptions(["cookieFile", "epmdPort", "distPort", ...DIST_KEYS])],
};

/** Runs `erlmesh nodes`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const target = nodeArgument(cli.args[0]);
  const timeout = durationValue(String(cli.values.timeout ?? "5s"), "--timeout", 1, 3_600_000);
  const cfg = await configFrom(cli, ["cookieFile", "epmdPort"]);
  const opts = { timeout, epmdPort: cfg.epmdPort, output: cli.output };
  const cookie = await cookieFrom(cfg);
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
}
