import type { Command } from "commander";
import { command } from "./commands.ts";
import { act, errorSummary, printJson, println, table } from "./common.ts";
import { basenameOf, configFrom, enumeratorFrom, sourceFrom, withConfigOptions } from "./cluster_setup.ts";
import { globalOutput } from "./output.ts";

/** `erlmesh discover`: the hosts and nodes a discovery source yields. */
export function discoverCommand(): Command {
  return withConfigOptions(
    command("discover"),
  ).action(act(async (raw: Record<string, unknown>) => {
    const out = globalOutput(raw);
    const cfg = await configFrom(raw);
    const source = sourceFrom(cfg);
    const disc = await source.discover();
    const en = await enumeratorFrom(cfg).enumerate(disc.hosts);
    const failures = en.failures.map((f) => ({ host: f.host, ...errorSummary(f.error) }));
    if (out.output === "json") {
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
    return 0;
  }));
}
