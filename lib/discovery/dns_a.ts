import { DiscoveryError } from "./errors.ts";
import { denoResolver, lookup, type NameServer, type Resolver } from "./resolver.ts";
import {
  absoluteName,
  canonicalIp,
  dashedIp,
  type DiscoveredHost,
  type Discovery,
  type DiscoverySource,
  LastGoodAnswer,
} from "./source.ts";

/** Options of {@link aSource}. */
export interface ASourceOptions {
  /**
   * The headless Service name, absolute: `app.default.svc.cluster.local.`. A missing trailing dot is
   * added; names without any dot are rejected.
   */
  name: string;
  /**
   * Which records to ask for: `A`, `AAAA`, or `both` (two queries, sent together).
   * @default {"A"}
   */
  family?: "A" | "AAAA" | "both";
  /**
   * The host part made of each address: `ip` (Deployment nodes named `app@10.244.0.7`) or `dashed`
   * (`10-244-0-7.app.default.svc.cluster.local`, the name CoreDNS gives a pod without a hostname).
   * @default {"ip"}
   */
  hostForm?: "ip" | "dashed";
  /**
   * The resolver; tests pass a {@link FakeResolver}.
   * @default {denoResolver}
   */
  resolver?: Resolver;
  /**
   * The deadline of the lookup (both queries of `both` share it), in milliseconds.
   * @default {1000}
   */
  timeoutMs?: number;
  /** The DNS server to ask instead of the system's. */
  nameServer?: NameServer;
}

/**
 * A source that reads a headless Service's A and/or AAAA records: one host per ready endpoint address,
 * as a canonical IP or as its dashed name below the Service.
 *
 * Failures are handled as in {@link srvSource}. With `family: "both"`, "no records found" for one family
 * is normal (NODATA in a single-stack cluster); the answer fails only when both find nothing, or when
 * either query times out or fails otherwise (then the last good answer comes back, `stale: true`).
 *
 * @example
 * ```ts
 * import { aSource } from "./dns_a.ts";
 * const source = aSource({ name: "app.default.svc.cluster.local.", family: "both", hostForm: "ip" });
 * const { hosts } = await source.discover();
 * console.log(hosts.map((h) => h.host));
 * ```
 */
export function aSource(options: ASourceOptions): DiscoverySource {
  const name = absoluteName(options.name, "Service name");
  const service = name.slice(0, -1);
  const family = options.family ?? "A";
  const hostForm = options.hostForm ?? "ip";
  const resolver = options.resolver ?? denoResolver;
  const timeoutMs = options.timeoutMs ?? 1000;
  const nameServer = options.nameServer;
  const types: ("A" | "AAAA")[] = family === "both" ? ["A", "AAAA"] : [family];
  const last = new LastGoodAnswer();
  return {
    kind: "a",
    description: `DNS ${types.join("+")} ${name} as ${hostForm} names${
      nameServer ? ` at ${nameServer.ipAddr}:${nameServer.port ?? 53}` : ""
    }`,
    async discover(signal?: AbortSignal): Promise<Discovery> {
      const results = await Promise.allSettled(
        types.map((type) =>
          lookup(resolver, name, type, { timeoutMs, nameServer, signal }) as Promise<string[]>
        ),
      );
      signal?.throwIfAborted();
      const hosts: DiscoveredHost[] = [];
      const errors: DiscoveryError[] = [];
      results.forEach((r, i) => {
        if (r.status === "rejected") {
          if (!(r.reason instanceof DiscoveryError)) throw r.reason;
          errors.push(r.reason);
          return;
        }
        for (const text of r.value) {
          const ip = canonicalIp(String(text));
          if (ip === undefined) {
            errors.push(
              new DiscoveryError("DNS", `Cannot use ${types[i]} '${name}': '${text}' is not an IP address`, {
                query: `${name} ${types[i]}`,
              }),
            );
            continue;
          }
          const host = hostForm === "ip" ? ip : `${dashedIp(ip)}.${service}`;
          hosts.push({ host, address: ip, via: types[i] });
        }
      });
      const queries = types.length;
      const hard = errors.find((e) => e.code !== "NXDOMAIN_OR_NODATA");
      if (hard) return last.failed(hard, queries, hosts);
      if (errors.length === types.length) return last.failed(errors[0], queries);
      return last.ok(hosts, queries);
    },
  };
}
