import {
  acceptsPeerHost,
  atomList,
  type Cookie,
  type HandshakeError,
  hostKind,
  isLocalAlias,
  type NameKind,
  type NodeConnection,
  parseNodeName,
} from "../dist/mod.ts";
import { atom, isAtom } from "../etf/term.ts";
import type { DiscoveredHost, Discovery, DiscoverySource, Enumeration, Peer } from "../discovery/mod.ts";
import { ClusterError } from "./errors.ts";
import { diagnosePeer, isRefusalCode, type PeerDiagnosis, probePeer } from "./diagnose.ts";
import {
  isRefusal,
  type LinkConnection,
  LocalLink,
  type LocalNodeLink,
  REFUSED_BACKOFF,
  type RefusedBackoff,
} from "./local.ts";
import { Backoff, type RetryPolicy } from "./backoff.ts";
import { type Clock, realClock, type Timer } from "./clock.ts";
import { type NodeChange, watchNodes } from "./watch.ts";

/** Something worth logging once: a join, a departure, a failure or a recovery. */
export type ClusterEvent =
  | { type: "local_up"; node: string; generation: number }
  | { type: "local_down"; node: string; reason: string }
  /**
   * The local node refused erlmesh's handshake (`code` COOKIE_REJECTED, BAD_DIGEST, NAME_MISMATCH,
   * NOT_ALLOWED) or a glob basename matches several nodes (LOCAL_NODE_AMBIGUOUS). Sent once until the
   * link is up; `reason` says what to fix and names where the cookie came from, never the cookie.
   * Retries follow `retry` (first and longest delay, ms), and happen at once when the node restarts.
   */
  | {
    type: "local_refused";
    node: string;
    code: string;
    reason: string;
    cookieSource: string;
    retry: RefusedBackoff;
  }
  /**
   * Discovered hosts, and the peers on them, whose names are of the other form than the local node's
   * (`-name` vs `-sname`): the node cannot connect to them, so erlmesh never asks it to. Sent once per
   * host or peer while the local node runs; `fix` says what to change.
   */
  | {
    type: "name_form_mismatch";
    node: string;
    kind: NameKind;
    hosts: string[];
    peers: string[];
    fix: string;
  }
  | { type: "join"; node: string }
  | { type: "leave"; node: string }
  | { type: "connect_failed"; node: string; code: string; reason: string }
  | { type: "discovery_failed"; code: string; reason: string; stale: boolean }
  | { type: "discovery_recovered" }
  | { type: "watch_failed"; reason: string }
  | { type: "peer_found"; node: string }
  | { type: "peer_gone"; node: string };

