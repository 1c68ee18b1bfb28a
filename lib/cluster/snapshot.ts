/**
 * One mesh snapshot: the local node, its `nodes()`, what discovery answered, the peers EPMD lists, and
 * for each peer whether it is connected and, if not, what was observed about it. A snapshot only looks:
 * it never asks the local node to connect to anything. {@link judgeMesh} turns what was observed into
 * one verdict, which `status`, `agent --once`, `probe` and `/readyz` share.
 * @module
 */
import {
  acceptsPeerHost,
  atomList,
  connectByAlive,
  connectNode,
  type Cookie,
  hostKind,
  isLocalAlias,
  type NodeConnection,
} from "../dist/mod.ts";
import { names as epmdNames } from "../epmd/mod.ts";
import {
  type DiscoveredHost,
  type Discovery,
  type DiscoverySource,
  type Enumeration,
  isHelperName,
} from "../discovery/mod.ts";
import { diagnosePeer, type PeerDiagnosis, probePeer } from "./diagnose.ts";
import { pooledMap } from "../bytes/pool.ts";
import type { CycleReport } from "./reconcile.ts";
import { type PeerReasonCode, snapshotReason } from "./reasons.ts";

/**
 * The verdict of a snapshot.
 *
 * - `MESHED`: at least one peer was discovered, and every discovered peer is connected.
 * - `ALONE`: discovery answered, it lists this node, and the hosts hold no other node: nothing to
 *   connect to, by design (a single-replica StatefulSet, pod 0 of an OrderedReady StatefulSet whose
 *   Service publishes not-ready addresses, `--discovery epmd` with one node on the host).
 * - `MISSING_PEERS`: at least one discovered peer is not connected.
 * - `DISCOVERY_FAILED`: no peer was found and discovery did not answer (DNS timeout or error, no last
 *   good answer), or the EPMD of a discovered host could not be asked (so peers may be there).
 * - `NO_HOSTS`: discovery answered with no hosts (NXDOMAIN or NODATA: the Service has no endpoints, or
 *   a wrong name). Not `ALONE`: this node is not in the answer either.
 * - `NO_MATCHING_NODES`: hosts were discovered and their EPMD answered, but no peer matched the
 *   basename, and either other nodes are registered there ({@link MeshSnapshot.otherNodes}) or this
 *   node itself was not found.
 * - `LOCAL_DOWN`: the local node did not answer.
 */
export type MeshVerdictCode =
  | "MESHED"
  | "ALONE"
  | "MISSING_PEERS"
  | "DISCOVERY_FAILED"
  | "NO_HOSTS"
  | "NO_MATCHING_NODES"
  | "LOCAL_DOWN";

/**
 * One verdict over a snapshot. `ok` is true for `MESHED` and `ALONE` only: a command that reports a
 * snapshot (`status`, `agent --once`) exits 0 when `ok`, else 1.
 */
export interface MeshVerdict {
  /** What was concluded. */
  code: MeshVerdictCode;
  /** True for `MESHED` and `ALONE`. */
  ok: boolean;
  /** One line for people, such as `Meshed: connected to all 2 discovered peer(s)`. */
  message: string;
}

/** An error as a snapshot carries it: a code when there is one, and the message. */
export interface SnapshotError {
  /** The error's stable code (`TIMEOUT`, `CANNOT_RESOLVE`, `COOKIE_REJECTED`, …), when it has one. */
  code?: string;
  /** The error's message. */
  message: string;
}

/** The local node as a snapshot saw it. */
export type SnapshotLocal =
  | {
    /** The local node answered. */
    up: true;
    /** Its full name, as its handshake gave it. */
    node: string;
    /** Its `nodes()`, sorted. */
    connected: string[];
  }
  | {
    /** The local node did not answer. */
    up: false;
    /** Its name as configured (or `alive@host` when only its alive part is known). */
    node: string;
    /** Why it could not be asked. */
    error: SnapshotError;
  };

/** What the discovery source answered. */
export interface SnapshotDiscovery {
  /** The source's description, such as `DNS SRV _epmd._tcp.app.default.svc.cluster.local.`. */
  source: string;
  /** The hosts of the answer (the last good answer when `stale`). */
  hosts: string[];
  /** True when `hosts` is the last good answer, kept because this lookup failed. */
  stale: boolean;
  /** The lookup's failure (also "no records": code `NXDOMAIN_OR_NODATA`). */
  error?: SnapshotError;
}

