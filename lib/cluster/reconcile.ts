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

/**
 * EPMD checks at one peer at once: a patient one and the short ones started every retry interval
 * beside it (a short check's deadline, 300 ms, outlives three 100 ms intervals).
 */
const MAX_CHECKS_PER_PEER = 4;

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
  /** Interval while a discovered peer is missing (at most: see {@link Reconciler.nextDelay}), ms. @default 100 */
  fastIntervalMs?: number;
  /**
   * After a local change (start, the local link coming up, a peer joining or leaving the local node),
   * poll every `settleIntervalMs` this long, ms. A change in DNS alone is none. @default 5000
   */
  settleMs?: number;
  /** Interval during the settle window, ms; DNS is asked at most this often. @default 500 */
  settleIntervalMs?: number;
  /** Deadline of the EPMD check before a connect attempt, ms; every fourth attempt uses `connectTimeoutMs`. @default 300 */
  probeTimeoutMs?: number;
  /**
   * How long "no records" right after an answer with hosts is held as a failure, keeping that answer,
   * ms: Deno reads SERVFAIL and REFUSED as "no records", so a failing DNS server must not make the
   * peers look gone. After it, "no records" is an answer (no peers). @default 30000
   */
  noRecordsGraceMs?: number;
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
  /**
   * Asks whether the peer can be reached before a retry: its EPMD whether it is registered, or (nodes
   * without EPMD) its distribution port. @default probePeer
   */
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

/** The attempts at one peer in flight: at most two, and at most one of them patient or connecting. */
interface PeerAttempts {
  /** Attempts in flight. */
  count: number;
  /** True while one of them is a patient EPMD check. */
  patient: boolean;
  /** True while one of them waits for `net_kernel:connect_node/1` (or the diagnosis after it). */
  connecting: boolean;
}

/** A discovery answer and the enumeration of its hosts, as the lookup beside the cycles left them. */
interface Answer {
  disc: Discovery;
  en: Enumeration;
  /** What a cycle acts on (hosts, peers, failure), to tell whether a new answer changes anything. */
  key: string;
}

function answerKey(disc: Discovery, en: Enumeration): string {
  return JSON.stringify([
    disc.hosts.map((h) => h.host),
    en.peers.map((p) => p.node),
    en.failures.map((f) => f.host),
    disc.error?.code ?? "",
    disc.stale,
  ]);
}

/**
 * How long the local node may be down before the loop polls it every 100 ms instead of 50 (see
 * {@link Reconciler.nextDelay}): a restarted node registers within this on an idle machine.
 */
export const SLOW_BOOT_MS = 1000;

