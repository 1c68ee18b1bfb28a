import { names } from "../epmd/mod.ts";
import { configFrom } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { printJson, println, table } from "./common.ts";
import { UsageError } from "./errors.ts";
import { type CommandDef, configOptions, durationValue, type ParsedCommandLine } from "./options.ts";
import { TIMEOUT_OPTION } from "./node_options.ts";

/** `erlmesh names [HOST]`: the nodes EPMD on HOST knows, with their ports. */
export const command: CommandDef = {
  name: "names",
  summary: COMMANDS.names.summary,
  args: [{ name: "HOST", help: "the host whose EPMD to ask (default: 127.0.0.1)", required: false }],
  options: [TIMEOUT_OPTION, ...configOptions(["epmdPort"])],
};

/** Runs `erlmesh names`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const host = cli.args[0] ?? "127.0.0.1";
  if (!/^[A-Za-z0-9_.:-]+$/.test(host)) {
    throw new UsageError(`Invalid HOST '${host}': expected a host name or an IP address such as 127.0.0.1`);
  }
  const timeoutMs = durationValue(String(cli.values.timeout ?? "5s"), "--timeout", 1, 3_600_000);
  const cfg = await configFrom(cli, ["epmdPort"]);
  const reply = await names(host, { port: cfg.epmdPort, timeoutMs });
  if (cli.output === "json") {
    printJson({ host, epmdPort: cfg.epmdPort, nodes: reply.nodes });
  } else if (reply.nodes.length === 0) {
    println(`EPMD on ${host}:${cfg.epmdPort} knows no nodes`);
  } else {
    println(table(["NAME", "PORT"], reply.nodes.map((n) => [n.name, String(n.port)])));
  }
  return 0;
}
