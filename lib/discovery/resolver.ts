import { deadline } from "../bytes/timer.ts";
import { DiscoveryError } from "./errors.ts";

/** One SRV record as the resolver returns it; the target keeps its trailing dot. */
export interface SrvRecord {
  /** Priority (CoreDNS: 0, kube-dns: 10). Ignored by discovery. */
  priority: number;
  /** Weight. Ignored by discovery. */
  weight: number;
  /** Port (kube-dns answers 0 for bare names). Ignored by discovery. */
  port: number;
  /** The target host, usually absolute with a trailing dot. */
  target: string;
}

/** A DNS server to ask instead of the ones in `/etc/resolv.conf`. */
export interface NameServer {
  /** Its IP address. */
  ipAddr: string;
  /**
   * Its UDP/TCP port.
   * @default {53}
   */
  port?: number;
}

/** Options of one {@link Resolver} call. */
export interface ResolveOptions {
  /** The server to ask; the system's resolv.conf servers when unset. */
  nameServer?: NameServer;
  /** Aborts the lookup (the sources pass their deadline here). */
  signal?: AbortSignal;
}

/**
 * The DNS lookups discovery needs, as a small interface so that tests can fake answers and failures.
 * A "no records" answer must reject with `Deno.errors.NotFound`, as `Deno.resolveDns` does; an aborted
 * lookup rejects with the signal's reason. {@link denoResolver} is the real one, {@link FakeResolver} a
 * scripted one.
 */
export interface Resolver {
  /** SRV records of `name`. */
  srv(name: string, options?: ResolveOptions): Promise<SrvRecord[]>;
  /** A or AAAA records of `name`, as address strings. */
  addresses(name: string, type: "A" | "AAAA", options?: ResolveOptions): Promise<string[]>;
}

/**
 * The real resolver: `Deno.resolveDns`, which builds a new resolver on every call (no cache between
 * calls) and retries truncated UDP answers over TCP.
 *
 * Deno reports NXDOMAIN, NODATA, SERVFAIL and REFUSED all as `Deno.errors.NotFound` ("no records
 * found"), measured with Deno 2.9.6 and Unbound 1.17.1; only missing answers (timeouts) and connection
 * errors can be told apart from "no records".
 *
 * @example
 * ```ts
 * import { denoResolver } from "./resolver.ts";
 * const records = await denoResolver.srv("_epmd._tcp.app.default.svc.cluster.local.", {
 *   signal: AbortSignal.timeout(1000),
 * });
 * ```
 */
export const denoResolver: Resolver = {
  srv(name, options = {}) {
    return Deno.resolveDns(name, "SRV", options);
  },
  addresses(name, type, options = {}) {
    return type === "A" ? Deno.resolveDns(name, "A", options) : Deno.resolveDns(name, "AAAA", options);
  },
};

/**
 * What a {@link FakeResolver} answers for one name and type: records, an error to throw, or `"hang"`
 * (never answers; rejects with the signal's reason when the caller's deadline passes).
 */
export type FakeAnswer = SrvRecord[] | string[] | Error | "hang";

/**
 * A scripted {@link Resolver} for tests: answers from a table keyed by name and type, rejects unknown
 * names with `Deno.errors.NotFound` (as NXDOMAIN), and records every query it receives.
 *
 * @example
 * ```ts
 * import { FakeResolver } from "./resolver.ts";
 * const dns = new FakeResolver();
 * dns.set("app.default.svc.cluster.local.", "A", ["10.244.0.7"]);
 * dns.set("_epmd._tcp.app.default.svc.cluster.local.", "SRV", "hang");
 * ```
 */
export class FakeResolver implements Resolver {
  /** Every query received, in order, as `name TYPE`. */
  readonly queries: string[] = [];
  #table = new Map<string, FakeAnswer>();

  /** Sets the answer for `name` (matched case-insensitively) and `type`; `undefined` removes it. */
  set(name: string, type: "SRV" | "A" | "AAAA", answer: FakeAnswer | undefined): this {
    const key = `${name.toLowerCase()} ${type}`;
    if (answer === undefined) this.#table.delete(key);
    else this.#table.set(key, answer);
    return this;
  }

  /** SRV records with priority 0, weight 100 and port 4369 for each target. */
  static srvRecords(targets: string[], port = 4369): SrvRecord[] {
    return targets.map((target) => ({ priority: 0, weight: 100, port, target }));
  }

  /** The SRV records set for `name`, or the failure set for it. */
  srv(name: string, options: ResolveOptions = {}): Promise<SrvRecord[]> {
    return this.#answer(name, "SRV", options) as Promise<SrvRecord[]>;
  }

  /** The A or AAAA addresses set for `name`, or the failure set for it. */
  addresses(name: string, type: "A" | "AAAA", options: ResolveOptions = {}): Promise<string[]> {
    return this.#answer(name, type, options) as Promise<string[]>;
  }

  #answer(name: string, type: string, options: ResolveOptions): Promise<FakeAnswer> {
    this.queries.push(`${name} ${type}`);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const answer = this.#table.get(`${name.toLowerCase()} ${type}`);
    if (answer === "hang") {
      return new Promise((_, reject) => {
        if (!signal) return; // hangs for good, as asked
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    }
    if (answer instanceof Error) return Promise.reject(answer);
    if (answer === undefined || answer.length === 0) {
      return Promise.reject(new Deno.errors.NotFound(`no records found for '${name}' ${type}`));
    }
    return Promise.resolve(structuredClone(answer));
  }
}

/** Options of {@link lookup}. */
export interface LookupOptions {
  /** The deadline of this one query, in milliseconds. */
  timeoutMs: number;
  /** The server to ask, when not the system's. */
  nameServer?: NameServer;
  /** The caller's signal; when it aborts, {@link lookup} rejects with its reason. */
  signal?: AbortSignal;
}

/**
 * Sends one query with a deadline and turns every failure into a {@link DiscoveryError}; only the
 * caller's own abort passes through as its reason. Private to the discovery layer.
 */
export async function lookup(
  resolver: Resolver,
  name: string,
  type: "SRV" | "A" | "AAAA",
  options: LookupOptions,
): Promise<SrvRecord[] | string[]> {
  const { signal, timeoutMs } = options;
  signal?.throwIfAborted();
  const query = `${name} ${type}`;
  const timeout = deadline(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  const opts: ResolveOptions = { signal: combined };
  if (options.nameServer) opts.nameServer = options.nameServer;
  const pending = type === "SRV" ? resolver.srv(name, opts) : resolver.addresses(name, type, opts);
  // Do not trust the resolver to honour the signal: race it against the deadline as well.
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(combined.reason);
    if (combined.aborted) onAbort();
    else combined.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([pending, aborted]);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof Deno.errors.NotFound) {
      throw new DiscoveryError("NXDOMAIN_OR_NODATA", `Cannot resolve '${name}' ${type}: no records found`, {
        query,
        cause: err,
      });
    }
    if (timeout.signal.aborted || err instanceof Deno.errors.TimedOut) {
      throw new DiscoveryError(
        "TIMEOUT",
        `Cannot resolve '${name}' ${type}: no answer within ${timeoutMs} ms`,
        {
          query,
          cause: err,
        },
      );
    }
    const reason = err instanceof Error ? err.message : String(err);
    throw new DiscoveryError("DNS", `Cannot resolve '${name}' ${type}: ${reason}`, { query, cause: err });
  } finally {
    timeout.clear();
    if (onAbort) combined.removeEventListener("abort", onAbort);
    pending.catch(() => {}); // a lookup that lost the race must not become an unhandled rejection
  }
}
