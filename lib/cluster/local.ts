import {
  aliveMatcher,
  connectByAlive,
  connectNode,
  type ConnectNodeOptions,
  type Cookie,
  HandshakeError,
  type NodeConnection,
  parseNodeName,
} from "../dist/mod.ts";
import { isHelperName } from "../discovery/mod.ts";
import {
  EpmdError,
  type EpmdNames,
  type EpmdOptions,
  type EpmdPort,
  names as epmdNames,
  portPlease,
} from "../epmd/mod.ts";
import { isRefusalCode } from "./diagnose.ts";
import { ClusterError } from "./errors.ts";
import { Backoff, LOCAL_RETRY, REFUSED_BACKOFF, type RefusedBackoff, refusedDelayMs } from "./backoff.ts";
import { type Clock, realClock } from "./clock.ts";

export { REFUSED_BACKOFF, type RefusedBackoff, refusedDelayMs };

/**
 * What the reconciler uses of a link to the local node: {@link LocalLink}, or a fake in tests. The
 * connection is the part of a `NodeConnection` it calls.
 */
export type LinkConnection = Pick<
  NodeConnection,
  "node" | "open" | "closed" | "self" | "onMessage" | "rpc" | "evaluate" | "close"
>;

/** A long-lived link to the local node (see {@link LocalLink}). */
export interface LocalNodeLink {
  /** The local node's full name, once known. */
  readonly name: string | undefined;
  /** How many times a link was established. */
  readonly generation: number;
  /** True when the link is up. */
  readonly up: boolean;
  /** True while the node refuses erlmesh (see {@link isRefusal}). */
  readonly refused: boolean;
  /** True while nothing listens on the local node's EPMD port: it has not started (it starts EPMD first). */
  readonly epmdDown?: boolean;
  /** When the next connect attempt may start (ms since epoch, on the link's clock); 0 when at once. */
  readonly nextAttemptAt: number;
  /** The open link, connecting first when needed; rejects while backing off after a failure. */
  get(): Promise<LinkConnection>;
  /** Waits until the link is up or `timeoutMs` passes; rejects with the last connect error. */
  waitUp(timeoutMs: number, signal?: AbortSignal): Promise<LinkConnection>;
  /** Closes the link. */
  close(): void;
}

/** The node a {@link LocalLink} dials: its full name, or its alive part and EPMD host. */
export interface LocalTarget {
  /** The alive part (the text before `@`). */
  alive: string;
  /** The host whose EPMD knows the node. */
  host: string;
  /** The full name, when known; else the handshake tells it. */
  full?: string;
}

/**
 * Opens a link to the local node: to `target.full` when given, else to the node registered as
 * `target.alive` with the EPMD on `target.host`. Fails with a {@link HandshakeError}.
 */
export type LocalConnect<C extends LinkConnection = NodeConnection> = (
  target: LocalTarget,
  options: ConnectNodeOptions,
) => Promise<C>;

/** The EPMD queries of a {@link LocalLink}: `names` resolves a glob basename, `portPlease` notices a restart. */
export interface LocalEpmd {
  /** Lists the nodes registered on `host`; fails with an {@link EpmdError}. */
  names(host: string, options: EpmdOptions): Promise<EpmdNames>;
  /** The port of the node `name` on `host`; fails with an {@link EpmdError} (`NOT_REGISTERED` when gone). */
  portPlease(host: string, name: string, options: EpmdOptions): Promise<EpmdPort>;
}

/** Dials with the distribution layer: {@link connectNode}, or {@link connectByAlive} without a full name. */
const dialLocal: LocalConnect = (target, options) =>
  target.full ? connectNode(target.full, options) : connectByAlive(target.alive, target.host, options);

const realEpmd: LocalEpmd = { names: epmdNames, portPlease };

