import { atomList, connectByAlive, connectNode } from "../dist/mod.ts";
import { diagnosePeer, pool, probePeer } from "../cluster/mod.ts";
import { errorSummary, printJson, println, table } from "./common.ts";
import { configFrom, cookieFrom, enumeratorFrom, sourceFrom } from "./cluster_setup.ts";
import { COMMANDS } from "./commands.ts";
import { localTarget } from "./local_node.ts";
import {
  type CommandDef,
  CONFIG_FILE_OPTION,
  configOptions,
  KEY_GROUPS,
  type ParsedCommandLine,
} from "./options.ts";

/** One peer's line in `erlmesh status`. */
export interface PeerStatus {
  node: string;
  state: "connected" | "missing";
  code?: string;
  reason?: string;
}

/** The configuration keys `status` reads. */
const KEYS = [...KEY_GROUPS.node, ...KEY_GROUPS.discovery, ...KEY_GROUPS.connect] as const;

/** `erlmesh status`: the local node, its peers, what is missing and why. Changes nothing. */
export const command: CommandDef = {
  name: "status",
  summary: COMMANDS.status.summary,
  args: [],
  options: [CONFIG_FILE_OPTION, ...configOptions(KEYS)],
  notes: "Exit 0 when the local node is connected to every discovered peer, 1 otherwise.",
};

/** Runs `erlmesh status`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const cfg = await configFrom(cli, KEYS);
  const target = localTarget(cfg);
  const cookie = await cookieFrom(cfg);
  const source = sourceFrom(cfg);
  const disc = await source.discover();
  const en = await enumeratorFrom(cfg).enumerate(disc.hosts);
  const common = { cookie, epmdPort: cfg.epmdPort, timeoutMs: cfg.connectTimeout };
  let local: string | undefined;
  let localError: { code: string; message: string } | undefined;
  let connected: string[] = [];
  try {
    const conn = target.localNode
      ? await connectNode(target.localNode, common)
      : await connectByAlive(target.localAlive!, "127.0.0.1", common);
    try {
      local = conn.node;
      connected = atomList(await conn.rpc("erlang", "nodes", [], { timeoutMs: cfg.rpcTimeout }), "nodes()")
        .sort();
    } finally {
      conn.close();
    }
  } catch (err) {
    localError = errorSummary(err);
  }
  const self = local ?? target.localNode;
  const peers = en.peers.filter((p) => p.node !== self);
  const connectedSet = new Set(connected);
  const statuses = await pool(peers, cfg.concurrency, async (p): Promise<PeerStatus> => {
    if (connectedSet.has(p.node)) return { node: p.node, state: "connected" };
    const probe = await probePeer(p.node, { epmdPort: cfg.epmdPort, timeoutMs: cfg.connectTimeout });
    const why = probe ??
      (await diagnosePeer(p.node, cookie, { epmdPort: cfg.epmdPort, timeoutMs: cfg.connectTimeout }));
    return { node: p.node, state: "missing", code: why.code, reason: why.message };
  });
  const discoveredSet = new Set(peers.map((p) => p.node));
  const extra = connected.filter((n) => !discoveredSet.has(n));
  const missing = statuses.filter((s) => s.state === "missing");
  const failures = en.failures.map((f) => ({ host: f.host, ...errorSummary(f.error) }));
  const ok = local !== undefined && missing.length === 0;
  if (cli.output === "json") {
    printJson({
      local: local ?? null,
      localError: localError ?? null,
      source: source.description,
      stale: disc.stale,
      discoveryError: disc.error ? errorSummary(disc.error) : null,
      peers: statuses,
      connectedNotDiscovered: extra,
      hostFailures: failures,
      meshed: ok,
    });
  } else {
    println(
      local
        ? `Local node: ${local} (up)`
        : `Local node: ${target.localNode ?? target.localAlive} is DOWN: ${localError?.message}`,
    );
    println(
      `Discovery: ${source.description}: ${disc.hosts.length} host(s)${
        disc.stale ? ", stale (last good answer)" : ""
      }`,
    );
    if (disc.error) println(`  ${disc.error.message}`);
    for (const f of failures) println(`  ${f.host}: ${f.message}`);
    println();
    println(
      statuses.length
        ? table(
          ["PEER", "STATE", "WHY"],
          statuses.map((s) => [s.node, s.state, s.reason ? `${s.code}: ${s.reason}` : ""]),
        )
        : "No peers discovered.",
    );
    if (extra.length) println(`\nAlso connected, not discovered: ${extra.join(", ")}`);
    println();
    println(
      ok
        ? `Meshed: connected to all ${statuses.length} discovered peer(s)`
        : `Not meshed: ${missing.length} of ${statuses.length} peer(s) missing`,
    );
  }
  return ok ? 0 : 1;
}
