import { meshDot, meshMatrix, meshStatus } from "../cluster/mod.ts";
import { parseNodeName } from "../dist/mod.ts";
import { enumeratorFrom, sourceFrom } from "./cluster_setup.ts";
import { configFrom, cookieFrom } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { printJson, println } from "./common.ts";
import { UsageError } from "./errors.ts";
import {
  type CommandDef,
  CONFIG_FILE_OPTION,
  configOptions,
  KEY_GROUPS,
  type ParsedCommandLine,
} from "./options.ts";

/** The configuration keys `mesh` reads. */
const KEYS = [...KEY_GROUPS.node, ...KEY_GROUPS.discovery, ...KEY_GROUPS.connect] as const;

/** `erlmesh mesh`: who is connected to whom, among every discovered node. */
export const command: CommandDef = {
  name: "mesh",
  summary: COMMANDS.mesh.summary,
  args: [],
  options: [
    { long: "dot", key: "dot", help: "print the mesh as a Graphviz dot graph" },
    {
      long: "nodes",
      arg: "list",
      key: "nodes",
      help: "check these nodes (separated by commas or spaces) instead of discovering them",
      repeat: true,
    },
    CONFIG_FILE_OPTION,
    ...configOptions(KEYS),
  ],
  conflicts: [
    ...(["discovery", "service", "hosts", "srvPortName", "hostForm", "dnsServer", "basename"] as const).map((
      k,
    ) => ["nodes", k] as const),
  ],
  notes: "Exit 0 for a full mesh, 1 when a pair is missing or a node could not be asked.",
};

/** Runs `erlmesh mesh`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const list = cli.values.nodes;
  const dot = cli.values.dot === true;
  if (dot && cli.output === "json") {
    throw new UsageError(
      "Conflicting options --dot and --output json for 'erlmesh mesh': expected one of them",
    );
  }
  const cfg = await configFrom(cli, KEYS);
  const cookie = await cookieFrom(cfg);
  let nodes: string[];
  if (typeof list === "string") {
    nodes = list.split(/[\s,]+/).filter(Boolean).map((n) => {
      try {
        return parseNodeName(n).full;
      } catch (err) {
        throw new UsageError(`Invalid --nodes: ${(err as Error).message}`, { cause: err });
      }
    });
  } else {
    const disc = await sourceFrom(cfg).discover();
    nodes = (await enumeratorFrom(cfg).enumerate(disc.hosts)).peers.map((p) => p.node);
  }
  const status = await meshStatus(nodes, {
    cookie,
    epmdPort: cfg.epmdPort,
    timeoutMs: cfg.connectTimeout + cfg.rpcTimeout,
    concurrency: cfg.concurrency,
  });
  if (cli.output === "json") {
    printJson(status);
  } else if (dot) {
    println(meshDot(status));
  } else if (status.nodes.length === 0) {
    println("No nodes discovered: nothing to check.");
  } else {
    println(meshMatrix(status));
    println();
    if (status.fullMesh) println(`Full mesh: all ${status.nodes.length} nodes are connected to each other`);
    else {
      for (const u of status.unreachable) println(`Unreachable: ${u.node}: ${u.error}`);
      if (status.missingPairs.length) {
        println(`Missing pairs (${status.missingPairs.length}):`);
        for (const [a, b] of status.missingPairs) println(`  ${a} -- ${b}`);
      }
      if (status.unknownPairs.length) {
        println(`Unknown pairs (${status.unknownPairs.length}, neither node could be asked):`);
        for (const [a, b] of status.unknownPairs) println(`  ${a} ?? ${b}`);
      }
      if (status.split) {
        println(`Split into ${status.clusters.length} separate clusters:`);
        status.clusters.forEach((c, i) => println(`  ${i + 1}: ${c.join(", ")}`));
      }
      println();
      println(status.summary.charAt(0).toUpperCase() + status.summary.slice(1));
    }
  }
  return status.fullMesh ? 0 : 1; // an empty set of nodes is not a full mesh
}
