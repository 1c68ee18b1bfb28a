import { DiscoveryError } from "./errors.ts";
import {
  canonicalIp,
  type DiscoveredHost,
  type Discovery,
  type DiscoverySource,
  normalizeHost,
  sortHosts,
} from "./source.ts";

/**
 * A source that always returns the same hosts. Each entry is a host name (a trailing dot is dropped,
 * letters are lowercased), an IP address (kept in canonical form; `[v6]` brackets are accepted), or a
 * node name `alive@host`, of which only the host part is used. Empty entries are skipped.
 *
 * @throws {DiscoveryError} `CONFIG` for an entry that is no host name, IP address or node name.
 *
 * @example
 * ```ts
 * import { staticSource } from "./static.ts";
 * const source = staticSource(["app@app-0.app.default.svc.cluster.local", "10.244.0.7", "APP-1.example."]);
 * const { hosts } = await source.discover();
 * console.log(hosts.map((h) => h.host)); // ["10.244.0.7", "app-0.app.default.svc.cluster.local", "app-1.example"]
 * ```
 */
export function staticSource(hosts: string[]): DiscoverySource {
  const parsed: DiscoveredHost[] = [];
  for (const entry of hosts) {
    const text = entry.trim();
    if (text === "") continue;
    const at = text.indexOf("@");
    if (at !== text.lastIndexOf("@") || at === 0) {
      throw new DiscoveryError(
        "CONFIG",
        `Invalid static host '${entry}': expected a host, an IP address or 'name@host'`,
        {
          query: entry,
        },
      );
    }
    const part = at > 0 ? text.slice(at + 1) : text;
    const host = normalizeHost(part);
    if (host === undefined) {
      throw new DiscoveryError(
        "CONFIG",
        `Invalid static host '${entry}': '${part}' is no host name or IP address`,
        {
          query: entry,
        },
      );
    }
    const ip = canonicalIp(host);
    parsed.push(ip === undefined ? { host, via: "static" } : { host, address: ip, via: "static" });
  }
  const list = sortHosts(parsed);
  return {
    kind: "static",
    description: `static list of ${list.length} host${list.length === 1 ? "" : "s"}`,
    discover(signal?: AbortSignal): Promise<Discovery> {
      signal?.throwIfAborted();
      const copy = structuredClone(list);
      return Promise.resolve({
        hosts: copy,
        recordTypes: copy.length ? ["static"] : [],
        stale: false,
        queries: 0,
      });
    },
  };
}
