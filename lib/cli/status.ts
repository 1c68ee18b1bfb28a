import { snapshotFrom } from "./cluster_setup.ts";
import { configFrom, cookieFrom } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { printJson, println, table } from "./common.ts";
import { localTarget } from "./local_node.ts";
import {
  type CommandDef,
  CONFIG_FILE_OPTION,
  configOptions,
  KEY_GROUPS,
  type ParsedCommandLine,
} from "./options.ts";

/** The configuration keys `status` reads. */
const KEYS = [...KEY_GROUPS.node, ...KEY_GROUPS.discovery, ...KEY_GROUPS.connect] as const;

/** `erlmesh status`: the local node, its peers, what is missing and why. Changes nothing. */
export const command: CommandDef = {
  name: "status",
  summary: COMMANDS.status.summary,
  args: [],
  options: [CONFIG_FILE_OPTION, ...configOptions(KEYS)],
  notes: "Exit 0 when the local node is connected to every discovered peer, or discovery lists only this " +
    "node (alone by design); 1 otherwise: a missing peer, a failed or empty discovery, no node matching the " +
    "basename, or the local node down.",
};

/** Runs `erlmesh status`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const cfg = await configFrom(cli, KEYS);
  const target = localTarget(cfg);
  const cookie = await cookieFrom(cfg);
  const snap = await snapshotFrom(cfg, target, cookie);
  if (cli.output === "json") {
    printJson({
      local: snap.local,
      discovery: snap.discovery,
      hostFailures: snap.hostFailures,
      peers: snap.peers,
      otherNodes: snap.otherNodes,
      connectedNotDiscovered: snap.connectedNotDiscovered,
      verdict: snap.verdict,
      meshed: snap.verdict.ok,
    });
    return snap.verdict.ok ? 0 : 1;
  }
  const { local, discovery } = snap;
  println(
    local.up ? `Local node: ${local.node} (up)` : `Local node: ${local.node} is DOWN: ${local.error.message}`,
  );
  if (discovery) {
    const answer = discovery.error && discovery.hosts.length === 0
      ? `no hosts: ${discovery.error.message}`
      : `${shortList(discovery.hosts)}${discovery.stale ? " (stale: the last good answer)" : ""}`;
    println(`Discovery: ${discovery.source} → ${answer}`);
    if (discovery.error && discovery.hosts.length > 0) println(`  ${discovery.error.message}`);
  }
  for (const f of snap.hostFailures) println(`  ${f.host}: ${f.message}`);
  println();
  if (snap.peers.length > 0) {
    println(table(
      ["PEER", "STATE", "WHY"],
      snap.peers.map((p) => [p.node, p.state, p.reason ? `${p.code}: ${p.reason}` : ""]),
    ));
  } else {
    println("No peers discovered.");
  }
  if (snap.connectedNotDiscovered.length) {
    println(`\nAlso connected, not discovered: ${snap.connectedNotDiscovered.join(", ")}`);
  }
  println();
  println(snap.verdict.message);
  return snap.verdict.ok ? 0 : 1;
}

/** `a, b, c` or `a, b, c, d, e and 7 more`. */
function shortList(items: string[]): string {
  if (items.length === 0) return "no hosts";
  return items.length <= 5
    ? items.join(", ")
    : `${items.slice(0, 5).join(", ")} and ${items.length - 5} more`;
}
