/**
 * This pod's identity, by one rule for every command: what the downward API says it is (`POD_NAME`
 * under the first Service, `POD_IP`), which of the two a node name takes ({@link podHost}), and how
 * the pod is recognised in a Service's answer ({@link selfIdentity}).
 * @module
 */
import { isIp } from "../bytes/address.ts";
import { ConfigError } from "./errors.ts";
import type { DiscoveryKind, HostForm } from "./schema.ts";

/** This pod as its headless Service lists it. */
export interface PodIdentity {
  /** Its FQDN, `<POD_NAME>.<svc FQDN>` (a StatefulSet pod under its governing Service), lowercase. */
  fqdn?: string;
  /** Its IP address (`POD_IP`). */
  ip?: string;
}

/**
 * The FQDN of a Service: the name itself when it has a dot, else `<service>.<namespace>.svc.<zone>`.
 *
 * @example
 * ```ts
 * import { serviceFqdn } from "./identity.ts";
 * serviceFqdn("app", "default", "cluster.local"); // "app.default.svc.cluster.local"
 * ```
 */
export function serviceFqdn(service: string, namespace: string, clusterDomain: string): string {
  const name = service.endsWith(".") ? service.slice(0, -1) : service;
  return name.includes(".") ? name : `${name}.${namespace}.svc.${clusterDomain}`;
}

/** What {@link podIdentity} reads. */
export interface PodContext {
  /** `POD_NAME` (downward API `metadata.name`), trimmed; undefined when unset or blank. */
  podName?: string;
  /** `POD_IP` (downward API `status.podIP`), trimmed; undefined when unset or blank. */
  podIp?: string;
  /** Configured Services; the first one is the pod's subdomain. */
  service: readonly string[];
  /** The namespace of short service names. */
  namespace: string;
  /** The cluster DNS zone. */
  clusterDomain: string;
}

/**
 * The pod from the downward API: its FQDN when `POD_NAME` and a Service are known, its IP when
 * `POD_IP` is set. A `POD_IP` that is no IP address is a {@link ConfigError}.
 *
 * @example
 * ```ts
 * import { podIdentity } from "./identity.ts";
 * podIdentity({ podName: "app-0", podIp: "10.0.0.7", service: ["app"], namespace: "ns", clusterDomain: "cluster.local" });
 * // { fqdn: "app-0.app.ns.svc.cluster.local", ip: "10.0.0.7" }
 * ```
 */
export function podIdentity(ctx: PodContext): PodIdentity {
  const pod: PodIdentity = {};
  if (ctx.podName !== undefined && ctx.service.length > 0) {
    pod.fqdn = `${ctx.podName}.${serviceFqdn(ctx.service[0], ctx.namespace, ctx.clusterDomain)}`
      .toLowerCase();
  }
  if (ctx.podIp !== undefined) {
    if (!isIp(ctx.podIp)) {
      throw ConfigError.invalid({
        key: "node",
        source: "env POD_IP (downward API)",
        value: ctx.podIp,
        expected: "an IP address (downward API status.podIP)",
      });
    }
    pod.ip = ctx.podIp;
  }
  return pod;
}

/**
 * The host part this pod's node takes, the one rule behind the default node, `RELEASE_NODE` without a
 * host and the node `run` gives an Elixir release: `hostForm` `fqdn` or `ip` forces that form; `auto`
 * prefers the FQDN, except with discovery `a`, which sees IPs. Undefined when the chosen form is unknown.
 *
 * @example
 * ```ts
 * import { podHost } from "./identity.ts";
 * const pod = { fqdn: "app-0.app.ns.svc.cluster.local", ip: "10.0.0.7" };
 * podHost(pod, "auto", "srv")?.host; // "app-0.app.ns.svc.cluster.local"
 * podHost(pod, "auto", "a")?.host; // "10.0.0.7"
 * podHost(pod, "fqdn", "a")?.host; // "app-0.app.ns.svc.cluster.local"
 * ```
 */
export function podHost(
  pod: PodIdentity,
  hostForm: HostForm,
  discovery: DiscoveryKind,
): { host: string; from: "POD_NAME" | "POD_IP" } | undefined {
  const fqdn = pod.fqdn !== undefined ? { host: pod.fqdn, from: "POD_NAME" as const } : undefined;
  const ip = pod.ip !== undefined ? { host: pod.ip, from: "POD_IP" as const } : undefined;
  switch (hostForm) {
    case "fqdn":
      return fqdn;
    case "ip":
      return ip;
    default:
      return discovery === "a" ? ip ?? fqdn : fqdn ?? ip;
  }
}

/**
 * How this pod is recognised in its Service's answer (`wait --self`, a node's own entry): its FQDN (the
 * host of `node` when that is a name, else the pod FQDN) and its IP (`POD_IP`, else the host of `node`
 * when that is an IP). Both forms are kept whatever `hostForm` says: an answer may list either.
 *
 * @example
 * ```ts
 * import { selfIdentity } from "./identity.ts";
 * selfIdentity("app@10.0.0.7", { fqdn: "app-0.app.ns.svc.cluster.local" });
 * // { fqdn: "app-0.app.ns.svc.cluster.local", ip: "10.0.0.7" }
 * ```
 */
export function selfIdentity(node: string | undefined, pod: PodIdentity): PodIdentity {
  const at = node?.lastIndexOf("@") ?? -1;
  const nodeHost = node !== undefined && at >= 0 ? node.slice(at + 1) : undefined;
  const nodeIsIp = nodeHost !== undefined && isIp(nodeHost);
  const self: PodIdentity = {};
  const fqdn = nodeHost !== undefined && !nodeIsIp ? nodeHost.toLowerCase() : pod.fqdn;
  const ip = pod.ip ?? (nodeIsIp ? nodeHost : undefined);
  if (fqdn !== undefined) self.fqdn = fqdn;
  if (ip !== undefined) self.ip = ip;
  return self;
}