/** Options of {@link Reconciler}. */
export interface ReconcilerOptions {
  /** The local node: full name, or its alive part (then `localHost`'s EPMD is asked and the name learnt). */
  localNode?: string;
  /** The local node's alive part, when `localNode` is not given. */
  localAlive?: string;
  /** Where the local node's EPMD runs. @default "127.0.0.1" */
  localHost?: string;
  /** The cookie. */
  cookie: Cookie;
  /** Where peers come from. */
  source: DiscoverySource;
  /** Turns discovered hosts into node names: a `NodeEnumerator`, or a fake in tests. */
  enumerator: {
    enumerate(hosts: DiscoveredHost[]): Promise<Enumeration>;
    invalidate(host: string): void;
  };
  /** EPMD port on every host. @default 4369 */
  epmdPort?: number;
  /** Steady-state cycle interval, ms. @default 5000 */
  intervalMs?: number;
  /** Interval while anything is missing or changed recently, ms. @default 200 */
  fastIntervalMs?: number;
  /** After start, a local reconnect or a change in the discovered set, poll every `settleIntervalMs` this long, ms. @default 15000 */
  settleMs?: number;
  /** Interval during the settle window, ms. @default 500 */
  settleIntervalMs?: number;
  /** Deadline of the EPMD check before a connect attempt, ms; every fourth attempt uses `connectTimeoutMs`. @default 300 */
  probeTimeoutMs?: number;
  /** Deadline of one connect_node call, ms. @default 2000 */
  connectTimeoutMs?: number;
  /** Deadline of the local rpc, ms. @default 3000 */
  rpcTimeoutMs?: number;
  /** Connect attempts in flight at once. @default 16 */
  concurrency?: number;
  /** Wait between attempts at a peer missing for more than `patienceMs`, ms. @default 2000 */
  maxBackoffMs?: number;
  /** A missing peer is retried every `fastIntervalMs` for this long, then every `maxBackoffMs`, ms. @default 30000 */
  patienceMs?: number;
  /**
   * Retry delays after a peer or the local node refused a handshake (a wrong cookie, another name,
   * `not_allowed`): each refused handshake is a line in that node's log. @default REFUSED_BACKOFF
   */
  refusedBackoff?: RefusedBackoff;
  /** Receives events. */
  onEvent?: (e: ClusterEvent) => void;
  /** Receives each cycle's report. */
  onCycle?: (r: CycleReport, counters: ReconcilerCounters) => void;
  /**
   * The link to the local node. @default a {@link LocalLink} to `localNode` (or `localAlive` on
   * `localHost`) with `cookie`, `epmdPort`, `connectTimeoutMs`, `refusedBackoff` and `clock`
   */
  link?: LocalNodeLink;
  /** The clock cycles, backoff and timers run on. @default realClock */
  clock?: Clock;
  /** Asks a peer's EPMD whether the peer is registered before a retry. @default probePeer */
  probe?: (
    node: string,
    options: { epmdPort?: number; timeoutMs: number },
  ) => Promise<PeerDiagnosis | undefined>;
  /** Finds out why a connect failed, with a handshake of erlmesh's own. @default diagnosePeer */
  diagnose?: (
    node: string,
    cookie: Cookie,
    options: { epmdPort?: number; timeoutMs: number },
  ) => Promise<PeerDiagnosis>;
  /**
   * Starts the watcher that reports nodeup and nodedown on the local node (see {@link watchNodes}).
   * @default watchNodes
   */
  watch?: (conn: LinkConnection, onChange: (c: NodeChange) => void, timeoutMs: number) => Promise<unknown>;
}

/** One missing peer and why. */
export interface MissingPeer {
  /** The peer's node name. */
  node: string;
  /**
   * Why it is missing: a {@link PeerDiagnosis} code from the last attempt, or `PENDING` when it has
   * not been tried yet.
   */
  code: string;
  /** A readable reason, or `waiting for the next attempt`. */
  reason: string;
}

/** What one cycle saw and did. */
export interface CycleReport {
  /** When it started (ms since epoch). */
  at: number;
  /** The discovery source's description. */
  source?: string;
  /** The hosts of the cycle's discovery answer (set once discovery answered). */
  hosts?: string[];
  /** The cycle's discovery failure, if any ("no records" too). */
  discoveryError?: { code?: string; message: string };
  /** Hosts whose EPMD could not be asked in the cycle. */
  hostFailures?: { host: string; code?: string; message: string }[];
  /** Whether the local node was among the enumerated nodes. */
  selfFound?: boolean;
  /** How long it took, ms. */
  durationMs: number;
  /** True when the cycle reached the local node and went through to the end. */
  ok: boolean;
  /** The local node, when known. */
  local?: string;
  /** Why the cycle failed, when `ok` is false. */
  error?: string;
  /** Peers discovered, as node names (the local node left out). */
  discovered: string[];
  /** The local node's `nodes()` at the end of the cycle, sorted. */
  connected: string[];
  /** Discovered peers still not connected at the end of the cycle. */
  missing: MissingPeer[];
  /** Peers a connect was attempted to in this cycle. */
  attempted: string[];
  /** True when the discovery source answered with its last good answer. */
  stale: boolean;
  /** Queries the discovery source made. */
  dnsQueries: number;
  /** EPMD queries made, to enumerate hosts and to probe peers before connecting. */
  epmdQueries: number;
  /** Remote calls made on the local node. */
  rpcs: number;
}

