/**
 * The discovery source, the enumerator and the reconcile loop a configuration describes: the cluster
 * side of the commands that discover (`agent`, `run`, `wait`, `probe`, `discover`, `status`, `mesh`).
 * The configuration is already resolved (queries, name server, node): this only maps it to objects.
 * @module
 */
import type { Cookie } from "../dist/cookie.ts";
import { parseNodeName } from "../dist/names.ts";
import { type ClusterEvent, type CycleReport, Reconciler, type ReconcilerCounters } from "../cluster/mod.ts";
import {
  aSource,
  type Discovery,
  type DiscoverySource,
  localEpmdSource,
  NodeEnumerator,
  srvSource,
  staticSource,
} from "../discovery/mod.ts";
import type { Config } from "../config/mod.ts";

/** The discovery source the configuration names. Several Services are asked together. */
export function sourceFrom(cfg: Config): DiscoverySource {
  const common = { timeoutMs: cfg.dnsTimeout, nameServer: cfg.nameServer };
  let sources: DiscoverySource[];
  switch (cfg.discovery) {
    case "srv":
      sources = cfg.queries.map((name) => srvSource({ name, ...common }));
      break;
    case "a":
      sources = cfg.queries.map((name) =>
        aSource({ name, family: "both", hostForm: cfg.hostForm === "fqdn" ? "dashed" : "ip", ...common })
      );
      break;
    case "static":
      sources = [staticSource(cfg.hosts)];
      break;
    case "epmd":
      sources = [localEpmdSource({ nodeHost: cfg.node ? parseNodeName(cfg.node).host : undefined })];
      break;
  }
  return sources.length === 1 ? sources[0] : mergeSources(sources);
}

/** One source that asks several and joins their answers. */
function mergeSources(sources: DiscoverySource[]): DiscoverySource {
  return {
    kind: sources[0].kind,
    description: sources.map((s) => s.description).join(" + "),
    async discover(signal?: AbortSignal): Promise<Discovery> {
      const all = await Promise.all(sources.map((s) => s.discover(signal)));
      const hosts = new Map(all.flatMap((d) => d.hosts).map((h) => [h.host, h]));
      return {
        hosts: [...hosts.values()].sort((a, b) => a.host.localeCompare(b.host)),
        recordTypes: [...new Set(all.flatMap((d) => d.recordTypes))].sort(),
        stale: all.some((d) => d.stale),
        error: all.find((d) => d.error)?.error,
        queries: all.reduce((n, d) => n + d.queries, 0),
      };
    },
  };
}

/** The alive part peers must have: `basename`, else the local node's. */
export function basenameOf(cfg: Config): string | undefined {
  return cfg.basename ?? (cfg.node ? parseNodeName(cfg.node).alive : undefined);
}

/** The host-to-node enumerator the configuration asks for. */
export function enumeratorFrom(cfg: Config): NodeEnumerator {
  return new NodeEnumerator({
    basename: basenameOf(cfg),
    useEpmd: true,
    epmdPort: cfg.epmdPort,
    // EPMD inside a cluster answers in milliseconds; a host that does not is retried next cycle.
    timeoutMs: Math.min(cfg.connectTimeout, 1000),
    concurrency: cfg.concurrency,
  });
}

/** The reconcile loop the configuration describes, for the local node `target`. */
export function reconcilerFrom(
  cfg: Config,
  target: { localNode?: string; localAlive?: string },
  cookie: Cookie,
  onEvent?: (e: ClusterEvent) => void,
  onCycle?: (r: CycleReport, counters: ReconcilerCounters) => void,
): Reconciler {
  return new Reconciler({
    ...target,
    cookie,
    source: sourceFrom(cfg),
    enumerator: enumeratorFrom(cfg),
    epmdPort: cfg.epmdPort,
    intervalMs: cfg.interval,
    fastIntervalMs: cfg.fastInterval,
    connectTimeoutMs: cfg.connectTimeout,
    rpcTimeoutMs: cfg.rpcTimeout,
    concurrency: cfg.concurrency,
    onEvent,
    onCycle,
  });
}
