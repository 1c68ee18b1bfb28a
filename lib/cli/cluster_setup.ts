/**
 * The discovery source, the enumerator and the reconcile loop a configuration describes: the cluster
 * side of the commands that discover (`agent`, `run`, `wait`, `probe`, `discover`, `status`, `mesh`).
 * The configuration is already resolved (queries, name server, node): this only maps it to objects.
 * @module
 */
import type { Cookie } from "../dist/cookie.ts";
import { parseNodeName } from "../dist/names.ts";
import {
  type ClusterEvent,
  type CycleReport,
  diagnosePeer,
  localNodeView,
  type MeshSnapshot,
  peerDiagnoser,
  probeDistPort,
  Reconciler,
  type ReconcilerCounters,
  takeSnapshot,
} from "../cluster/mod.ts";
import {
  aSource,
  type Discovery,
  type DiscoverySource,
  kubernetesSource,
  localEpmdSource,
  NodeEnumerator,
  srvSource,
  staticSource,
} from "../discovery/mod.ts";
import { type Config, serviceNames } from "../config/mod.ts";

/**
 * The discovery source the configuration names. Several Services are asked together. A `longLived`
 * caller (the reconciler of `agent` and `run`) asks SRV again only when the Service's addresses change.
 */
export function sourceFrom(cfg: Config, options: { longLived?: boolean } = {}): DiscoverySource {
  const common = { timeoutMs: cfg.dnsTimeout, nameServer: cfg.nameServer };
  const family = cfg.protoDist?.startsWith("inet6") ? "AAAA" : "A";
  let sources: DiscoverySource[];
  switch (cfg.discovery) {
    case "srv":
      sources = cfg.queries.map((name) =>
        srvSource({ name, ...common, ...(options.longLived ? { changeCheck: family } : {}) })
      );
      break;
    case "a":
      // The nodes' address family picks the records: a dual-stack Service's other family would name
      // nodes that do not exist (`app@fd00::7` for a node started as `app@10.0.0.7`).
      sources = cfg.queries.map((name) =>
        aSource({
          name,
          family,
          hostForm: cfg.hostForm === "fqdn" ? "dashed" : "ip",
          ...common,
        })
      );
      break;
    case "static":
      sources = [staticSource(cfg.hosts)];
      break;
    case "epmd":
      // Nodes run without EPMD have no local EPMD to list them: the local node's host is the one host.
      sources = epmdLess(cfg) && cfg.node
        ? [staticSource([parseNodeName(cfg.node).host])]
        : [localEpmdSource({ nodeHost: cfg.node ? parseNodeName(cfg.node).host : undefined })];
      break;
    case "kubernetes":
      sources = kubernetesSources(cfg);
      break;
  }
  return sources.length === 1 ? sources[0] : mergeSources(sources);
}

/**
 * One `kubernetes` source per Service (a short name is in `namespace`; `app.ns.svc.zone` names its
 * own), each with the same Service's DNS as its fallback when `kubernetesFallback` asks for one.
 */
function kubernetesSources(cfg: Config): DiscoverySource[] {
  const inet6 = cfg.protoDist?.startsWith("inet6") ?? false;
  return cfg.service.map((svc) => {
    const [service, namespace = cfg.namespace] = svc.replace(/\.$/, "").split(".");
    const fallback = cfg.kubernetesFallback === "none" ? undefined : serviceNames({
      ...cfg,
      service: [svc],
      discovery: cfg.kubernetesFallback,
    }).map((name) =>
      cfg.kubernetesFallback === "srv"
        ? srvSource({ name, timeoutMs: cfg.dnsTimeout, nameServer: cfg.nameServer })
        : aSource({
          name,
          family: inet6 ? "AAAA" : "A",
          hostForm: cfg.hostForm === "fqdn" ? "dashed" : "ip",
          timeoutMs: cfg.dnsTimeout,
          nameServer: cfg.nameServer,
        })
    )[0];
    return kubernetesSource({
      service,
      namespace,
      clusterDomain: cfg.clusterDomain,
      // Checked by loadConfig: discovery 'kubernetes' has an API server.
      apiUrl: cfg.kubernetesApi ?? "",
      serviceAccountDir: cfg.serviceAccountDir,
      hostForm: cfg.hostForm,
      addressType: inet6 ? "IPv6" : "IPv4",
      requestTimeoutMs: Math.max(cfg.dnsTimeout, 5000),
      fallback,
    });
  });
}