/**
 * The reconcile loop of one pod: discover peers, compare with the local node's `nodes()`, and ask
 * the local node to `net_kernel:connect_node/1` each missing peer. It never connects to a node that was
 * not discovered and never disconnects anything.
 *
 * Each cycle reaches the local node, asks for its `nodes()` and acts on the last discovery answer.
 * Discovery (the DNS lookup, then EPMD for hosts not seen before) runs beside the cycles, one lookup at
 * a time and at most once per `settleIntervalMs` (500 ms): a slow or failing DNS query never holds back
 * an attempt at a peer already known, and only the first cycle, with nothing known yet, waits for an
 * answer. Until the next answer the last one stands (a peer known from the last good answer is still
 * discovered); an answer that changes anything wakes the loop at once, and a peer it drops is not
 * dialled again (an attempt whose EPMD check was in flight stops before `connect_node/1`).
 *
 * Intervals ({@link Reconciler.nextDelay}): a cycle every 50 ms while the local node is down (to
 * catch it the moment it is back; `fastIntervalMs` if that is shorter), every 100 ms while nothing listens
 * on its EPMD port yet (the node has not started: it starts EPMD before it boots, and registers a few
 * hundred milliseconds later, so this halves the polls of a waiting agent at no cost) and once it has been
 * down for {@link SLOW_BOOT_MS} (a node restarting registers within that; one still booting after it shares
 * a busy machine, where erlmesh's polls take CPU it waits for); while it refuses erlmesh, at
 * its next connect attempt (checked every 25 ms to 500 ms, so a restart is noticed); every
 * `fastIntervalMs` (100 ms) after a failed cycle, and while a discovered peer is missing at the next
 * attempt it is due for (every `fastIntervalMs` for 30 s, then 2 s; after a refusal, seconds), between
 * `fastIntervalMs` and the calm interval below; every
 * `settleIntervalMs` (500 ms) for `settleMs` (5 s) after a local change: start, the local link coming
 * up, a peer joining or leaving the local node (a join wakes the loop at once, so DNS is asked soon
 * about a node that may have joined before DNS listed it here); and otherwise every `intervalMs` (5 s). A change in DNS
 * alone is no local change: a new host's own agent connects it, and a peer missing here makes the
 * cycles fast anyway. (DNS answers carry a TTL, but `Deno.resolveDns` does not return it, so the
 * intervals do not follow it.) A watcher process on the local node reports nodeup and nodedown at
 * once, so a departure starts the reconnect attempts without waiting for the next cycle; it is started
 * once the first cycle's connect attempts are out, so nothing on the way from the local link coming
 * up to the first `connect_node/1` waits for it, for metrics or for DNS when peers are known.
 *
 * Connect attempts run beside the cycles, at most `concurrency` at once and at most four per peer. A
 * missing peer is retried every `fastIntervalMs` (100 ms) for `patienceMs` (30 s), then every `maxBackoffMs`
 * (2 s) (see {@link Backoff}). A first attempt goes straight to `net_kernel:connect_node/1`; later
 * ones first ask the peer's EPMD (deadline `probeTimeoutMs`, 300 ms; every fourth one
 * `connectTimeoutMs`, for slow networks) whether it is registered, so an unreachable or partitioned
 * peer never makes the local node wait in net_kernel. Checks do not wait for each other: beside checks
 * still waiting for their deadline (a SYN lost in a partition), the next starts at the retry interval,
 * and the first to find the peer registered goes on to `connect_node/1`: a healed peer is found within
 * one retry interval and a round trip. A peer that left the local node's
 * `nodes()` counts as failed once (its first attempt, at once, asks EPMD first), unless the local node
 * itself restarted. Steady state costs one DNS query and one local rpc per cycle (12 a minute at the
 * default interval), and no EPMD query.
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
        | "noRecordsGraceMs"
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
  #attempts = new Map<string, PeerAttempts>();
  #tasks = new Set<Promise<void>>();
  /** The last discovery answer, and the one the last cycle acted on. */
  #answer: Answer | undefined;
  #applied: Answer | undefined;
  /** The lookup in flight, beside the cycles. */
  #discovering: Promise<void> | undefined;
  /** A failure of the lookup (other than a DNS failure, which is an answer), for the next cycle. */
  #discoveryCrash: unknown;
  /** When the last lookup started: lookups start at least `settleIntervalMs` apart. */
  #lastDiscoveryAt = 0;
  /** Queries made since the last cycle report. */
  #unreportedDns = 0;
  #unreportedEpmd = 0;
  /** Nodes the watcher reported while a `nodes()` call was in flight: its word is the newer. */
  #watcherSaw: Set<string> | undefined;
  #discovered = new Set<string>();
  #connected = new Set<string>();
  #lastGeneration = 0;
  /** The link generation the connected set and the watcher belong to. */
  #connectedGeneration = 0;
  #watchedGeneration = 0;
  #settleUntil = 0;
  /** The last cycle's discovered peers, of the local node's name form, that it was not connected to. */
  #missingWanted: Peer[] = [];
  #discoveryFailing = false;
  /** The last answer with hosts and no error, and when it came. */
  #lastGood: { disc: Discovery; at: number } | undefined;
  #timer: Timer | undefined;
  #running = false;
  #stopped = false;
  #wake: (() => void) | undefined;
  #cycle: Promise<CycleReport> | undefined;
  /** The source's unsubscribe, while {@link Reconciler.run} runs with a source that sees changes itself. */
  #unsubscribe: (() => void) | undefined;
  /** A change the source announced while a lookup was in flight: asked again when it ends. */
  #sourceChanged = false;
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
      fastIntervalMs: options.fastIntervalMs ?? 100,
      settleMs: options.settleMs ?? 5000,
      settleIntervalMs: options.settleIntervalMs ?? 500,
      probeTimeoutMs: options.probeTimeoutMs ?? 300,
      noRecordsGraceMs: options.noRecordsGraceMs ?? 30000,
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
      const newGeneration = this.#link.generation !== this.#lastGeneration;
      if (newGeneration) {
        this.#lastGeneration = this.#link.generation;
        this.#localDownReported = false;
        this.#localDownSince = undefined;
        this.#localRefusedReported = false;
        this.#formReported.clear();
        this.#settleUntil = this.#clock.now() + this.#o.settleMs;
        this.#emit({ type: "local_up", node: conn.node, generation: this.#link.generation });
        conn.closed.then((reason) => {
          if (this.#stopped) return;
          this.#localDown(conn.node, reason);
          this.#poke();
        });
      }
      // 2. Discovery runs beside the cycles (at most once per settle interval, one lookup at a time):
      // a slow or failing DNS query never holds back an attempt at a peer already known. Only the first
      // cycle, with nothing known yet, waits for it.
      if (!this.#answer || this.#clock.now() - this.#lastDiscoveryAt >= this.#o.settleIntervalMs) {
        this.#startDiscovery();
      }
      if (!this.#answer && !this.#discoveryCrash) await this.#discovering;

      // 3. What the local node is connected to. Watcher reports that arrive meanwhile are newer.
      let nodesNow: string[];
      const saw = new Set<string>();
      this.#watcherSaw = saw;
      try {
        nodesNow = atomList(
          await conn.rpc("erlang", "nodes", [], { timeoutMs: this.#o.rpcTimeoutMs }),
          "nodes()",
        );
      } finally {
        if (this.#watcherSaw === saw) this.#watcherSaw = undefined;
      }
      report.rpcs++;
      if (saw.size > 0) {
        nodesNow = [
          ...nodesNow.filter((n) => !saw.has(n)),
          ...[...saw].filter((n) => this.#connected.has(n)),
        ];
      }
      if (this.#stopped) throw new ClusterError("STOPPED", "Cannot go on: the reconcile loop was stopped");

      // 4. The last discovery answer, and the nodes of it.
      if (this.#discoveryCrash !== undefined) {
        const err = this.#discoveryCrash;
        this.#discoveryCrash = undefined;
        throw err;
      }
      const { disc, en } = this.#answer!;
      this.#applied = this.#answer;
      report.dnsQueries = this.#unreportedDns;
      report.epmdQueries = this.#unreportedEpmd;
      this.#unreportedDns = 0;
      this.#unreportedEpmd = 0;
      report.stale = disc.stale;
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

      // Peers gone from a restarted local node did not fail: their first attempt needs no EPMD check.
      this.#trackConnected(nodesNow, this.#connectedGeneration === this.#link.generation);
      this.#connectedGeneration = this.#link.generation;
      report.connected = [...nodesNow].sort();
      // A connected node on a discovered host that EPMD's cached answer lacks (a restarted node, or one
      // of several nodes on one host): ask that host's EPMD again next cycle.
      const wantedSet = new Set(report.discovered);
      const discoveredHosts = new Set(disc.hosts.map((h) => h.host));
      for (const n of nodesNow) {
        const host = n.slice(n.indexOf("@") + 1);
        if (!wantedSet.has(n) && discoveredHosts.has(host)) this.#o.enumerator.invalidate(host);
      }

      // 5. Start connect attempts for missing peers; they run beside the cycles.
      const missing = wanted.filter((p) => !this.#connected.has(p.node));
      this.#missingWanted = missing;
      const now = this.#clock.now();
      for (const p of missing) {
        if (this.#tasks.size >= this.#o.concurrency) break;
        if (this.#peers.get(p.node)?.backoff.ready(now) === false) continue;
        // Beside EPMD checks still waiting for their deadline, another starts at the retry interval
        // (see #attempt); never beside a connect_node in flight.
        const a = this.#attempts.get(p.node);
        if (a && (a.count >= MAX_CHECKS_PER_PEER || a.connecting)) continue;
        report.attempted.push(p.node);
        this.#startAttempt(conn, p);
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
        const inflight = this.#attempts.has(p.node);
        report.missing.push({
          node: p.node,
          code: st?.lastCode ?? (inflight ? "CONNECTING" : "PENDING"),
          reason: st?.lastReason ?? (inflight ? "connecting" : "waiting for the next attempt"),
        });
      }
      // 6. The watcher, once the attempts are out: nothing the user waits for queues behind it.
      if (this.#watchedGeneration !== this.#link.generation) {
        this.#watchedGeneration = this.#link.generation;
        // Node events as they happen; the nodes() poll of every cycle stays the source of truth.
        this.#watch(conn, (c) => this.#onNodeChange(c), this.#o.rpcTimeoutMs).catch((err) => {
          // Ended because erlmesh stopped or the link went down (local_down says so): no failure.
          if (this.#stopped || !conn.open) return;
          this.#emit({ type: "watch_failed", reason: errText(err) });
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
  /** When the local node was first found down in the current outage (undefined while it is up). */
  #localDownSince: number | undefined;
  #localRefusedReported = false;
  #formReported = new Set<string>();

  #reportOtherForm(node: string, kind: NameKind, hosts: string[], peers: string[]): void {
    const keys = [...hosts.map((h) => `host ${h}`), ...peers.map((p) => `node ${p}`)];
    if (keys.every((k) => this.#formReported.has(k))) return;
    for (const k of keys) this.#formReported.add(k);
    this.#emit({ type: "name_form_mismatch", node, kind, hosts, peers, fix: nameFormFix(kind) });
  }

  #onNodeChange(c: NodeChange): void {
    if (this.#stopped || c.type === "nodes") return;
    this.#watcherSaw?.add(c.node);
    if (c.type === "nodeup") this.#trackConnected([...this.#connected, c.node], true);
    else {
      this.#trackConnected([...this.#connected].filter((n) => n !== c.node), true);
      if (this.#discovered.has(c.node)) this.#poke(); // reconnect now, not at the next poll
    }
  }

  /** Starts a lookup and the enumeration of its hosts beside the cycles, unless one is in flight. */
  #startDiscovery(): void {
    if (this.#discovering) return;
    this.#lastDiscoveryAt = this.#clock.now();
    const lookup = async () => {
      let disc = await this.#o.source.discover();
      this.counters.dnsQueries += disc.queries;
      this.#unreportedDns += disc.queries;
      const now = this.#clock.now();
      // "No records" right after hosts may be a failing server (Deno reads SERVFAIL as "no records"):
      // for a while it is a failure, and the hosts stay.
      let held = false;
      if (disc.hosts.length > 0 && !disc.stale && !disc.error) {
        this.#lastGood = { disc, at: now };
      } else if (
        disc.error?.code === "NXDOMAIN_OR_NODATA" && disc.hosts.length === 0 && this.#lastGood &&
        now - this.#lastGood.at < this.#o.noRecordsGraceMs
      ) {
        held = true;
        disc = { ...this.#lastGood.disc, stale: true, error: disc.error, queries: disc.queries };
      }
      if (disc.error && (disc.error.code !== "NXDOMAIN_OR_NODATA" || held)) {
        this.counters.dnsErrors++;
        if (!this.#discoveryFailing) {
          this.#discoveryFailing = true;
          this.#emit({
            type: "discovery_failed",
            code: disc.error.code,
            reason: held
              ? `${disc.error.message}; a failing DNS server (SERVFAIL) reads the same, so the last answer ` +
                `with peers is kept for up to ${this.#o.noRecordsGraceMs / 1000} s`
              : disc.error.message,
            stale: disc.stale,
          });
        }
      } else if (this.#discoveryFailing && disc.error?.code !== "NXDOMAIN_OR_NODATA") {
        // (Still "no records" after the grace: an answer now, but no recovery to report.)
        this.#discoveryFailing = false;
        this.#emit({ type: "discovery_recovered" });
      }
      const en = await this.#o.enumerator.enumerate(disc.hosts);
      this.counters.epmdQueries += en.epmdQueries;
      this.#unreportedEpmd += en.epmdQueries;
      const hostsWithPeers = new Set(en.peers.map((p) => p.host));
      for (const h of disc.hosts) {
        // A host whose EPMD lists no matching node yet is asked again next time.
        if (!hostsWithPeers.has(h.host)) this.#o.enumerator.invalidate(h.host);
      }
      this.#answer = { disc, en, key: answerKey(disc, en) };
    };
    this.#discovering = lookup().catch((err) => {
      this.#discoveryCrash = err;
    }).finally(() => {
      this.#discovering = undefined;
      // An answer that changes something is acted on now, not at the next scheduled cycle.
      if (this.#unappliedChange()) this.#wake?.();
    });
  }

  /** True when the last answer (or a failure of the lookup) is news to the cycles. */
  #unappliedChange(): boolean {
    if (this.#stopped || !this.#link.up) return false;
    if (this.#discoveryCrash !== undefined) return true;
    return this.#answer !== undefined && this.#answer.key !== this.#applied?.key;
  }

  #localDown(node: string, reason: unknown): void {
    if (isRefusal(reason)) {
      if (this.#localRefusedReported) return;
      this.#localRefusedReported = true;
      this.#localDownReported = true;
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
    this.#localDownSince = this.#clock.now();
    this.#emit({ type: "local_down", node, reason: errText(reason) });
  }

  /**
   * A change in the discovered set is no local change: a new host's own agent connects it, and a
   * missing peer makes the cycles fast anyway (see {@link Reconciler.nextDelay}).
   */
  #trackDiscovered(nodes: string[]): void {
    const next = new Set(nodes);
    for (const n of next) {
      if (!this.#discovered.has(n)) this.#emit({ type: "peer_found", node: n });
    }
    for (const n of this.#discovered) {
      if (!next.has(n)) {
        this.#peers.delete(n);
        this.#emit({ type: "peer_gone", node: n });
      }
    }
    this.#discovered = next;
  }

  /**
   * A join or a leave is a local change: it opens the settle window. A peer that left counts as failed
   * once (`peerFailed`), so its first attempt asks its EPMD first; not when the local node restarted.
   */
  #trackConnected(nodes: string[], peerFailed: boolean): void {
    const next = new Set(nodes);
    let changed = false;
    let joined = false;
    for (const n of next) {
      if (!this.#connected.has(n)) {
        changed = joined = true;
        this.counters.joins++;
        this.#peers.delete(n);
        this.#emit({ type: "join", node: n });
      }
    }
    for (const n of this.#connected) {
      if (!next.has(n)) {
        changed = true;
        this.counters.leaves++;
        if (peerFailed) {
          // It was reachable a moment ago: the next attempts check its EPMD first.
          const backoff = new Backoff(this.#retry);
          backoff.failures = 1;
          backoff.since = this.#clock.now();
          this.#peers.set(n, { backoff });
        } else {
          this.#peers.delete(n);
        }
        this.#emit({ type: "leave", node: n });
      }
    }
    this.#connected = next;
    if (changed) this.#settleUntil = this.#clock.now() + this.#o.settleMs;
    // The settle window starts now, not after the wait under way: a cycle (and a lookup, when the last
    // one is 500 ms old) at once, so a node that joined (maybe before DNS listed it here) is found too.
    // A departure wakes the loop only for a discovered peer (see #onNodeChange).
    if (joined) this.#poke();
  }

  /**
   * Starts an attempt at `p`: the first one, or an EPMD check beside others still waiting for their
   * deadline (the caller checked that fewer than {@link MAX_CHECKS_PER_PEER} are, and no connect_node).
   */
  #startAttempt(conn: LinkConnection, p: Peer): void {
    const st = this.#peers.get(p.node) ?? { backoff: new Backoff(this.#retry) };
    this.#peers.set(p.node, st);
    const a = this.#attempts.get(p.node) ?? { count: 0, patient: false, connecting: false };
    this.#attempts.set(p.node, a);
    const b = st.backoff;
    // A patient check is never doubled: beside one, the check is short. Any check may outlive the
    // retry interval (a SYN lost in a partition waits for its deadline): the next starts one interval
    // after this one, beside it, not after it fails.
    const patient = b.probeFirst && b.patientProbe && !a.patient;
    if (patient) a.patient = true;
    if (b.probeFirst) b.pace(this.#clock.now());
    a.count++;
    const task = this.#attempt(conn, p, st, a, patient).finally(() => {
      if (patient) a.patient = false;
      if (--a.count === 0 && this.#attempts.get(p.node) === a) this.#attempts.delete(p.node);
      this.#tasks.delete(task);
    });
    this.#tasks.add(task);
  }

  async #attempt(
    conn: LinkConnection,
    p: Peer,
    st: PeerState,
    a: PeerAttempts,
    patient: boolean,
  ): Promise<void> {
    const b = st.backoff;
    this.counters.connectAttempts++;
    // After a failure, ask the peer's EPMD first: an unreachable or unregistered peer never reaches
    // net_kernel. The deadline is short (a SYN lost in a partition is re-sent only after 1 s; a fresh
    // attempt after the heal is quicker), and every fourth attempt is patient, for slow networks; a
    // short one starts beside it at the retry interval. A first attempt goes straight to the node: its
    // host's EPMD has just listed it.
    let diagnosis: PeerDiagnosis | undefined;
    if (b.probeFirst) {
      this.counters.epmdQueries++;
      diagnosis = await this.#probe(p.node, {
        epmdPort: this.#o.epmdPort,
        timeoutMs: patient
          ? this.#o.connectTimeoutMs
          : Math.min(this.#o.probeTimeoutMs, this.#o.connectTimeoutMs),
      });
      // Meanwhile the peer may have been connected (by the other attempt, or by itself), dropped by
      // discovery (never connect to it then), or its state replaced; or the other attempt is at
      // connect_node, whose outcome is the one that counts.
      if (
        this.#stopped || a.connecting || this.#peers.get(p.node) !== st || this.#connected.has(p.node) ||
        !this.#discovered.has(p.node)
      ) return;
    }
    if (!diagnosis) {
      a.connecting = true;
      try {
        this.counters.rpcs++;
        const r = await conn.rpc("net_kernel", "connect_node", [atom(p.node)], {
          timeoutMs: this.#o.connectTimeoutMs,
        });
        if (isAtom(r, "true")) {
          if (!this.#stopped && this.#discovered.has(p.node)) {
            this.#trackConnected([...this.#connected, p.node], true);
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
      } finally {
        a.connecting = false;
      }
    }
    // A node gone from its host may come back under another name: ask that host's EPMD again.
    if (diagnosis.code === "NOT_REGISTERED") this.#o.enumerator.invalidate(p.host);
    // A failure never postpones the next check already paced beside this one (see #startAttempt).
    const paced = b.nextAttemptAt;
    const refused = isRefusalCode(diagnosis.code);
    b.fail(this.#clock.now(), refused);
    if (!refused && a.count > 1) b.nextAttemptAt = Math.min(b.nextAttemptAt, paced);
    st.lastReason = diagnosis.message;
    this.counters.connectFailures[diagnosis.code] = (this.counters.connectFailures[diagnosis.code] ?? 0) + 1;
    if (st.lastCode !== diagnosis.code) {
      st.lastCode = diagnosis.code;
      this.#emit({ type: "connect_failed", node: p.node, code: diagnosis.code, reason: diagnosis.message });
    }
  }

  /** Resolves when no connect attempt and no lookup is in flight. */
  async idle(): Promise<void> {
    while (this.#tasks.size > 0 || this.#discovering) {
      await Promise.all([...this.#tasks, this.#discovering]);
    }
  }

  /** The delay before the next cycle, by the rules in the class comment. */
  nextDelay(report: CycleReport | undefined = this.last): number {
    if (report && !report.ok && this.#link.refused) {
      // Nothing to do until the next attempt, except noticing a restart (LocalLink asks EPMD).
      return Math.max(25, Math.min(500, this.#link.nextAttemptAt - this.#clock.now()));
    }
    if (report && !report.ok && !this.#link.up) {
      const since = this.#localDownSince;
      const booting = since !== undefined && this.#clock.now() - since >= SLOW_BOOT_MS;
      return Math.min(this.#link.epmdDown || booting ? 100 : 50, this.#o.fastIntervalMs);
    }
    const fast = this.#o.fastIntervalMs;
    if (!report || !report.ok) return fast;
    const now = this.#clock.now();
    const calm = now < this.#settleUntil ? this.#o.settleIntervalMs : this.#o.intervalMs;
    if (report.missing.length > 0) {
      // At the next attempt a missing peer is due for, never sooner than `fast` nor later than `calm`: a peer
      // that refused (retried in seconds) or is past its patience (every 2 s) needs no fast cycles.
      const due = this.#nextAttemptDue();
      if (due !== undefined) return Math.min(Math.max(due - now, fast), Math.max(calm, fast));
    }
    return calm;
  }

  /** When the earliest attempt at a missing peer may start (ms since epoch; 0: at once), if any can. */
  #nextAttemptDue(): number | undefined {
    let due: number | undefined;
    for (const p of this.#missingWanted) {
      if (this.#connected.has(p.node) || !this.#discovered.has(p.node)) continue;
      const at = this.#peers.get(p.node)?.backoff.nextAttemptAt ?? 0;
      due = due === undefined ? at : Math.min(due, at);
    }
    return due;
  }

  #poke(): void {
    this.#wake?.();
  }

  /** Runs cycles until {@link Reconciler.stop}. */
  async run(): Promise<void> {
    if (this.#running) throw new ClusterError("STOPPED", "The reconcile loop is already running");
    this.#running = true;
    // A source that sees changes itself (a watch) is asked again at once, not at the next poll; the
    // lookup's end wakes the loop when the answer changed anything.
    this.#unsubscribe = this.#o.source.subscribe?.(() => {
      if (this.#stopped || this.#sourceChanged) return;
      this.#sourceChanged = true;
      const again = () => {
        this.#sourceChanged = false;
        if (!this.#stopped) this.#startDiscovery();
      };
      if (this.#discovering) this.#discovering.then(again);
      else again();
    });
    while (!this.#stopped) {
      const report = await this.runCycle();
      if (this.#stopped) break;
      // An answer that came during the cycle, after it looked: act on it now.
      if (report.ok && this.#unappliedChange()) continue;
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
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
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
