import { pooledMap } from "../bytes/pool.ts";
import { names } from "../epmd/mod.ts";
import { DiscoveryError } from "./errors.ts";
import type { DiscoveredHost, RecordType } from "./source.ts";

/** One peer node found by {@link NodeEnumerator.enumerate}. */
export interface Peer {
  /** The node name, `alive@host`. */
  node: string;
  /** The host part of the name, as discovered. */
  host: string;
  /** The distribution port EPMD reported (absent when EPMD was not asked). */
  port?: number;
  /** The record type (or source kind) that listed the host. */
  via: RecordType;
}

/** A host EPMD could not be asked about in one {@link NodeEnumerator.enumerate} call. */
export interface EnumerationFailure {
  /** The host, as discovered. */
  host: string;
  /** A {@link DiscoveryError} with code `EPMD`; its `cause` is the EPMD client's error. */
  error: Error;
}

/** The result of {@link NodeEnumerator.enumerate}. */
export interface Enumeration {
  /** The peers, sorted by node name and deduplicated. */
  peers: Peer[];
  /** The EPMD NAMES requests sent in this call. */
  epmdQueries: number;
  /** Hosts whose EPMD could not be asked; they are asked again on the next call. */
  failures: EnumerationFailure[];
}

/** What {@link NodeEnumerator} passes to its NAMES client. */
export interface NamesOptions {
  /** The EPMD port; the client's default when unset. */
  port?: number;
  /** The deadline of the request, in milliseconds. */
  timeoutMs?: number;
  /** The caller's signal. */
  signal?: AbortSignal;
}

/** A NAMES reply: the nodes registered with one EPMD. */
export interface NamesReply {
  /** The nodes, with their alive parts and distribution ports. */
  nodes: { name: string; port: number }[];
}

/** An EPMD NAMES client, such as `names` from `lib/epmd`. */
export type NamesFn = (host: string, options: NamesOptions) => Promise<NamesReply>;

/** Options of {@link NodeEnumerator}. */
export interface NodeEnumeratorOptions {
  /** Only nodes with this alive part (the text before `@`); all nodes when unset. Required without EPMD. */
  basename?: string;
  /** Ask EPMD NAMES on each host; `false` uses the naming rule alone: `basename@host`, no EPMD traffic. */
  useEpmd: boolean;
  /**
   * The EPMD port on every host.
   * @default {4369}
   */
  epmdPort?: number;
  /**
   * The deadline of one NAMES request, in milliseconds.
   * @default {2000}
   */
  timeoutMs?: number;
  /**
   * How many NAMES requests may run at once.
   * @default {8}
   */
  concurrency?: number;
  /**
   * The NAMES client; tests inject a fake to count or fail requests.
   * @default {names}
   */
  names?: NamesFn;
}

const HELPER_PREFIXES = ["erlmesh-", "rem-", "remsh", "maint_", "console", "erl_call"];
const ALIVE = /^[A-Za-z0-9_.+*-]+$/;

/** A matcher for a basename that may hold `*` (any run of characters). */
function basenameMatcher(basename: string): (alive: string) => boolean {
  if (!basename.includes("*")) return (alive) => alive === basename;
  const re = new RegExp(`^${basename.split("*").map((p) => p.replace(/[.+]/g, "\\$&")).join(".*")}$`);
  return (alive) => re.test(alive);
}

/**
 * Whether an alive part belongs to a helper rather than to an application node: erlmesh's own hidden
 * nodes (`erlmesh-…`) and remote shells or tools (`rem-…` from Elixir releases, `remsh…`, `maint_…`,
 * `console…`, `erl_call…`).
 *
 * @example
 * ```ts
 * import { isHelperName } from "./enumerate.ts";
 * isHelperName("rem-3f1a-app"); // true
 * isHelperName("app"); // false
 * ```
 */
export function isHelperName(alive: string): boolean {
  return HELPER_PREFIXES.some((p) => alive.startsWith(p));
}

/**
 * Turns discovered hosts into peer node names. With EPMD it asks NAMES once per host and caches the
 * answer until {@link NodeEnumerator.invalidate} is called for that host or the host leaves discovery;
 * a failed host is not cached, so it is asked again next time. Helper nodes ({@link isHelperName}) are
 * skipped and `basename` filters the rest. Without EPMD each host gives `basename@host`.
 *
 * Calls to {@link NodeEnumerator.enumerate} are meant to run one after another, not overlapping.
 *
 * @example
 * ```ts
 * import { NodeEnumerator } from "./enumerate.ts";
 * const enumerator = new NodeEnumerator({ basename: "app", useEpmd: true, timeoutMs: 1000 });
 * const { peers, failures } = await enumerator.enumerate([{ host: "127.0.0.1", via: "epmd" }]);
 * console.log(peers.map((p) => p.node), failures.length);
 * ```
 */
