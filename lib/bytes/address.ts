/**
 * IP addresses and `host:port` text: the one parser every layer uses (EPMD hosts, node names, DNS
 * answers, the DNS server and listen addresses). Strict: IPv4 is four decimal octets without leading
 * zeros, IPv6 is RFC 4291 text (with an optional dotted IPv4 tail), without a zone id (`%eth0`).
 * @module
 */

/** An IP address, parsed. */
export interface IpAddress {
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** The address in canonical form: dotted decimal, or IPv6 as RFC 5952 says (lowercase, `::`). */
  readonly canonical: string;
  /** The address's bytes, in network order: 4 for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
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
  const groups = (part: string, last: boolean): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (last && i === items.length - 1 && item.includes(".")) {
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
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
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
 * Parses an IP address literal, without brackets or zone id; `undefined` when `text` is not one.
 *
 * @example
 * ```ts
 * import { parseIp } from "./address.ts";
 * parseIp("FD00::7")?.canonical; // "fd00::7"
 * parseIp("10.0.0.7")?.family; // 4
 * ```
 */
export function parseIp(text: string): IpAddress | undefined {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, canonical: v4.join("."), bytes: Uint8Array.from(v4) };
  const v6 = parseIpv6(text);
  if (!v6) return undefined;
  return {
    family: 6,
    canonical: formatIpv6(v6),
    bytes: Uint8Array.from(v6.flatMap((g) => [g >> 8, g & 255])),
  };
}

/**
 * True when `text` is an IPv4 or IPv6 literal (no brackets, no zone id).
 *
 * @example
 * ```ts
 * import { isIp } from "./address.ts";
 * isIp("::1"); // true
 * isIp("app-0"); // false
 * ```
 */
export function isIp(text: string): boolean {
  return parseIp(text) !== undefined;
}

/**
 * The canonical form of an IP address (IPv4 dotted decimal, IPv6 as RFC 5952 says), or `undefined`
 * when `text` is not an IP address. Brackets around IPv6 are accepted; zone ids (`%eth0`) are not.
 *
 * @example
 * ```ts
 * import { canonicalIp } from "./address.ts";
 * canonicalIp("FD00:0010:0244:0:0:0:0:0007"); // "fd00:10:244::7"
 * canonicalIp("[::1]"); // "::1"
 * ```
 */
export function canonicalIp(text: string): string | undefined {
  const bracketed = text.startsWith("[") && text.endsWith("]");
  const ip = parseIp(bracketed ? text.slice(1, -1) : text);
  return ip === undefined || (bracketed && ip.family !== 6) ? undefined : ip.canonical;
}

/** What {@link splitHostPort} returns. */
export interface HostPort {
  /** The host as written, brackets removed; `""` for `:port`. */
  readonly host: string;
  /** The port, 0 to 65535; absent when the text has none. */
  readonly port?: number;
}

/**
 * Splits `host:port`, `[v6]:port`, `:port`, a bare host, `[v6]` or a bare IPv6 address. The port,
 * when present, is 1 to 5 digits from 0 to 65535; callers that need one, or need it non-zero, check.
 * Brackets must hold an IPv6 address; two or more colons without brackets must be an IPv6 address
 * (so `::1` is a host, never `::` with port 1). `undefined` when the text is none of these.
 *
 * @example
 * ```ts
 * import { splitHostPort } from "./address.ts";
 * splitHostPort("[fd00::a]:53"); // { host: "fd00::a", port: 53 }
 * splitHostPort("10.96.0.10"); // { host: "10.96.0.10" }
 * splitHostPort(":9090"); // { host: "", port: 9090 }
 * ```
 */
export function splitHostPort(text: string): HostPort | undefined {
  let host: string;
  let port: string | undefined;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) return undefined;
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (parseIp(host)?.family !== 6) return undefined;
    if (rest !== "") {
      if (!rest.startsWith(":")) return undefined;
      port = rest.slice(1);
    }
  } else {
    const colons = text.split(":").length - 1;
    if (colons >= 2) return isIp(text) ? { host: text } : undefined;
    if (colons === 1) {
      const i = text.indexOf(":");
      host = text.slice(0, i);
      port = text.slice(i + 1);
    } else {
      host = text;
    }
  }
  if (port === undefined) return host === "" ? undefined : { host };
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return undefined;
  return { host, port: Number(port) };
}