/** Counters since start, for metrics. */
export interface ReconcilerCounters {
  /** Cycles started. */
  cycles: number;
  /** Cycles that ended with an error (see {@link CycleReport.error}). */
  failedCycles: number;
  /** Queries the discovery source made. */
  dnsQueries: number;
  /** Discovery answers that carried an error other than `NXDOMAIN_OR_NODATA`. */
  dnsErrors: number;
  /** EPMD queries made. */
  epmdQueries: number;
  /** Remote calls made on the local node. */
  rpcs: number;
  /** Attempts to connect a missing peer. */
  connectAttempts: number;
  /** Failed attempts, by {@link PeerDiagnosis} code. */
  connectFailures: Record<string, number>;
  /** Nodes that appeared in the local node's `nodes()`. */
  joins: number;
  /** Nodes that left the local node's `nodes()`. */
  leaves: number;
}

interface PeerState {
  /** Failures and refusals in a row, since when, and when the next attempt may start. */
  backoff: Backoff;
  lastCode?: PeerDiagnosis["code"];
  lastReason?: string;
}

/**
 * The reconcile loop of one pod: discover peers, compare with the local node's `nodes()`, and ask
 * the local node to `net_kernel:connect_node/1` each missing peer. It never connects to a node that was
 * not discovered and never disconnects anything.
 *
 * Intervals ({@link Reconciler.nextDelay}): a cycle every 50 ms while the local node is down (to
 * catch it the moment it is back; `fastIntervalMs` if that is shorter); while it refuses erlmesh, at
 * its next connect attempt (checked every 25 ms to 500 ms, so a restart is noticed); every
 * `fastIntervalMs` (200 ms) while a discovered peer is missing or a cycle failed; every
 * `settleIntervalMs` (500 ms) for `settleMs` (15 s) after start, a local reconnect or a change in the
 * discovered set; and otherwise every `intervalMs` (5 s). DNS is asked at most once per
 * `settleIntervalMs`: faster cycles reuse the last answer. A watcher process on the local node reports
 * nodeup and nodedown at once, so a departure starts the reconnect attempts without waiting for the
 * next cycle.
 *
 * Connect attempts run beside the cycles, at most `concurrency` at once and one per peer. A missing
 * peer is retried every `fastIntervalMs` for `patienceMs` (30 s), then every `maxBackoffMs` (2 s)
 * (see {@link Backoff}). A first attempt goes straight to `net_kernel:connect_node/1`; later ones first
 * ask the peer's EPMD (deadline `probeTimeoutMs`, 300 ms; every fourth one `connectTimeoutMs`, for
 * slow networks) whether it is registered, so an unreachable or partitioned peer never makes the
 * local node wait in net_kernel, and a healed one is found within a few hundred ms. A peer that left
 * the local node's `nodes()` counts as failed once: its first attempt asks EPMD first. Steady state
 * costs one DNS query and one local rpc per cycle, and no EPMD query.
 *
 * Refusals back off: a peer that refuses the cookie (or answers under another name, or says
 * `not_allowed`) is retried after 5 s, 10 s, 20 s, then every 30 s ({@link REFUSED_BACKOFF}), and
 * is asked for a diagnosis handshake of erlmesh's own only every fourth time, so it sees at most a
 * few such handshakes a minute. The local node likewise (see {@link LocalLink}); its refusal is
 * reported once, as `local_refused`. A discovered peer whose name is of the other form than the local
 * node's (`-name` vs `-sname`) is never asked for: net_kernel would refuse and log it.
 *
 * Time, the link to the local node, the EPMD check, the diagnosis and the watcher are options
 * (`clock`, `link`, `probe`, `diagnose`, `watch`), so the scheduling is tested without a network.
 */