/** One source that asks several and joins their answers. */
function mergeSources(sources: DiscoverySource[]): DiscoverySource {
  const watched = sources.filter((s) => s.subscribe);
  return {
    kind: sources[0].kind,
    description: sources.map((s) => s.description).join(" + "),
    ...(watched.length > 0
      ? {
        subscribe(onChange: () => void): () => void {
          const stops = watched.map((s) => s.subscribe!(onChange));
          return () => stops.forEach((stop) => stop());
        },
      }
      : {}),
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

/** True when the nodes run without EPMD on one known port (`distPort`): EPMD is never asked. */
export function epmdLess(cfg: Config): boolean {
  return cfg.distPort !== undefined;
}

/** The host-to-node enumerator the configuration asks for: EPMD NAMES, or `basename@host` without EPMD. */
export function enumeratorFrom(cfg: Config): NodeEnumerator {
  return new NodeEnumerator({
    basename: basenameOf(cfg),
    useEpmd: !epmdLess(cfg),
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
    source: sourceFrom(cfg, { longLived: true }),
    enumerator: enumeratorFrom(cfg),
    epmdPort: cfg.epmdPort,
    intervalMs: cfg.interval,
    fastIntervalMs: cfg.fastInterval,
    connectTimeoutMs: cfg.connectTimeout,
    rpcTimeoutMs: cfg.rpcTimeout,
    concurrency: cfg.concurrency,
    onEvent,
    onCycle,
    // Without EPMD, a retry first checks that the peer's distribution port answers (plain TCP: a TLS
    // listener is left to the local node's connect_node, which says).
    ...(epmdLess(cfg)
      ? {
        probe: cfg.protoDist?.endsWith("_tls")
          ? () => Promise.resolve(undefined)
          : (node: string, o: { timeoutMs: number }) => probeDistPort(node, cfg.distPort!, o),
      }
      : {}),
  });
}

/** What {@link snapshotFrom} looks at, beyond the local node. */
export interface SnapshotScope {
  /** Discover and enumerate peers. @default true */
  discover?: boolean;
  /** Diagnose each missing peer (EPMD, then erlmesh's own handshake). @default true */
  diagnose?: boolean;
  /** The local node's full name when it is known better than the configuration says (learnt by a link). */
  localNode?: string;
  /** Deadline of each connect and call, ms. @default the configured connect and rpc timeouts */
  timeoutMs?: number;
  /** Aborts the snapshot. */
  signal?: AbortSignal;
}

/**
 * One mesh snapshot for the configuration (the local node from `target`), as `status`, `probe` and
 * `agent --once` take it: the one place the snapshot's pieces are mapped from the configuration.
 */
export function snapshotFrom(
  cfg: Config,
  target: { localNode?: string; localAlive?: string },
  cookie: Cookie,
  scope: SnapshotScope = {},
): Promise<MeshSnapshot> {
  const connectTimeoutMs = scope.timeoutMs ?? cfg.connectTimeout;
  const localLabel = target.localNode ?? `${target.localAlive}@127.0.0.1`;
  const discover = scope.discover ?? true;
  return takeSnapshot({
    local: (signal) =>
      localNodeView({
        node: scope.localNode ?? target.localNode,
        alive: target.localAlive,
        cookie,
        epmdPort: cfg.epmdPort,
        connectTimeoutMs,
        rpcTimeoutMs: scope.timeoutMs ?? cfg.rpcTimeout,
        signal,
      }),
    localLabel,
    ...(discover ? { source: sourceFrom(cfg), enumerator: enumeratorFrom(cfg) } : {}),
    ...(discover && (scope.diagnose ?? true)
      ? {
        diagnose: epmdLess(cfg)
          ? (node: string, signal?: AbortSignal) =>
            diagnosePeer(node, cookie, { timeoutMs: connectTimeoutMs, signal })
          : peerDiagnoser(cookie, { epmdPort: cfg.epmdPort, timeoutMs: connectTimeoutMs }),
      }
      : {}),
    ...(epmdLess(cfg) ? { listNodes: false as const } : {}),
    epmdPort: cfg.epmdPort,
    listTimeoutMs: connectTimeoutMs,
    basename: basenameOf(cfg),
    concurrency: cfg.concurrency,
    signal: scope.signal,
  });
}
