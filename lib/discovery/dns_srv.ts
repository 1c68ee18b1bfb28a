import { DiscoveryError } from "./errors.ts";
import { denoResolver, lookup, type NameServer, type Resolver, type SrvRecord } from "./resolver.ts";
import {
  absoluteName,
  type DiscoveredHost,
  type Discovery,
  type DiscoverySource,
  LastGoodAnswer,
  normalizeHost,
} from "./source.ts";

/** Options of {@link srvSource}. */
export interface SrvSourceOptions {
  /**
   * The SRV name, absolute: `_epmd._tcp.app.default.svc.cluster.local.` (or the bare Service name,
   * a CoreDNS extension). A missing trailing dot is added; names without any dot are rejected, because
   * erlmesh never relies on the resolv.conf search list.
   */
  name: string;
  /**
   * The resolver; tests pass a {@link FakeResolver}.
   * @default {denoResolver}
   */
  resolver?: Resolver;
  /**
   * The deadline of the query, in milliseconds.
   * @default {1000}
   */
  timeoutMs?: number;
  /** The DNS server to ask instead of the system's. */
  nameServer?: NameServer;
  /**
   * For a long-lived caller: ask the Service's own A (or AAAA) records each time, a small answer, and the
   * SRV records only when those addresses changed, failed, or were last compared
   * {@link SRV_RECHECK_MS} ago. An SRV answer of more than about eight pods exceeds 512 bytes, and Deno's
   * resolver (no EDNS) then asks twice, over UDP and again over TCP. Used only for names of the form
   * `_port._proto.<service>`; turned off for good when the Service has no such addresses.
   */
  changeCheck?: "A" | "AAAA";
  /** The clock of {@link SrvSourceOptions.changeCheck}, in milliseconds. @default {Date.now} */
  now?: () => number;
}

/** With {@link SrvSourceOptions.changeCheck}, the longest time an unchanged Service goes without an SRV query. */
export const SRV_RECHECK_MS = 10 * 60_000;

/**
 * A source that reads the targets of a headless Service's SRV records: each target, without its
 * trailing dot and lowercased, is a host (StatefulSet pods: `app-0.app.default.svc.cluster.local`).
 * SRV port, priority and weight are ignored (kube-dns answers port 0), and targets are never parsed
 * for IPs. One query per call, of the absolute name (see {@link SrvSourceOptions.changeCheck} for another way).
 *
 * Failures: "no records found" means zero ready peers (a first pod): empty hosts, `stale: false`,
 * `error.code === "NXDOMAIN_OR_NODATA"`, and the last good answer is forgotten. A timeout or another
 * failure returns the last good answer with `stale: true` and the error. Deno cannot tell SERVFAIL or
 * REFUSED from NXDOMAIN, so those count as "no records found" too (see {@link denoResolver}); the
 * reconciler therefore holds "no records" right after an answer with hosts as a failure for a while.
 *
 * @example
 * ```ts
 * import { srvSource } from "./dns_srv.ts";
 * const source = srvSource({ name: "_epmd._tcp.app.default.svc.cluster.local." });
 * const { hosts, stale } = await source.discover();
 * console.log(hosts.map((h) => h.host), stale);
 * ```
 */
export function srvSource(options: SrvSourceOptions): DiscoverySource {
  const name = absoluteName(options.name, "SRV name");
  const resolver = options.resolver ?? denoResolver;
  const timeoutMs = options.timeoutMs ?? 1000;
  const nameServer = options.nameServer;
  const last = new LastGoodAnswer();
  const now = options.now ?? Date.now;
  /** The Service name whose addresses stand for the SRV answer, while the check is in use. */
  let checkName = options.changeCheck ? name.match(/^_[^.]+\._[^.]+\.(.+)$/)?.[1] : undefined;
  /** The last SRV answer, the Service's addresses taken with it, and when. */
  let known: { hosts: DiscoveredHost[]; addresses: string; at: number } | undefined;

  /** The Service's addresses, sorted and joined; undefined when the query failed. */
  async function addresses(signal?: AbortSignal): Promise<{ text?: string; none: boolean }> {
    try {
      const found = await lookup(resolver, checkName!, options.changeCheck!, {
        timeoutMs,
        nameServer,
        signal,
      });
      return { text: [...found as string[]].sort().join(" "), none: false };
    } catch (err) {
      if (!(err instanceof DiscoveryError)) throw err;
      return { none: err.code === "NXDOMAIN_OR_NODATA" };
    }
  }

  async function srv(signal: AbortSignal | undefined, queries: number): Promise<Discovery> {
    let records: SrvRecord[];
    try {
      records = await lookup(resolver, name, "SRV", { timeoutMs, nameServer, signal }) as SrvRecord[];
    } catch (err) {
      if (err instanceof DiscoveryError) return last.failed(err, queries + 1);
      throw err;
    }
    const hosts: DiscoveredHost[] = [];
    const bad: string[] = [];
    for (const r of records) {
      if (r.target === ".") continue; // RFC 2782: "the service is decidedly not available"
      const host = normalizeHost(String(r.target));
      if (host === undefined) bad.push(String(r.target));
      else hosts.push({ host, via: "SRV" });
    }
    if (hosts.length === 0 && bad.length > 0) {
      const error = new DiscoveryError(
        "DNS",
        `Cannot use SRV '${name}': no usable target in ${JSON.stringify(bad)}`,
        {
          query: `${name} SRV`,
        },
      );
      return last.failed(error, queries + 1);
    }
    return last.ok(hosts, queries + 1);
  }

  /** Keeps a good SRV answer with the addresses asked with it; a Service without addresses ends the check. */
  function remember(found: Discovery, addr: { text?: string; none: boolean }): void {
    const good = found.error === undefined && found.hosts.length > 0;
    if (good && addr.none) checkName = undefined; // SRV targets but no such addresses: not a headless Service
    known = good && addr.text !== undefined
      ? { hosts: found.hosts, addresses: addr.text, at: now() }
      : undefined;
  }

  return {
    kind: "srv",
    description: `DNS SRV ${name}${nameServer ? ` at ${nameServer.ipAddr}:${nameServer.port ?? 53}` : ""}`,
    async discover(signal?: AbortSignal): Promise<Discovery> {
      if (checkName === undefined) return await srv(signal, 0);
      if (known !== undefined && now() - known.at < SRV_RECHECK_MS) {
        const addr = await addresses(signal);
        if (addr.text !== undefined && addr.text === known.addresses) return last.ok(known.hosts, 1);
        const found = await srv(signal, 1);
        remember(found, addr);
        return found;
      }
      // The first time (and after SRV_RECHECK_MS): SRV and the addresses together, no later than SRV alone.
      const [found, addr] = await Promise.all([srv(signal, 1), addresses(signal)]);
      remember(found, addr);
      return found;
    },
  };
}
