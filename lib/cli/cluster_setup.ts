import { splitHostPort } from "../bytes/address.ts";
import { type Cookie, parseNodeName, resolveCookie } from "../dist/mod.ts";
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
import { type Config, ConfigError, type ConfigKey, loadConfig, serviceNames } from "../config/mod.ts";
import { configFlags, type ParsedCommandLine } from "./options.ts";

/**
 * Loads the configuration from the command's flags, the environment and the optional file, reading
 * only the keys the command uses.
 */
export function configFrom(cli: ParsedCommandLine, keys: readonly ConfigKey[]): Promise<Config> {
  return loadConfig({ flags: configFlags(cli.values), keys });
}

/** The cookie from `cookieFile` or the usual places. */
export function cookieFrom(cfg: Config): Promise<Cookie> {
  return resolveCookie({ cookieFile: cfg.cookieFile });
}

function nameServer(cfg: Config): { ipAddr: string; port: number } | undefined {
  if (!cfg.dnsServer) return undefined;
  const hp = splitHostPort(cfg.dnsServer);
  return hp && { ipAddr: hp.host, port: hp.port ?? 53 };
}

/** The discovery source the configuration names. Several Services are asked together. */
export function sourceFrom(cfg: Config): DiscoverySource {
  const ns = nameServer(cfg);
  const common = { timeoutMs: cfg.dnsTimeout, nameServer: ns };
  let sources: DiscoverySource[];
  switch (cfg.discovery) {
    case "srv":
    case "a": {
      const names = serviceNames(cfg);
      if (names.length === 0) {
        throw new ConfigError(
          "INVALID",
          { key: "service", source: cfg.sources.discovery ?? "default" },
          `Missing service for discovery '${cfg.discovery}' (from ${
            cfg.sources.discovery ?? "default"
          }): expected a headless Service name in --service, ERLMESH_SERVICE or K8S_HEADLESS_SVC`,
        );
      }
      sources = names.map((name) =>
        cfg.discovery === "srv"
          ? srvSource({ name, ...common })
          : aSource({ name, family: "both", hostForm: cfg.hostForm === "fqdn" ? "dashed" : "ip", ...common })
      );
      break;
    }
    case "static":
      if (cfg.hosts.length === 0) {
        throw new ConfigError(
          "INVALID",
          { key: "hosts", source: cfg.sources.discovery ?? "default" },
          `Missing hosts for discovery 'static' (from ${
            cfg.sources.discovery ?? "default"
          }): expected a list of hosts in --hosts, ERLMESH_HOSTS or WORLD_LIST`,
        );
      }
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