/** A discovered host whose EPMD could not be asked for its nodes. */
export interface SnapshotHostFailure {
  /** The host, as discovered. */
  host: string;
  /** The EPMD client's code (`CANNOT_RESOLVE`, `REFUSED`, `TIMEOUT`, `NOT_EPMD`, …), when known. */
  code?: string;
  /** Why. */
  message: string;
}

/** Nodes registered with a host's EPMD that are neither peers nor this node (nor helpers). */
export interface SnapshotOtherNodes {
  /** The host, as discovered. */
  host: string;
  /** Their alive parts. */
  names: string[];
}

/** One discovered peer in a snapshot. */
export interface SnapshotPeer {
  /** The peer's node name. */
  node: string;
  /**
   * `connected` when it is in the local node's `nodes()`, `missing` when it is not, `unknown` when the
   * local node did not answer.
   */
  state: "connected" | "missing" | "unknown";
  /** Why it is missing: what the snapshot observed (see {@link PeerReasonCode}). */
  code?: PeerReasonCode;
  /** The same, as one sentence. */
  reason?: string;
}

/** Everything a snapshot observed; {@link judgeMesh} derives the verdict from it. */
export interface MeshFacts {
  /** The local node. */
  local: SnapshotLocal;
  /** What discovery answered; `undefined` when it was not asked (a local-only snapshot). */
  discovery?: SnapshotDiscovery;
  /** Discovered hosts whose EPMD could not be asked. */
  hostFailures: SnapshotHostFailure[];
  /** True when this node itself was among the enumerated nodes. */
  selfFound: boolean;
  /** Discovered peers (this node left out), sorted by name. */
  peers: SnapshotPeer[];
  /**
   * Other nodes registered on the discovered hosts; asked only when no peer was found, to say what EPMD
   * lists instead. Empty when not asked.
   */
  otherNodes: SnapshotOtherNodes[];
  /** Nodes in `nodes()` that discovery did not list. */
  connectedNotDiscovered: string[];
  /** The basename peers must match, for messages. */
  basename?: string;
}

/** A snapshot: the facts, when they were taken, and the verdict. */
export interface MeshSnapshot extends MeshFacts {
  /** When the snapshot was taken, ms since the epoch. */
  at: number;
  /** The verdict ({@link judgeMesh} of the facts). */
  verdict: MeshVerdict;
}

/** What the local node answered. */
export interface LocalView {
  /** Its full name. */
  node: string;
  /** Its `nodes()`. */
  connected: string[];
}

/** Options of {@link takeSnapshot}. */
export interface SnapshotOptions {
  /** Asks the local node for its name and `nodes()`; rejects when it cannot (see {@link localNodeView}). */
  local: (signal?: AbortSignal) => Promise<LocalView>;
  /** The local node's name for messages while it is down (`alive@host`). */
  localLabel: string;
  /** Where peers come from. Unset: a local-only snapshot (enough for readiness `node`). */
  source?: DiscoverySource;
  /** Turns discovered hosts into nodes (a `NodeEnumerator`). Required with `source`. */
  enumerator?: { enumerate(hosts: DiscoveredHost[], signal?: AbortSignal): Promise<Enumeration> };
  /**
   * Finds out why a discovered peer is not connected, without asking the local node to connect (see
   * {@link peerDiagnoser}). Unset: missing peers are reported `NOT_CONNECTED` without a diagnosis.
   */
  diagnose?: (node: string, signal?: AbortSignal) => Promise<PeerDiagnosis>;
  /**
   * Lists the names registered with a host's EPMD, asked only when no peer was found, to say what is
   * there instead. `false` when nodes are not enumerated through EPMD.
   * @default the EPMD NAMES client of `lib/epmd` (port from `epmdPort`)
   */
  listNodes?: ((host: DiscoveredHost, signal?: AbortSignal) => Promise<string[]>) | false;
  /** EPMD port for the default `listNodes`. @default 4369 */
  epmdPort?: number;
  /** Deadline of one default `listNodes` request, ms. @default 2000 */
  listTimeoutMs?: number;
  /** The basename peers must match, for messages. */
  basename?: string;
  /** Peers diagnosed at once. @default 16 */
  concurrency?: number;
  /** Aborts the snapshot; it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The clock. @default Date.now */
  now?: () => number;
}

