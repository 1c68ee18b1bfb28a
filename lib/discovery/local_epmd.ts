import { DiscoveryError } from "./errors.ts";
import { canonicalIp, type Discovery, type DiscoverySource, normalizeHost } from "./source.ts";

/** Options of {@link localEpmdSource}. */
export interface LocalEpmdSourceOptions {
  /**
   * Where EPMD is asked; becomes the host's `address`.
   * @default {"127.0.0.1"}
   */
  host?: string;
  /**
   * The host part of the local nodes' names, when they were not started as `name@<host>`: for
   * example `app-0.app.default.svc.cluster.local` while EPMD is asked at 127.0.0.1.
   * @default {host}
   */
  nodeHost?: string;
}

/**
 * A source that returns the local host only; the enumerator then lists its nodes through EPMD NAMES.
 * No DNS traffic. The host's `address` is where EPMD is asked (an IP address or a name such as
 * `localhost`), its `host` the host part of the node names.
 *
 * @throws {DiscoveryError} `CONFIG` when `host` or `nodeHost` is no host name or IP address.
 *
 * @example
 * ```ts
 * import { localEpmdSource } from "./local_epmd.ts";
 * const { hosts } = await localEpmdSource().discover();
 * console.log(hosts); // [{ host: "127.0.0.1", address: "127.0.0.1", via: "epmd" }]
 * ```
 */
export function localEpmdSource(options: LocalEpmdSourceOptions = {}): DiscoverySource {
  const check = (text: string) => {
    const host = normalizeHost(text);
    if (host === undefined) {
      throw new DiscoveryError("CONFIG", `Invalid local EPMD host '${text}': no host name or IP address`, {
        query: text,
      });
    }
    return host;
  };
  const address = check(options.host ?? "127.0.0.1");
  const host = options.nodeHost === undefined ? address : check(options.nodeHost);
  return {
    kind: "epmd",
    description: `local EPMD at ${canonicalIp(address)?.includes(":") ? `[${address}]` : address}`,
    discover(signal?: AbortSignal): Promise<Discovery> {
      signal?.throwIfAborted();
      return Promise.resolve({
        hosts: [{ host, address, via: "epmd" }],
        recordTypes: ["epmd"],
        stale: false,
        queries: 0,
      });
    },
  };
}
