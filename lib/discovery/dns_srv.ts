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
}

/**
 * A source that reads the targets of a headless Service's SRV records: each target, without its
 * trailing dot and lowercased, is a host (StatefulSet pods: `app-0.app.default.svc.cluster.local`).
 * SRV port, priority and weight are ignored (kube-dns answers port 0), and targets are never parsed
 * for IPs. Exactly one query per call, of the absolute name.
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
  return {
    kind: "srv",
    description: `DNS SRV ${name}${nameServer ? ` at ${nameServer.ipAddr}:${nameServer.port ?? 53}` : ""}`,
    async discover(signal?: AbortSignal): Promise<Discovery> {
      let records: SrvRecord[];
      try {
        records = await lookup(resolver, name, "SRV", { timeoutMs, nameServer, signal }) as SrvRecord[];
      } catch (err) {
        if (err instanceof DiscoveryError) return last.failed(err, 1);
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
        return last.failed(error, 1);
      }
      return last.ok(hosts, 1);
    },
  };
}