/** Options of {@link LocalLink}. */
export interface LocalLinkOptions<C extends LinkConnection = NodeConnection> {
  /** The local node's full name; or only `alive` plus `host` to learn it from the handshake. */
  node?: string;
  /**
   * The local node's alive part, when its full name is not known. It may hold `*`: the one node of
   * the local EPMD that matches is taken (several are an error that asks for `--node`).
   */
  alive?: string;
  /** Where the local node's EPMD runs. @default "127.0.0.1" */
  host?: string;
  /** The cookie. */
  cookie: Cookie;
  /** EPMD port. @default 4369 */
  epmdPort?: number;
  /** Deadline of one connect attempt. @default 2000 */
  connectTimeoutMs?: number;
  /** First retry delay; doubles up to `maxBackoffMs`. @default 10 */
  minBackoffMs?: number;
  /** Longest retry delay in the first 30 s of an outage (to catch a restarted node at once). @default 50 */
  maxBackoffMs?: number;
  /** Retry delay once the node has been away for 30 s. @default 1000 */
  slowBackoffMs?: number;
  /**
   * The retry delays after the node refused erlmesh (see {@link isRefusal}): each refused handshake is
   * a line in the node's log, so they are few. @default REFUSED_BACKOFF
   */
  refusedBackoff?: RefusedBackoff;
  /** How often the node's EPMD registration is checked while refused, ms. @default 1000 */
  restartCheckMs?: number;
  /** The clock backoff and waits run on. @default realClock */
  clock?: Clock;
  /**
   * Opens the link (tests plug in fakes). A `LocalLink` of another connection type than
   * `NodeConnection` must give it. @default connectNode, or connectByAlive with only the alive part
   */
  connect?: LocalConnect<C>;
  /** The EPMD queries (tests plug in fakes). @default the EPMD client (`names`, `portPlease`) */
  epmd?: LocalEpmd;
}

/**
 * True for a failure that trying again at once cannot fix and that the node logs: it refused the
 * cookie, answered under another name, refused erlmesh's name, or a TLS handshake failed (see
 * {@link isRefusalCode}). Also a glob basename that matches
 * several local nodes (a configuration error).
 */
export function isRefusal(err: unknown): boolean {
  return (err instanceof HandshakeError && isRefusalCode(err.code)) ||
    (err instanceof ClusterError && err.code === "LOCAL_NODE_AMBIGUOUS");
}

/**
 * The one long-lived hidden link to the local node. {@link LocalLink.get} returns the open link, or
 * connects (with backoff between attempts) when it is down.
 *
 * Backoff ({@link LOCAL_RETRY}): 10 ms doubling to 50 ms for 30 s of an outage, then every second. After
 * a refusal (the node
 * refused the cookie, answered under another name, or said `not_allowed`) it follows
 * {@link REFUSED_BACKOFF} instead (5 s doubling to 30 s), and meanwhile asks the node's EPMD every
 * second (which the node does not log) whether it restarted: when it left EPMD or came back on another
 * port, the next attempt is at once. So a node restarted with the right cookie is meshed within a
 * second or two, and within 30 s at most when erlmesh's own cookie was fixed some other way.
 */
export class LocalLink<C extends LinkConnection = NodeConnection> implements LocalNodeLink {
  #opts: LocalLinkOptions<C>;
  #clock: Clock;
  #dial: LocalConnect<C>;
  #epmd: LocalEpmd;
  /** Aborted by {@link LocalLink.close}: stops the connect attempt, the restart check and waits. */
  #stop = new AbortController();
  #conn: C | undefined;
  #connecting: Promise<C> | undefined;
  #backoff: Backoff;
  #lastError: Error | undefined;
  #generation = 0;
  /** The alive part and EPMD port of the node that refused, to notice a restart. */
  #refusedBy: { alive: string; host: string; port?: number } | undefined;
  #restartCheckAt = 0;
  #restartChecking = false;
  /** The local node's full name, once known. */
  name: string | undefined;

