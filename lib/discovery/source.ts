import { DiscoveryError } from "./errors.ts";

/** Where a host came from: a DNS record type, a static list, or the local EPMD. */
export type RecordType = "SRV" | "A" | "AAAA" | "static" | "epmd";

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

/** A way to find peer hosts: DNS SRV, DNS A/AAAA, a static list, or the local EPMD. */
export interface DiscoverySource {
  /** Which kind of source this is. */
  readonly kind: "srv" | "a" | "static" | "epmd";
  /** A one-line human description, such as `DNS SRV _epmd._tcp.app.default.svc.cluster.local.`. */
  readonly description: string;
  /**
   * Looks the hosts up. DNS failures never reject: they come back as `error`, with the last good
   * answer (`stale: true`) when the failure was not an answer from the server. Rejects only when
   * `signal` aborts, with its reason.
   */
  discover(signal?: AbortSignal): Promise<Discovery>;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIpv4(text: string): number[] | undefined {
  const m = IPV4.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o, i) => o > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith("0")))) return undefined;
  return octets;
}

function parseIpv6(text: string): number[] | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseIpv4(item);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array(missing).fill(0), ...tail];
}

function formatIpv6(g: number[]): string {
  // IPv4-mapped addresses keep the dotted tail (RFC 5952 §5).
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `::ffff:${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`;
  }
  // The longest run of two or more zero groups becomes "::"; the first one on a tie (RFC 5952 §4.2).
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/**
 * The canonical form of an IP address (IPv4 dotted decimal, IPv6 as RFC 5952 says), or `undefined`
 * when `text` is not an IP address. Brackets around IPv6 are accepted; zone ids (`%eth0`) are not.
 *
 * @example
 * ```ts
 * import { canonicalIp } from "./source.ts";
 * canonicalIp("FD00:0010:0244:0:0:0:0:0007"); // "fd00:10:244::7"
 * ```
 */
export function canonicalIp(text: string): string | undefined {
  const t = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const v4 = parseIpv4(t);
  if (v4) return v4.join(".");
  const v6 = parseIpv6(t);
  return v6 ? formatIpv6(v6) : undefined;
}

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