export class Reconciler {
  #o:
    & Required<
      Pick<
        ReconcilerOptions,
        | "intervalMs"
        | "fastIntervalMs"
        | "settleMs"
        | "settleIntervalMs"
        | "probeTimeoutMs"
        | "connectTimeoutMs"
        | "rpcTimeoutMs"
        | "concurrency"
        | "maxBackoffMs"
        | "patienceMs"
      >
    >
    & ReconcilerOptions;
  #link: LocalNodeLink;
  #clock: Clock;
  #retry: RetryPolicy;
  #probe: NonNullable<ReconcilerOptions["probe"]>;
  #diagnose: NonNullable<ReconcilerOptions["diagnose"]>;
  #watch: NonNullable<ReconcilerOptions["watch"]>;
  #peers = new Map<string, PeerState>();
  #inflight = new Map<string, Promise<void>>();
  #lastDiscovery: Discovery | undefined;
  #lastDiscoveryAt = 0;
  #discovered = new Set<string>();
  #connected = new Set<string>();
  #lastGeneration = 0;
  #settleUntil = 0;
  #discoveryFailing = false;
  #timer: Timer | undefined;
  #running = false;
  #stopped = false;
  #wake: (() => void) | undefined;
  #cycle: Promise<CycleReport> | undefined;
  /** Counters since start. */
  readonly counters: ReconcilerCounters = {
    cycles: 0,
    failedCycles: 0,
    dnsQueries: 0,
    dnsErrors: 0,
    epmdQueries: 0,
    rpcs: 0,
    connectAttempts: 0,
    connectFailures: {},
    joins: 0,
    leaves: 0,
  };
  /** The last cycle's report. */
  last: CycleReport | undefined;
  /** When the last cycle that reached the local node ended (ms since epoch). */
  lastSuccessAt = 0;

