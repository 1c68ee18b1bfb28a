import type { Command } from "commander";
import { command } from "./commands.ts";
import { meshDot, meshMatrix, meshStatus } from "../cluster/mod.ts";
import { parseNodeName } from "../dist/mod.ts";
import { act, printJson, println } from "./common.ts";
import { configFrom, cookieFrom, enumeratorFrom, sourceFrom, withConfigOptions } from "./cluster_setup.ts";
import { UsageError } from "./errors.ts";
import { globalOutput } from "./output.ts";

/** `erlmesh mesh`: who is connected to whom, among every discovered node. */
export function meshCommand(): Command {
  return withConfigOptions(
    command("mesh")
      .option("--dot", "print the mesh as a Graphviz dot graph", false)
      .option("--nodes <list>", "check these nodes (comma separated) instead of discovering them"),
  ).action(act(async (raw: Record<string, unknown>) => {
    const out = globalOutput(raw);
    const { dot, nodes: list, ...rest } = raw;
    const cfg = await configFrom(rest);
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
    if (out.output === "json") {
      printJson(status);
    } else if (dot) {
      println(meshDot(status));
    } else if (status.nodes.length === 0) {
      println("No nodes discovered.");
    } else {
      println(meshMatrix(status));
      println();
      if (status.fullMesh) println(`Full mesh: all ${status.nodes.length} nodes are connected to each other`);
      else {
        const unreachable = status.nodes.filter((n) => !n.reachable);
        for (const n of unreachable) println(`Unreachable: ${n.node}: ${n.error}`);
        if (status.missingPairs.length) {
          println(`Missing pairs (${status.missingPairs.length}):`);
          for (const [a, b] of status.missingPairs) println(`  ${a} -- ${b}`);
        }
        if (status.clusters.length > 1) {
          println(`Split into ${status.clusters.length} separate clusters:`);
          status.clusters.forEach((c, i) => println(`  ${i + 1}: ${c.join(", ")}`));
        }
      }
    }
    return status.fullMesh ? 0 : 1;
  }));
}