function errorOf(err: unknown): SnapshotError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? { code, message: err.message } : { message: err.message };
  }
  return { message: String(err) };
}

function hostOf(node: string): string {
  return node.slice(node.lastIndexOf("@") + 1);
}

function aliveOf(node: string): string {
  return node.slice(0, node.lastIndexOf("@"));
}

/**
 * Takes one snapshot: asks the local node, discovers, enumerates and compares, then diagnoses each
 * missing peer. Never asks the local node to connect, never disconnects. Resolves even when the local
 * node is down or discovery fails (that is in the verdict); rejects only when `signal` aborts.
 *
 * @example
 * ```ts
 * import { localNodeView, peerDiagnoser, takeSnapshot } from "./snapshot.ts";
 * import { Cookie } from "../dist/mod.ts";
 * import { NodeEnumerator, staticSource } from "../discovery/mod.ts";
 *
 * const cookie = new Cookie("secret", "example");
 * const snap = await takeSnapshot({
 *   local: (signal) => localNodeView({ node: "a@127.0.0.1", cookie, signal }),
 *   localLabel: "a@127.0.0.1",
 *   source: staticSource(["127.0.0.1"]),
 *   enumerator: new NodeEnumerator({ basename: "*", useEpmd: true }),
 *   diagnose: peerDiagnoser(cookie),
 * });
 * console.log(snap.verdict.message);
 * ```
 */
export async function takeSnapshot(options: SnapshotOptions): Promise<MeshSnapshot> {
  const { signal } = options;
  const now = options.now ?? Date.now;
  const at = now();
  signal?.throwIfAborted();
  const localPromise = options.local(signal).then(
    (v): SnapshotLocal => ({ up: true, node: v.node, connected: [...v.connected].sort() }),
    (err): SnapshotLocal => ({ up: false, node: options.localLabel, error: errorOf(err) }),
  );
  if (!options.source) {
    const local = await localPromise;
    signal?.throwIfAborted();
    const facts: MeshFacts = {
      local,
      hostFailures: [],
      selfFound: false,
      peers: [],
      otherNodes: [],
      connectedNotDiscovered: local.up ? local.connected : [],
      basename: options.basename,
    };
    return { at, ...facts, verdict: judgeMesh(facts) };
  }
  if (!options.enumerator) throw new TypeError("takeSnapshot() needs an enumerator with a source");
  const discoveryPromise = (async () => {
    const disc: Discovery = await options.source!.discover(signal);
    const en = await options.enumerator!.enumerate(disc.hosts, signal);
    return { disc, en };
  })();
  const [local, { disc, en }] = await Promise.all([localPromise, discoveryPromise]);
  signal?.throwIfAborted();

  const self = local.up ? local.node : options.localLabel;
  const selfFound = en.peers.some((p) => isLocalAlias(self, p.node));
  const wanted = en.peers.filter((p) => !isLocalAlias(self, p.node));
  const kind = hostKind(hostOf(self));
  const connected = new Set(local.up ? local.connected : []);
  const peers = await pooledMap(wanted, options.concurrency ?? 16, async (p): Promise<SnapshotPeer> => {
    if (!local.up) return { node: p.node, state: "unknown" };
    if (connected.has(p.node)) return { node: p.node, state: "connected" };
    if (!acceptsPeerHost(kind, hostOf(p.node))) {
      // net_kernel refuses a peer of the other name form: nothing to diagnose.
      return {
        node: p.node,
        state: "missing",
        code: "NAME_FORM",
        reason:
          `'${p.node}' has ${kind === "short" ? "a long" : "a short"} name and the local node ${self} ` +
          `runs with ${kind} names: they cannot connect; use one name form for every node ` +
          "(RELEASE_DISTRIBUTION=name and -name for long names)",
      };
    }
    const diagnosis = options.diagnose ? await options.diagnose(p.node, signal) : undefined;
    const reason = snapshotReason(p.node, diagnosis);
    return { node: p.node, state: "missing", code: reason.code, reason: reason.message };
  });
  signal?.throwIfAborted();

  const hostFailures: SnapshotHostFailure[] = en.failures.map((f) => {
    // The enumerator wraps the EPMD client's error: its cause carries the precise code.
    const cause = f.error.cause;
    const inner = cause instanceof Error ? errorOf(cause) : undefined;
    return { host: f.host, code: inner?.code ?? errorOf(f.error).code, message: f.error.message };
  });

  let otherNodes: SnapshotOtherNodes[] = [];
  const listNodes = options.listNodes === undefined
    ? defaultListNodes(options.epmdPort, options.listTimeoutMs ?? 2000)
    : options.listNodes;
  if (wanted.length === 0 && listNodes) {
    const failed = new Set(hostFailures.map((f) => f.host));
    const hosts = disc.hosts.filter((h) => !failed.has(h.host));
    const lists = await pooledMap(hosts, options.concurrency ?? 16, async (h) => {
      try {
        return { host: h.host, names: await listNodes(h, signal) };
      } catch {
        signal?.throwIfAborted();
        return { host: h.host, names: [] }; // it answered the enumerator a moment ago; nothing to add
      }
    });
    signal?.throwIfAborted();
    otherNodes = lists
      .map((l) => ({
        host: l.host,
        names: l.names
          .filter((n) =>
            !isHelperName(n) &&
            !(n === aliveOf(self) && (l.host === hostOf(self) || isLocalAlias(self, `${n}@${l.host}`)))
          )
          .sort(),
      }))
      .filter((l) => l.names.length > 0);
  }

  const discovered = new Set(wanted.map((p) => p.node));
  const facts: MeshFacts = {
    local,
    discovery: {
      source: options.source.description,
      hosts: disc.hosts.map((h) => h.host),
      stale: disc.stale,
      ...(disc.error ? { error: errorOf(disc.error) } : {}),
    },
    hostFailures,
    selfFound,
    peers,
    otherNodes,
    connectedNotDiscovered: local.up ? local.connected.filter((n) => !discovered.has(n)) : [],
    basename: options.basename,
  };
  return { at, ...facts, verdict: judgeMesh(facts) };
}

