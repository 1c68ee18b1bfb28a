import type { Command } from "commander";
import { command } from "./commands.ts";
import { epmdPort, names } from "../epmd/mod.ts";
import { act, globalOptions, printJson, println, table, withGlobalOptions } from "./common.ts";
import { UsageError } from "./errors.ts";

/** `erlmesh names [HOST]`: the nodes EPMD on HOST knows, with their ports. */
export function namesCommand(): Command {
  return withGlobalOptions(
    command("names")
      .argument("[host]", "host whose EPMD to ask", "127.0.0.1"),
  ).action(act(async (host: string, raw: Record<string, unknown>) => {
    const opts = globalOptions(raw);
    if (!/^[A-Za-z0-9_.:-]+$/.test(host)) {
      throw new UsageError(`Invalid HOST '${host}': expected a host name or an IP address such as 127.0.0.1`);
    }
    const port = opts.epmdPort ?? epmdPort();
    const reply = await names(host, { port, timeoutMs: opts.timeout });
    if (opts.output === "json") {
      printJson({ host, epmdPort: port, nodes: reply.nodes });
      return 0;
    }
    if (reply.nodes.length === 0) {
      println(`EPMD on ${host}:${port} knows no nodes`);
      return 0;
    }
    println(table(["NAME", "PORT"], reply.nodes.map((n) => [n.name, String(n.port)])));
    return 0;
  }));
}
