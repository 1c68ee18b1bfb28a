import { canonicalIp } from "../bytes/address.ts";
import { DiscoveryError } from "./errors.ts";

/** Where a host came from: a DNS record type, a static list, the local EPMD, or the Kubernetes API. */
export type RecordType = "SRV" | "A" | "AAAA" | "static" | "epmd" | "EndpointSlice";

/** One host found by a {@link DiscoverySource}. */
export interface DiscoveredHost {
  /**
   * The host part for node names: a FQDN without the trailing dot, lowercased, or an IP address in
   * canonical form (IPv6 as RFC 5952 says).
   */
  host: string;
  /** Its IP address when the source knows it (the local EPMD source puts the address EPMD is asked at here). */
  address?: string;
  /** The record type (or source kind) that listed it. */
  via: RecordType;
}

/** The result of one {@link DiscoverySource.discover} call. */
export interface Discovery {
  /** The hosts, sorted by `host` and deduplicated. */
  hosts: DiscoveredHost[];
  /** The record types seen in the answer (sorted). */
  recordTypes: RecordType[];
  /** True when `hosts` is the last good answer, kept because this lookup failed (see `error`). */
  stale: boolean;
  /** The failure behind a stale or empty answer (also set, for information, on "no records found"). */
  error?: DiscoveryError;
  /** The DNS queries sent for this call. */
  queries: number;
}

/** A way to find peer hosts: DNS SRV, DNS A/AAAA, a static list, the local EPMD, or the Kubernetes API. */
export interface DiscoverySource {
  /** Which kind of source this is. */
  readonly kind: "srv" | "a" | "static" | "epmd" | "kubernetes";
  /** A one-line human description, such as `DNS SRV _epmd._tcp.app.default.svc.cluster.local.`. */
  readonly description: string;
  /**
   * Looks the hosts up. DNS failures never reject: they come back as `error`, with the last good
   * answer (`stale: true`) when the failure was not an answer from the server. Rejects only when
   * `signal` aborts, with its reason.
   */
  discover(signal?: AbortSignal): Promise<Discovery>;
  /**
   * For sources that learn about changes by themselves (the `kubernetes` source's watch): starts
   * watching, and calls `onChange` (asynchronously, never during this call) whenever the answer of
   * {@link DiscoverySource.discover} may have changed, so the caller asks again at once instead of at
   * its next poll. `discover()` stays the only way to read the answer. Returns the function that
   * unsubscribes; the watch stops when the last subscriber has left. Sources without it are polled.
   */
  subscribe?(onChange: () => void): () => void;
}

/** The canonical form of an IP address, or `undefined`: the one parser, in `bytes/address.ts`. */
export { canonicalIp } from "../bytes/address.ts";

/**
 * The label CoreDNS gives an endpoint without a hostname: IPv4 `10.244.0.7` → `10-244-0-7`; IPv6 in
 * canonical form with every `:` replaced by `-` and `0` appended when that ends in `-`
 * (`fd00:10:244::7` → `fd00-10-244--7`, `2001:db8::` → `2001-db8--0`). Throws on a non-IP.
 *
 * @example
 * ```ts
 * import { dashedIp } from "./source.ts";
 * dashedIp("10.244.0.7"); // "10-244-0-7"
 * ```
 */
export function dashedIp(ip: string): string {
  const canonical = canonicalIp(ip);
  if (canonical === undefined) {
    throw new DiscoveryError("CONFIG", `Cannot make a dashed name of '${ip}': not an IP address`);
  }
  if (!canonical.includes(":")) return canonical.replaceAll(".", "-");
  const dashed = canonical.replaceAll(":", "-").replaceAll(".", "-");
  return dashed.endsWith("-") ? dashed + "0" : dashed;
}

const HOSTNAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/**
 * The host part of a node name for `text`: an IP in canonical form, or a host name without the trailing
 * dot, lowercased. `undefined` when it is neither (empty labels, spaces, `@`, ...).
 */
export function normalizeHost(text: string): string | undefined {
  const ip = canonicalIp(text);
  if (ip !== undefined) return ip;
  const name = (text.endsWith(".") ? text.slice(0, -1) : text).toLowerCase();
  if (name.length === 0 || name.length > 253 || !HOSTNAME.test(name)) return undefined;
  return name;
}

/** Sorts hosts by `host` and keeps the first of each. @internal */
export function sortHosts(hosts: DiscoveredHost[]): DiscoveredHost[] {
  const seen = new Map<string, DiscoveredHost>();
  for (const h of hosts) if (!seen.has(h.host)) seen.set(h.host, h);
  return [...seen.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

/** The sorted, distinct record types of `hosts`. @internal */
export function recordTypesOf(hosts: DiscoveredHost[]): RecordType[] {
  return [...new Set(hosts.map((h) => h.via))].sort();
}

/**
 * Turns successes and failures of DNS lookups into {@link Discovery} values and keeps the last good
 * answer. "No records found" is an answer from the server: it clears the last good answer and gives
 * an empty list (the Service has no ready endpoints; a first pod sees this). Any other failure
 * (timeout, connection error) returns the last good answer with `stale: true`. @internal
 */
export class LastGoodAnswer {
  #hosts: DiscoveredHost[] | undefined;

  /** A good answer: remembered and returned. */
  ok(hosts: DiscoveredHost[], queries: number): Discovery {
    const sorted = sortHosts(hosts);
    this.#hosts = sorted;
    return { hosts: structuredClone(sorted), recordTypes: recordTypesOf(sorted), stale: false, queries };
  }

  /** A failed lookup; `partial` is what the queries that did succeed found (dual-stack lookups). */
  failed(error: DiscoveryError, queries: number, partial: DiscoveredHost[] = []): Discovery {
    if (error.code === "NXDOMAIN_OR_NODATA") {
      this.#hosts = undefined;
      return { hosts: [], recordTypes: [], stale: false, error, queries };
    }
    if (this.#hosts !== undefined) {
      const hosts = structuredClone(this.#hosts);
      return { hosts, recordTypes: recordTypesOf(hosts), stale: true, error, queries };
    }
    const hosts = sortHosts(partial);
    return { hosts, recordTypes: recordTypesOf(hosts), stale: false, error, queries };
  }
}

/**
 * The absolute form (trailing dot, lowercase) of a DNS name given to a source; rejects names without
 * a dot, which would only work through the resolv.conf search list. @internal
 */
export function absoluteName(name: string, what: string): string {
  const n = name.trim().toLowerCase();
  const bare = n.endsWith(".") ? n.slice(0, -1) : n;
  if (!bare.includes(".") || normalizeHost(bare) !== bare || canonicalIp(bare) !== undefined) {
    throw new DiscoveryError(
      "CONFIG",
      `Invalid ${what} '${name}': expected an absolute DNS name such as '_epmd._tcp.app.default.svc.cluster.local.'`,
      { query: name },
    );
  }
  return bare + ".";
}