function defaultListNodes(
  port: number | undefined,
  timeoutMs: number,
): (host: DiscoveredHost, signal?: AbortSignal) => Promise<string[]> {
  return async (h, signal) =>
    (await epmdNames(h.address ?? h.host, { port, timeoutMs, signal })).nodes.map((n) => n.name);
}

function list(items: string[], max = 6): string {
  return items.length <= max
    ? items.join(", ")
    : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The verdict over what a snapshot observed (pure). The rules, in order:
 * 1. the local node did not answer: `LOCAL_DOWN`;
 * 2. peers were discovered: `MISSING_PEERS` when one is not connected, else `MESHED` (a host whose EPMD
 *    could not be asked is named in the message; its nodes are unknown, not missing);
 * 3. no peer: `DISCOVERY_FAILED` when discovery failed without hosts, `NO_HOSTS` when it answered with
 *    none, `DISCOVERY_FAILED` when a host's EPMD could not be asked, `ALONE` when this node was found and
 *    nothing else is registered on the hosts, else `NO_MATCHING_NODES`.
 *
 * A local-only snapshot (discovery not asked) with the local node up is `NO_HOSTS`, its message saying
 * discovery was not asked: only readiness `node` passes on it.
 */
export function judgeMesh(facts: MeshFacts): MeshVerdict {
  const { local, discovery } = facts;
  if (!local.up) {
    return {
      code: "LOCAL_DOWN",
      ok: false,
      message: `Not meshed: the local node ${local.node} does not answer: ${local.error.message}`,
    };
  }
  const unlisted = facts.hostFailures.length > 0
    ? `; the nodes on ${plural(facts.hostFailures.length, "host")} are unknown (${
      list(facts.hostFailures.map((f) => f.host))
    }: EPMD could not be asked)`
    : "";
  const stale = discovery?.stale ? " (discovery failed; judged on its last good answer)" : "";
  if (facts.peers.length > 0) {
    const missing = facts.peers.filter((p) => p.state !== "connected");
    if (missing.length > 0) {
      return {
        code: "MISSING_PEERS",
        ok: false,
        message: `Not meshed: ${missing.length} of ${
          plural(facts.peers.length, "discovered peer")
        } not connected: ${list(missing.map((p) => p.node))}${stale}${unlisted}`,
      };
    }
    return {
      code: "MESHED",
      ok: true,
      message: `Meshed: connected to ${
        facts.peers.length === 1 ? "the only discovered peer" : `all ${facts.peers.length} discovered peers`
      }${stale}${unlisted}`,
    };
  }
  if (discovery === undefined) {
    return { code: "NO_HOSTS", ok: false, message: "Not meshed: discovery was not asked" };
  }
  const dnsFailed = discovery.error !== undefined && discovery.error.code !== "NXDOMAIN_OR_NODATA";
  if (discovery.hosts.length === 0) {
    return dnsFailed
      ? {
        code: "DISCOVERY_FAILED",
        ok: false,
        message: `Not meshed: discovery failed (${discovery.source}): ${discovery.error!.message}`,
      }
      : {
        code: "NO_HOSTS",
        ok: false,
        message: `Not meshed: ${discovery.source} lists no hosts${
          discovery.error ? ` (${discovery.error.message})` : ""
        }, not even this node's`,
      };
  }
  if (facts.hostFailures.length > 0) {
    const f = facts.hostFailures;
    return {
      code: "DISCOVERY_FAILED",
      ok: false,
      message: `Not meshed: no peer found, and the nodes on ${
        plural(f.length, "host")
      } of ${discovery.hosts.length} are unknown: ${f.slice(0, 3).map((x) => x.message).join("; ")}${
        f.length > 3 ? "; …" : ""
      }`,
    };
  }
  const basename = facts.basename === undefined ? "" : ` '${facts.basename}'`;
  if (facts.otherNodes.length > 0) {
    const seen = facts.otherNodes.flatMap((o) => o.names.map((n) => `${n}@${o.host}`));
    return {
      code: "NO_MATCHING_NODES",
      ok: false,
      message: `Not meshed: no node on the ${plural(discovery.hosts.length, "discovered host")} matches${
        basename ? ` basename${basename}` : " the basename"
      }; EPMD lists ${list(seen)} instead`,
    };
  }
  if (facts.selfFound) {
    return {
      code: "ALONE",
      ok: true,
      message:
        `Alone: ${discovery.source} lists only this node (${local.node}); no peers to connect to${stale}`,
    };
  }
  return {
    code: "NO_MATCHING_NODES",
    ok: false,
    message: `Not meshed: no node${basename ? ` named${basename}` : ""} on the ${
      plural(discovery.hosts.length, "discovered host")
    } (${list(discovery.hosts)}), not even this node ${local.node}`,
  };
}

/** Options of {@link localNodeView}. */
export interface LocalNodeViewOptions {
  /** The local node's full name; or give `alive` (and `host`) to learn it from the handshake. */
  node?: string;
  /** The local node's alive part, when its full name is not known. */
  alive?: string;
  /** Where the local node's EPMD runs, with `alive`. @default "127.0.0.1" */
  host?: string;
  /** The cookie. */
  cookie: Cookie;
  /** EPMD port. @default 4369 */
  epmdPort?: number;
  /** Deadline of the connect, ms. @default 2000 */
  connectTimeoutMs?: number;
  /** Deadline of the `nodes()` call, ms. @default 3000 */
  rpcTimeoutMs?: number;
  /** Aborts. */
  signal?: AbortSignal;
}

/**
 * Connects to the local node as a hidden node, asks `erlang:nodes()` and closes: the `local` piece of
 * {@link takeSnapshot} for commands that run once. Rejects with the connect or rpc error.
 */
export async function localNodeView(options: LocalNodeViewOptions): Promise<LocalView> {
  const common = {
    cookie: options.cookie,
    epmdPort: options.epmdPort,
    timeoutMs: options.connectTimeoutMs ?? 2000,
    signal: options.signal,
  };
  if (!options.node && !options.alive) {
    throw new TypeError("localNodeView() needs a node name or an alive part");
  }
  const conn: NodeConnection = options.node
    ? await connectNode(options.node, common)
    : await connectByAlive(options.alive!, options.host ?? "127.0.0.1", common);
  try {
    const list = atomList(
      await conn.rpc("erlang", "nodes", [], {
        timeoutMs: options.rpcTimeoutMs ?? 3000,
        signal: options.signal,
      }),
      "nodes()",
    );
    return { node: conn.node, connected: list };
  } finally {
    conn.close();
  }
}

/** Options of {@link peerDiagnoser}. */
export interface PeerDiagnoserOptions {
  /** EPMD port on the peers' hosts. @default 4369 */
  epmdPort?: number;
  /** Deadline of the EPMD probe and of the handshake, each, ms. @default 2000 */
  timeoutMs?: number;
}

/**
 * The `diagnose` piece of {@link takeSnapshot}: asks the peer's EPMD (is it registered?), then tries
 * erlmesh's own hidden handshake with it (does it take the cookie and answer to its name?). It never
 * asks the local node to connect.
 */
export function peerDiagnoser(
  cookie: Cookie,
  options: PeerDiagnoserOptions = {},
): (node: string, signal?: AbortSignal) => Promise<PeerDiagnosis> {
  const timeoutMs = options.timeoutMs ?? 2000;
  return async (node, signal) =>
    (await probePeer(node, { epmdPort: options.epmdPort, timeoutMs, signal })) ??
      (await diagnosePeer(node, cookie, { epmdPort: options.epmdPort, timeoutMs, signal }));
}

/**
 * What a reconcile cycle must report, beside {@link CycleReport}'s fields, for a snapshot of it to tell
 * `ALONE` from `NO_HOSTS`, `DISCOVERY_FAILED` or `NO_MATCHING_NODES`. The reconciler fills them from
 * its `Discovery` and `Enumeration` of the cycle.
 */
export interface CycleDiscoveryFacts {
  /** The source's description. */
  source: string;
  /** The hosts of the discovery answer. */
  hosts: string[];
  /** The discovery failure of the cycle, if any ("no records" too). */
  discoveryError?: SnapshotError;
  /** Hosts whose EPMD could not be asked in the cycle. */
  hostFailures: SnapshotHostFailure[];
  /** Whether the local node was among the enumerated nodes. */
  selfFound: boolean;
  /** Other nodes on the hosts (see {@link MeshFacts.otherNodes}); empty when not known. */
  otherNodes?: SnapshotOtherNodes[];
}

/**
 * A snapshot of a reconcile cycle's report, without network work (for `/readyz`). Missing peers keep
 * the reconciler's reasons, which come from real connect attempts. A report without
 * {@link CycleDiscoveryFacts} and without discovered peers is judged `DISCOVERY_FAILED` ("the cycle did
 * not report what discovery answered"): zero peers is never taken for success on trust.
 */
export function snapshotOfCycle(
  report: CycleReport & Partial<CycleDiscoveryFacts>,
  options: { localLabel: string; source?: string; basename?: string },
): MeshSnapshot {
  const local: SnapshotLocal = report.ok && report.local
    ? { up: true, node: report.local, connected: report.connected }
    : {
      up: false,
      node: report.local ?? options.localLabel,
      error: { message: report.error ?? "no reconcile cycle has reached it yet" },
    };
  const missing = new Map(report.missing.map((m) => [m.node, m]));
  const peers: SnapshotPeer[] = [...report.discovered].sort().map((node) => {
    if (!local.up) return { node, state: "unknown" };
    const m = missing.get(node);
    return m ? { node, state: "missing", code: m.code, reason: m.reason } : { node, state: "connected" };
  });
  const known = report.hosts !== undefined && report.hostFailures !== undefined &&
    report.selfFound !== undefined;
  const discovery: SnapshotDiscovery = known
    ? {
      source: report.source ?? options.source ?? "discovery",
      hosts: report.hosts!,
      stale: report.stale,
      ...(report.discoveryError ? { error: report.discoveryError } : {}),
    }
    : {
      source: report.source ?? options.source ?? "discovery",
      hosts: [],
      stale: report.stale,
      error: { code: "UNREPORTED", message: "the reconcile cycle did not report what discovery answered" },
    };
  const discovered = new Set(report.discovered);
  const facts: MeshFacts = {
    local,
    discovery,
    hostFailures: report.hostFailures ?? [],
    selfFound: report.selfFound ?? false,
    peers,
    otherNodes: report.otherNodes ?? [],
    connectedNotDiscovered: local.up ? local.connected.filter((n) => !discovered.has(n)) : [],
    basename: options.basename,
  };
  return { at: report.at, ...facts, verdict: judgeMesh(facts) };
}