  /**
   * Does not connect yet; the first {@link LocalLink.get} does.
   *
   * @throws {TypeError} when neither `options.node` nor `options.alive` is given.
   */
  constructor(options: LocalLinkOptions<C>) {
    this.#opts = options;
    this.#clock = options.clock ?? realClock;
    // Without `connect`, C is NodeConnection (its default): the only case the default dialer serves.
    this.#dial = options.connect ?? (dialLocal as unknown as LocalConnect<C>);
    this.#epmd = options.epmd ?? realEpmd;
    this.#backoff = new Backoff({
      ...LOCAL_RETRY,
      firstMs: options.minBackoffMs ?? LOCAL_RETRY.firstMs,
      fastMaxMs: options.maxBackoffMs ?? LOCAL_RETRY.fastMaxMs,
      slowMaxMs: options.slowBackoffMs ?? LOCAL_RETRY.slowMaxMs,
      refused: options.refusedBackoff ?? REFUSED_BACKOFF,
    });
    this.name = options.node;
    if (!options.node && !options.alive) {
      throw new TypeError("LocalLink needs the local node's name or its alive part");
    }
  }

  /** How many times a link was established (a new generation means the node restarted or the link dropped). */
  get generation(): number {
    return this.#generation;
  }

  /** The last connect failure, if the link is down. */
  get lastError(): Error | undefined {
    return this.#conn?.open ? undefined : this.#lastError;
  }

  /** True when the link is up. */
  get up(): boolean {
    return this.#conn?.open ?? false;
  }

  /** True while the node refuses erlmesh (see {@link isRefusal}): attempts follow the refused backoff. */
  get refused(): boolean {
    return !this.up && this.#backoff.refusals > 0;
  }

  /** True while the last attempt found nothing listening on the EPMD port: the node has not started. */
  get epmdDown(): boolean {
    const err = this.lastError;
    return err instanceof HandshakeError && err.cause instanceof EpmdError && err.cause.code === "REFUSED";
  }

  /** When the next connect attempt may start (ms since epoch); 0 when at once. */
  get nextAttemptAt(): number {
    return this.#backoff.nextAttemptAt;
  }

  /** The open link, connecting first when needed. Rejects while backing off after a failure. */
  get(): Promise<C> {
    if (this.#stop.signal.aborted) return Promise.reject(this.#stop.signal.reason);
    if (this.#conn?.open) return Promise.resolve(this.#conn);
    if (this.#connecting) return this.#connecting;
    if (!this.#backoff.ready(this.#clock.now()) && this.#lastError) {
      if (this.#backoff.refusals > 0) this.#checkRestart();
      return Promise.reject(this.#lastError);
    }
    this.#connecting = this.#connect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  #common() {
    const o = this.#opts;
    return {
      cookie: o.cookie,
      epmdPort: o.epmdPort,
      timeoutMs: o.connectTimeoutMs ?? 2000,
      signal: this.#stop.signal,
      // While it polls for a booting node (every 10-50 ms), only the first failure says which nodes
      // EPMD knows: that is a second EPMD connection per attempt, and the CPU the booting node waits for.
      describeMissing: this.#backoff.failures === 0,
    };
  }

  /** The node to connect to: its full name, or its alive part (a glob is resolved with the local EPMD). */
  async #target(): Promise<LocalTarget> {
    const o = this.#opts;
    if (o.node) {
      const n = parseNodeName(o.node);
      return { alive: n.alive, host: n.host, full: n.full };
    }
    const host = o.host ?? "127.0.0.1";
    const alive = o.alive!;
    if (!alive.includes("*")) return { alive, host };
    const { timeoutMs, signal } = this.#common();
    let known: string[];
    try {
      known = (await this.#epmd.names(host, { port: o.epmdPort, timeoutMs, signal })).nodes.map((n) =>
        n.name
      );
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new HandshakeError(
        err instanceof EpmdError && err.code === "TIMEOUT" ? "TIMEOUT" : "UNREACHABLE",
        `${alive}@${host}`,
        `Cannot find the local node matching '${alive}': ${why}`,
        { cause: err },
      );
    }
    const match = aliveMatcher(alive);
    // Remote shells and erlmesh's own hidden nodes register too: they are never the node to mesh.
    const found = known.filter((n) => match(n) && !isHelperName(n));
    if (found.length === 1) return { alive: found[0], host };
    if (found.length === 0) {
      throw new HandshakeError(
        "NOT_REGISTERED",
        `${alive}@${host}`,
        `Cannot find the local node matching '${alive}': EPMD on ${host} ${
          known.length ? `knows only ${known.map((n) => `'${n}'`).join(", ")}` : "knows no nodes"
        }`,
      );
    }
    throw new ClusterError(
      "LOCAL_NODE_AMBIGUOUS",
      `Cannot tell which local node to mesh: ${found.length} nodes of EPMD on ${host} match '${alive}' (${
        found.map((n) => `'${n}'`).join(", ")
      }); give the one to mesh with --node (ERLMESH_NODE)`,
    );
  }

  async #connect(): Promise<C> {
    let target: LocalTarget | undefined;
    try {
      target = await this.#target();
      const conn = await this.#dial(target, this.#common());
      if (this.#stop.signal.aborted) {
        conn.close();
        throw this.#stop.signal.reason;
      }
      this.#conn = conn;
      this.name = conn.node;
      this.#generation++;
      this.#backoff.reset();
      this.#lastError = undefined;
      this.#refusedBy = undefined;
      return conn;
    } catch (err) {
      // Closed meanwhile: the attempt was aborted, which is no failure of the node.
      if (this.#stop.signal.aborted) throw this.#stop.signal.reason;
      this.#lastError = err instanceof Error ? err : new Error(String(err));
      const refused = isRefusal(err);
      this.#backoff.fail(this.#clock.now(), refused);
      if (refused) {
        this.#refusedBy = target ? { alive: target.alive, host: target.host } : undefined;
        this.#restartCheckAt = 0;
        this.#checkRestart();
      } else {
        this.#refusedBy = undefined;
      }
      throw err;
    }
  }

  /**
   * While refused: asks the node's EPMD (at most every `restartCheckMs`) for its port. A node that left
   * EPMD or came back on another port has restarted, maybe with the right cookie: retry at once.
   */
  #checkRestart(): void {
    const by = this.#refusedBy;
    if (!by || this.#restartChecking || this.#clock.now() < this.#restartCheckAt) return;
    this.#restartChecking = true;
    this.#restartCheckAt = this.#clock.now() + (this.#opts.restartCheckMs ?? 1000);
    const signal = this.#stop.signal;
    this.#epmd.portPlease(by.host, by.alive, { port: this.#opts.epmdPort, timeoutMs: 1000, signal }).then(
      (info) => {
        if (signal.aborted) return;
        if (by.port !== undefined && info.port !== by.port) this.#backoff.retryNow();
        by.port = info.port;
      },
      (err) => {
        if (signal.aborted) return;
        // Gone from EPMD: it is restarting; the attempt after it registers again is at once.
        if (err instanceof EpmdError && err.code === "NOT_REGISTERED" && by.port !== undefined) {
          by.port = undefined;
          this.#backoff.retryNow();
        }
      },
    ).finally(() => (this.#restartChecking = false));
  }

  /**
   * Waits until the link is up or `timeoutMs` passes (an attempt still running then is not waited
   * for); rejects at once on a refusal (see {@link isRefusal}), else with the last connect error, or
   * `LOCAL_NODE_DOWN` when no attempt has failed yet. Rejects with `STOPPED` when the link is closed.
   */
  async waitUp(timeoutMs: number, signal?: AbortSignal): Promise<C> {
    const clock = this.#clock;
    const end = clock.now() + timeoutMs;
    const stop = signal ? AbortSignal.any([signal, this.#stop.signal]) : this.#stop.signal;
    for (;;) {
      stop.throwIfAborted();
      try {
        return await this.#until(this.get(), end, timeoutMs, stop);
      } catch (err) {
        if (isRefusal(err) || stop.aborted || clock.now() >= end) throw err;
        const now = clock.now();
        await clock.sleep(Math.min(Math.max(10, this.#backoff.nextAttemptAt - now), end - now), stop);
      }
    }
  }

  /** `attempt`, or a rejection once the clock reaches `end` or `stop` aborts, whichever is first. */
  #until(attempt: Promise<C>, end: number, timeoutMs: number, stop: AbortSignal): Promise<C> {
    return new Promise<C>((resolve, reject) => {
      const finish = () => {
        timer.cancel();
        stop.removeEventListener("abort", onStop);
      };
      const timer = this.#clock.setTimer(() => {
        finish();
        const label = this.name ?? `${this.#opts.alive}@${this.#opts.host ?? "127.0.0.1"}`;
        reject(
          this.#lastError ??
            new ClusterError(
              "LOCAL_NODE_DOWN",
              `Cannot connect to the local node '${label}': no link within ${timeoutMs} ms`,
            ),
        );
      }, end - this.#clock.now());
      const onStop = () => {
        finish();
        reject(stop.reason);
      };
      stop.addEventListener("abort", onStop, { once: true });
      attempt.then((conn) => {
        finish();
        resolve(conn);
      }, (err) => {
        finish();
        reject(err);
      });
    });
  }

  /** Closes the link and stops everything it runs: a connect attempt, the restart check, waits. */
  close(): void {
    if (!this.#stop.signal.aborted) {
      this.#stop.abort(
        new ClusterError("STOPPED", "Cannot use the link to the local node: it was closed"),
      );
    }
    this.#conn?.close();
    this.#conn = undefined;
  }
}

/** True when `name` looks like a full node name (has an `@`). */
export function isFullName(name: string): boolean {
  try {
    parseNodeName(name);
    return true;
  } catch {
    return false;
  }
}
