import { basenameOf, enumeratorFrom, sourceFrom } from "./cluster_setup.ts";
import { configFrom } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { errorSummary, printJson, println, table } from "./common.ts";
import {
  type CommandDef,
  CONFIG_FILE_OPTION,
  configOptions,
  KEY_GROUPS,
  type ParsedCommandLine,
} from "./options.ts";

/** The configuration keys `discover` reads. */
const KEYS = [
  ...KEY_GROUPS.node,
  ...KEY_GROUPS.discovery,
  "epmdPort",
  // inet6 nodes are found by AAAA records: the flag as well as the environment must say so.
  "protoDist",
  "connectTimeout",
  "concurrency",
] as const;

/** `erlmesh discover`: the hosts and nodes a discovery source yields. */
export const command: CommandDef = {
  name: "discover",
  summary: COMMANDS.discover.summary,
  args: [],
  options: [CONFIG_FILE_OPTION, ...configOptions(KEYS)],
  notes: "Exit 0 when at least one node was found, 1 when discovery failed or found no node.",
};

/** Runs `erlmesh discover`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const cfg = await configFrom(cli, KEYS);
  const source = sourceFrom(cfg);
  const disc = await source.discover();
  const en = await enumeratorFrom(cfg).enumerate(disc.hosts);
  const failures = en.failures.map((f) => ({ host: f.host, ...errorSummary(f.error) }));
  if (cli.output === "json") {
    printJson({
      source: source.description,
      basename: basenameOf(cfg) ?? null,
      recordTypes: disc.recordTypes,
      stale: disc.stale,
      error: disc.error ? errorSummary(disc.error) : null,
      hosts: disc.hosts,
      nodes: en.peers,
      failures,
    });
  } else {
    println(`Source: ${source.description}${disc.stale ? " (stale: last good answer)" : ""}`);
    if (disc.error) println(`Note: ${disc.error.message}`);
    println(`Record types: ${disc.recordTypes.join(", ") || "none"}`);
    println();
    println(
      disc.hosts.length
        ? table(["HOST", "ADDRESS", "VIA"], disc.hosts.map((h) => [h.host, h.address ?? "", h.via]))
        : "No hosts.",
    );
    println();
    const base = basenameOf(cfg);
    println(
      en.peers.length
        ? table(["NODE", "PORT", "VIA"], en.peers.map((p) => [p.node, p.port ? String(p.port) : "", p.via]))
        : `No nodes${base ? ` named '${base}'` : ""} registered with EPMD on those hosts.`,
    );
    for (const f of failures) println(`  ${f.host}: ${f.message}`);
  }
  // Finding nothing is not an answer a script should take as success.
  return en.peers.length > 0 ? 0 : 1;
}