export class NodeEnumerator {
  #basename: string | undefined;
  #matches: (alive: string) => boolean;
  #useEpmd: boolean;
  #epmdPort: number | undefined;
  #timeoutMs: number;
  #concurrency: number;
  #names: NamesFn;
  #cache = new Map<string, NamesReply["nodes"]>();
  #generation = new Map<string, number>();

  /**
   * Creates an enumerator with an empty cache.
   *
   * @throws {DiscoveryError} `CONFIG` without `basename` when `useEpmd` is false, or for a bad option.
   */
  constructor(options: NodeEnumeratorOptions) {
    const { basename } = options;
    if (basename !== undefined && (!ALIVE.test(basename) || basename.length > 255)) {
      throw new DiscoveryError(
        "CONFIG",
        `Invalid node basename '${basename}': it may hold only letters, digits, '_', '-', '.' and '+'`,
      );
    }
    if (!options.useEpmd && (basename === undefined || basename.includes("*"))) {
      throw new DiscoveryError(
        "CONFIG",
        "Cannot enumerate nodes without EPMD: a node basename without '*' is required to name them 'basename@host'",
      );
    }
    const concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new DiscoveryError(
        "CONFIG",
        `Invalid EPMD concurrency '${concurrency}': expected an integer of at least 1`,
      );
    }
    this.#basename = basename;
    this.#matches = basename === undefined ? () => true : basenameMatcher(basename);
    this.#useEpmd = options.useEpmd;
    this.#epmdPort = options.epmdPort;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#concurrency = concurrency;
    this.#names = options.names ?? names;
  }

  /**
   * The peer nodes on `hosts`. Never rejects for a host: EPMD failures are listed in `failures`.
   * Rejects only when `signal` aborts, with its reason.
   */
  async enumerate(hosts: DiscoveredHost[], signal?: AbortSignal): Promise<Enumeration> {
    signal?.throwIfAborted();
    const byHost = new Map<string, DiscoveredHost>();
    for (const h of hosts) if (!byHost.has(h.host)) byHost.set(h.host, h);
    for (const host of [...this.#cache.keys()]) if (!byHost.has(host)) this.#cache.delete(host);
    for (const host of [...this.#generation.keys()]) if (!byHost.has(host)) this.#generation.delete(host);

    if (!this.#useEpmd) {
      const peers = [...byHost.values()].map((h) => ({
        node: `${this.#basename}@${h.host}`,
        host: h.host,
        via: h.via,
      }));
      return { peers: sortPeers(peers), epmdQueries: 0, failures: [] };
    }

    const toAsk = [...byHost.values()].filter((h) => !this.#cache.has(h.host));
    const failures: EnumerationFailure[] = [];
    await pooledMap(toAsk, this.#concurrency, async (h) => {
      const generation = this.#generation.get(h.host) ?? 0;
      const where = h.address ?? h.host;
      try {
        const reply = await this.#names(where, {
          port: this.#epmdPort,
          timeoutMs: this.#timeoutMs,
          signal,
        });
        if ((this.#generation.get(h.host) ?? 0) === generation) this.#cache.set(h.host, reply.nodes);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        failures.push({
          host: h.host,
          error: new DiscoveryError("EPMD", `Cannot list the nodes on '${h.host}': ${reason}`, {
            query: where,
            cause: err,
          }),
        });
      }
    });
    signal?.throwIfAborted();

    const peers: Peer[] = [];
    for (const h of byHost.values()) {
      for (const n of this.#cache.get(h.host) ?? []) {
        if (isHelperName(n.name) || !ALIVE.test(n.name)) continue;
        if (!this.#matches(n.name)) continue;
        peers.push({ node: `${n.name}@${h.host}`, host: h.host, port: n.port, via: h.via });
      }
    }
    failures.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
    return { peers: sortPeers(peers), epmdQueries: toAsk.length, failures };
  }

  /**
   * Forgets the cached NAMES answer of a host (a node name `alive@host` is accepted too), so the next
   * {@link NodeEnumerator.enumerate} asks its EPMD again. Call it when a node is missing there or a
   * connection to it failed.
   */
  invalidate(host: string): void {
    const at = host.lastIndexOf("@");
    const key = at >= 0 ? host.slice(at + 1) : host;
    this.#cache.delete(key);
    this.#generation.set(key, (this.#generation.get(key) ?? 0) + 1);
  }
}

function sortPeers(peers: Peer[]): Peer[] {
  const seen = new Map<string, Peer>();
  for (const p of peers) if (!seen.has(p.node)) seen.set(p.node, p);
  return [...seen.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}