  /** Does not start anything yet: call {@link Reconciler.run} or {@link Reconciler.runCycle}. */
  constructor(options: ReconcilerOptions) {
    this.#o = {
      ...options,
      intervalMs: options.intervalMs ?? 5000,
      fastIntervalMs: options.fastIntervalMs ?? 200,
      settleMs: options.settleMs ?? 15000,
      settleIntervalMs: options.settleIntervalMs ?? 500,
      probeTimeoutMs: options.probeTimeoutMs ?? 300,
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      rpcTimeoutMs: options.rpcTimeoutMs ?? 3000,
      concurrency: options.concurrency ?? 16,
      maxBackoffMs: options.maxBackoffMs ?? 2000,
      patienceMs: options.patienceMs ?? 30000,
    };
    this.#clock = options.clock ?? realClock;
    this.#link = options.link ?? new LocalLink({
      node: options.localNode,
      alive: options.localAlive,
      host: options.localHost,
      cookie: options.cookie,
      epmdPort: options.epmdPort,
      connectTimeoutMs: this.#o.connectTimeoutMs,
      refusedBackoff: options.refusedBackoff,
      clock: this.#clock,
    });
    this.#retry = {
      firstMs: this.#o.fastIntervalMs,
      fastMaxMs: this.#o.fastIntervalMs,
      patienceMs: this.#o.patienceMs,
      slowMaxMs: this.#o.maxBackoffMs,
      refused: options.refusedBackoff ?? REFUSED_BACKOFF,
    };
    this.#probe = options.probe ?? probePeer;
    this.#diagnose = options.diagnose ?? diagnosePeer;
    this.#watch = options.watch ??
      // A LinkConnection has every member of NodeConnection the watcher uses (onMessage, self, evaluate).
      ((conn, onChange, timeoutMs) => watchNodes(conn as NodeConnection, onChange, timeoutMs));
    this.#settleUntil = this.#clock.now() + this.#o.settleMs;
  }

  /** Where peers come from. */
  get source(): DiscoverySource {
    return this.#o.source;
  }

  /** The link to the local node. */
  get link(): LocalNodeLink {
    return this.#link;
  }

  #emit(e: ClusterEvent): void {
    this.#o.onEvent?.(e);
  }

  /** Runs one cycle now (or joins the one running). */
  runCycle(): Promise<CycleReport> {
    if (!this.#cycle) this.#cycle = this.#doCycle().finally(() => (this.#cycle = undefined));
    return this.#cycle;
  }

  async #doCycle(): Promise<CycleReport> {
    const at = this.#clock.now();
    const t0 = this.#clock.monotonic();
    const report: CycleReport = {
      at,
      durationMs: 0,
      ok: false,
      discovered: [],
      connected: [],
      missing: [],
      attempted: [],
      stale: false,
      dnsQueries: 0,
      epmdQueries: 0,
      rpcs: 0,
    };
    this.counters.cycles++;
    try {
      // 1. The local node first: while it is down there is nothing to do, not even DNS.
      let conn: LinkConnection;
      try {
        conn = await this.#link.get();
      } catch (err) {
        this.#localDown(
          this.#link.name ?? this.#o.localNode ?? `${this.#o.localAlive}@${this.#o.localHost ?? "127.0.0.1"}`,
          err,
        );
        throw new ClusterError("LOCAL_NODE_DOWN", `Cannot reach the local node: ${errText(err)}`, {
          cause: err,
        });
      }
      if (this.#link.generation !== this.#lastGeneration) {
        this.#lastGeneration = this.#link.generation;
        this.#localDownReported = false;
        this.#localRefusedReported = false;
        this.#formReported.clear();
        this.#settleUntil = this.#clock.now() + this.#o.settleMs;
        this.#emit({ type: "local_up", node: conn.node, generation: this.#link.generation });
        // Node events as they happen; the nodes() poll of every cycle stays the source of truth.
        this.#watch(conn, (c) => this.#onNodeChange(c), this.#o.rpcTimeoutMs).catch((err) => {
          // Ended because erlmesh stopped or the link went down (local_down says so): no failure.
          if (this.#stopped || !conn.open) return;
          this.#emit({ type: "watch_failed", reason: errText(err) });
        });
        conn.closed.then((reason) => {
          if (this.#stopped) return;
          this.#localDown(conn.node, reason);
          this.#poke();
        });
      }
      // 2. Discover hosts (at most once per settle interval), then nodes.
      const reuse = this.#lastDiscovery &&
        this.#clock.now() - this.#lastDiscoveryAt < this.#o.settleIntervalMs;
      const disc = reuse ? { ...this.#lastDiscovery!, queries: 0 } : await this.#o.source.discover();
      if (!reuse) {
        this.#lastDiscovery = disc;
        this.#lastDiscoveryAt = this.#clock.now();
      }
      report.dnsQueries = disc.queries;
      report.stale = disc.stale;
      this.counters.dnsQueries += disc.queries;
      if (reuse) {
        // The failure, if any, was counted when the answer came.
      } else if (disc.error && disc.error.code !== "NXDOMAIN_OR_NODATA") {
        this.counters.dnsErrors++;
        if (!this.#discoveryFailing) {
          this.#discoveryFailing = true;
          this.#emit({
            type: "discovery_failed",
            code: disc.error.code,
            reason: disc.error.message,
            stale: disc.stale,
          });
        }
      } else if (this.#discoveryFailing) {
        this.#discoveryFailing = false;
        this.#emit({ type: "discovery_recovered" });
      }
      const en = await this.#o.enumerator.enumerate(disc.hosts);
      report.epmdQueries = en.epmdQueries;
      this.counters.epmdQueries += en.epmdQueries;
      const hostsWithPeers = new Set(en.peers.map((p) => p.host));
      for (const h of disc.hosts) {
        // A host whose EPMD lists no matching node yet is asked again next cycle.
        if (!hostsWithPeers.has(h.host)) this.#o.enumerator.invalidate(h.host);
      }

      report.local = conn.node;
      report.source = this.#o.source.description;
      report.hosts = disc.hosts.map((h) => h.host);
      if (disc.error) report.discoveryError = { code: disc.error.code, message: disc.error.message };
      report.hostFailures = en.failures.map((f) => ({
        host: f.host,
        code: (f.error.cause as { code?: string } | undefined)?.code ?? (f.error as { code?: string }).code,
        message: f.error.message,
      }));
      report.selfFound = en.peers.some((p) => p.node === conn.node);
      // The local node itself, also under another name: `alive@127.0.0.1` is the same EPMD entry
      // (one node per alive part) as a local `alive@vm` or `alive@app-0.app…`.
      const self = parseNodeName(conn.node);
      const discovered = en.peers.filter((p) => !isLocalAlias(conn.node, p.node));
      report.discovered = discovered.map((p) => p.node);
      this.#trackDiscovered(report.discovered);
      // Peers of the other name form: net_kernel refuses them (and logs it), so never ask.
      const kind = hostKind(self.host);
      const otherForm = discovered.filter((p) => !acceptsPeerHost(kind, parseNodeName(p.node).host));
      const wanted = otherForm.length ? discovered.filter((p) => !otherForm.includes(p)) : discovered;
      this.#reportOtherForm(
        conn.node,
        kind,
        disc.hosts.map((h) => h.host).filter((h) => !acceptsPeerHost(kind, h)),
        otherForm.map((p) => p.node),
      );

      const nodesNow = atomList(
        await conn.rpc("erlang", "nodes", [], { timeoutMs: this.#o.rpcTimeoutMs }),
        "nodes()",
      );
      report.rpcs++;
      this.#trackConnected(nodesNow);
      report.connected = [...nodesNow].sort();
      // A connected node on a discovered host that EPMD's cached answer lacks (a restarted node, or one
      // of several nodes on one host): ask that host's EPMD again next cycle.
      const wantedSet = new Set(report.discovered);
      const discoveredHosts = new Set(disc.hosts.map((h) => h.host));
      for (const n of nodesNow) {
        const host = n.slice(n.indexOf("@") + 1);
        if (!wantedSet.has(n) && discoveredHosts.has(host)) this.#o.enumerator.invalidate(host);
      }

      // 3. Start connect attempts for missing peers; they run beside the cycles.
      const missing = wanted.filter((p) => !this.#connected.has(p.node));
      const now = this.#clock.now();
      for (const p of missing) {
        if (this.#inflight.has(p.node) || this.#inflight.size >= this.#o.concurrency) continue;
        if (this.#peers.get(p.node)?.backoff.ready(now) === false) continue;
        report.attempted.push(p.node);
        const task = this.#connectPeer(conn, p).finally(() => this.#inflight.delete(p.node));
        this.#inflight.set(p.node, task);
      }
      for (const p of otherForm) {
        if (this.#connected.has(p.node)) continue;
        report.missing.push({
          node: p.node,
          code: "NAME_FORM",
          reason: nameFormReason(conn.node, kind, p.node),
        });
      }
      for (const p of missing) {
        const st = this.#peers.get(p.node);
        report.missing.push({
          node: p.node,
          code: st?.lastCode ?? (this.#inflight.has(p.node) ? "CONNECTING" : "PENDING"),
          reason: st?.lastReason ??
            (this.#inflight.has(p.node) ? "connecting" : "waiting for the next attempt"),
        });
      }
      report.ok = true;
      this.lastSuccessAt = this.#clock.now();
    } catch (err) {
      report.error = errText(err);
      this.counters.failedCycles++;
    }
    report.durationMs = this.#clock.monotonic() - t0;
    this.counters.rpcs += report.rpcs;
    this.last = report;
    this.#o.onCycle?.(report, this.counters);
    return report;
  }

  #localDownReported = false;
  #localRefusedReported = false;
  #formReported = new Set<string>();

  #reportOtherForm(node: string, kind: NameKind, hosts: string[], peers: string[]): void {
    const keys = [...hosts.map((h) => `host ${h}`), ...peers.map((p) => `node ${p}`)];
    if (keys.every((k) => this.#formReported.has(k))) return;
    for (const k of keys) this.#formReported.add(k);
    this.#emit({ type: "name_form_mismatch", node, kind, hosts, peers, fix: nameFormFix(kind) });
  }

  #onNodeChange(c: NodeChange): void {
    if (this.#stopped) return;
    if (c.type === "nodeup") this.#trackConnected([...this.#connected, c.node]);
    else if (c.type === "nodedown") {
      this.#trackConnected([...this.#connected].filter((n) => n !== c.node));
      if (this.#discovered.has(c.node)) this.#poke(); // reconnect now, not at the next poll
    }
  }

  #localDown(node: string, reason: unknown): void {
    if (isRefusal(reason)) {
      if (this.#localRefusedReported) return;
      this.#localRefusedReported = true;
      this.#localDownReported = true;
      this.#settleUntil = this.#clock.now() + this.#o.settleMs;
      this.#emit({
        type: "local_refused",
        node,
        code: (reason as HandshakeError).code,
        reason: refusalReason(reason as Error, this.#o.cookie),
        cookieSource: this.#o.cookie.source,
        retry: this.#o.refusedBackoff ?? REFUSED_BACKOFF,
      });
      return;
    }
    if (this.#localDownReported) return;
    this.#localDownReported = true;
    this.#settleUntil = this.#clock.now() + this.#o.settleMs;
    this.#emit({ type: "local_down", node, reason: errText(reason) });
  }

  #trackDiscovered(nodes: string[]): void {
    const next = new Set(nodes);
    let changed = false;
    for (const n of next) {
      if (!this.#discovered.has(n)) {
        changed = true;
        this.#emit({ type: "peer_found", node: n });
      }
    }
    for (const n of this.#discovered) {
      if (!next.has(n)) {
        changed = true;
        this.#peers.delete(n);
        this.#emit({ type: "peer_gone", node: n });
      }
    }
    this.#discovered = next;
    if (changed) this.#settleUntil = this.#clock.now() + this.#o.settleMs;
  }

  #trackConnected(nodes: string[]): void {
    const next = new Set(nodes);
    for (const n of next) {
      if (!this.#connected.has(n)) {
        this.counters.joins++;
        this.#peers.delete(n);
        this.#emit({ type: "join", node: n });
      }
    }
    for (const n of this.#connected) {
      if (!next.has(n)) {
        this.counters.leaves++;
        // It was reachable a moment ago: the next attempts check its EPMD first.
        const backoff = new Backoff(this.#retry);
        backoff.failures = 1;
        backoff.since = this.#clock.now();
        this.#peers.set(n, { backoff });
        this.#emit({ type: "leave", node: n });
      }
    }
    this.#connected = next;
  }

  async #connectPeer(conn: LinkConnection, p: Peer): Promise<void> {
    const st = this.#peers.get(p.node) ?? { backoff: new Backoff(this.#retry) };
    const b = st.backoff;
    this.#peers.set(p.node, st);
    this.counters.connectAttempts++;
    // After a failure, ask the peer's EPMD first: an unreachable or unregistered peer never reaches
    // net_kernel. The deadline is short (a SYN lost in a partition is re-sent only after 1 s; a fresh
    // attempt after the heal is quicker), and every fourth attempt is patient, for slow networks. A
    // first attempt goes straight to the node: its host's EPMD has just listed it.
    let diagnosis: PeerDiagnosis | undefined;
    if (b.probeFirst) {
      this.counters.epmdQueries++;
      diagnosis = await this.#probe(p.node, {
        epmdPort: this.#o.epmdPort,
        timeoutMs: b.patientProbe
          ? this.#o.connectTimeoutMs
          : Math.min(this.#o.probeTimeoutMs, this.#o.connectTimeoutMs),
      });
    }
    if (!diagnosis) {
      try {
        this.counters.rpcs++;
        const r = await conn.rpc("net_kernel", "connect_node", [atom(p.node)], {
          timeoutMs: this.#o.connectTimeoutMs,
        });
        if (isAtom(r, "true")) {
          if (!this.#stopped && this.#discovered.has(p.node)) {
            this.#trackConnected([...this.#connected, p.node]);
          }
          return;
        }
        // A peer that refused erlmesh's handshake last time is asked again only every fourth refused
        // attempt: each handshake it refuses is a line in its log, and connect_node was one already.
        const refusedBefore = b.refusals > 0 && st.lastCode !== undefined && isRefusalCode(st.lastCode);
        diagnosis = refusedBefore && !b.rediagnose && st.lastReason !== undefined
          ? { code: st.lastCode!, message: st.lastReason }
          : await this.#diagnose(p.node, this.#o.cookie, {
            epmdPort: this.#o.epmdPort,
            timeoutMs: this.#o.connectTimeoutMs,
          });
      } catch (err) {
        diagnosis = { code: "RPC", message: errText(err) };
      }
    }
    // A node gone from its host may come back under another name: ask that host's EPMD again.
    if (diagnosis.code === "NOT_REGISTERED") this.#o.enumerator.invalidate(p.host);
    b.fail(this.#clock.now(), isRefusalCode(diagnosis.code));
    st.lastReason = diagnosis.message;
    this.counters.connectFailures[diagnosis.code] = (this.counters.connectFailures[diagnosis.code] ?? 0) + 1;
    if (st.lastCode !== diagnosis.code) {
      st.lastCode = diagnosis.code;
      this.#emit({ type: "connect_failed", node: p.node, code: diagnosis.code, reason: diagnosis.message });
    }
  }

  /** Resolves when no connect attempt is in flight. */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight.values()]);
  }

  /** The delay before the next cycle, by the rules in the class comment. */
  nextDelay(report: CycleReport | undefined = this.last): number {
    if (report && !report.ok && this.#link.refused) {
      // Nothing to do until the next attempt, except noticing a restart (LocalLink asks EPMD).
      return Math.max(25, Math.min(500, this.#link.nextAttemptAt - this.#clock.now()));
    }
    if (report && !report.ok && !this.#link.up) return Math.min(50, this.#o.fastIntervalMs);
    if (!report || !report.ok || report.missing.length > 0) return this.#o.fastIntervalMs;
    if (this.#clock.now() < this.#settleUntil) return this.#o.settleIntervalMs;
    return this.#o.intervalMs;
  }

  #poke(): void {
    this.#wake?.();
  }

  /** Runs cycles until {@link Reconciler.stop}. */
  async run(): Promise<void> {
    if (this.#running) throw new ClusterError("STOPPED", "The reconcile loop is already running");
    this.#running = true;
    while (!this.#stopped) {
      const report = await this.runCycle();
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        this.#wake = () => {
          this.#timer?.cancel();
          resolve();
        };
        this.#timer = this.#clock.setTimer(resolve, this.nextDelay(report));
      });
      this.#wake = undefined;
      this.#timer = undefined;
    }
    this.#running = false;
  }

  /** Stops the loop and closes the local link. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#wake?.();
    this.#link.close();
  }
}

function refusalReason(err: Error, cookie: Cookie): string {
  const code = (err as { code?: string }).code;
  if (code === "COOKIE_REJECTED" || code === "BAD_DIGEST") {
    return `it refused erlmesh's cookie, which came from ${cookie.source}: the node runs with another ` +
      `cookie; give erlmesh the node's cookie (--cookie-file, RELEASE_COOKIE; under 'run', the release's ` +
      `own) or start the node with erlmesh's`;
  }
  return err.message.replace(/^Cannot [^:']*(?:'[^']*')?[^:]*: /, "");
}

function nameFormFix(kind: NameKind): string {
  return kind === "short"
    ? "start the node with long names (RELEASE_DISTRIBUTION=name and RELEASE_NODE=<name>@<FQDN or IP> " +
      "for an Elixir release, -name for erl and relx), or discover hosts of the short form (--hosts with " +
      "host names without dots)"
    : "discover hosts of the long form (FQDNs or IP addresses), or start every node with short names " +
      "(-sname, RELEASE_DISTRIBUTION=sname)";
}

function nameFormReason(node: string, kind: NameKind, peer: string): string {
  const other = kind === "short" ? "a long name" : "a short name";
  const flag = kind === "short" ? "short names (-sname)" : "long names (-name)";
  return `'${peer}' has ${other}, but the local node ${node} runs with ${flag}, so it cannot connect to ` +
    `it (erlmesh does not ask); ${nameFormFix(kind)}`;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
