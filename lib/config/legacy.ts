/**
 * The variables erlmesh reads besides its own `ERLMESH_*`: those of the original article
 * (`ERLANG_NODENAME`; `K8S_HEADLESS_SVC` and `WORLD_LIST` are plain aliases in the table), Elixir
 * releases (`RELEASE_NODE`, `RELEASE_DISTRIBUTION`) and the Kubernetes downward API (`POD_NAME`,
 * `POD_NAMESPACE`, `POD_IP`), plus the pod's resolv.conf.
 * @module
 */
import { ConfigError } from "./errors.ts";
import { podHost, type PodIdentity } from "./identity.ts";
import type { DiscoveryKind, HostForm } from "./schema.ts";

/** What the node derivations need to know about the rest of the configuration. */
export interface NodeContext {
  /** Environment lookup; empty values count as unset. */
  env: (name: string) => string | undefined;
  /** This pod from the downward API (`podIdentity` in identity.ts). */
  pod: PodIdentity;
  /** How discovered hosts become host parts. */
  hostForm: HostForm;
  /** How peers are found. */
  discovery: DiscoveryKind;
  /** This machine's host name. */
  hostname: () => string;
}

/** A raw value found for a key, with where it came from. */
export interface FoundValue {
  /** The raw text, still to be checked. */
  raw: string;
  /** Where it came from, for provenance and errors. */
  source: string;
}

/** Reads a variable; empty or blank counts as unset. */
export function envValue(env: (name: string) => string | undefined, name: string): string | undefined {
  const v = env(name)?.trim();
  return v === undefined || v === "" ? undefined : v;
}

const DISTRIBUTIONS = ["name", "sname", "none"];

/**
 * The node name from the legacy variables, in order: `RELEASE_NODE` (with `RELEASE_DISTRIBUTION`),
 * then `ERLANG_NODENAME`. Returns the raw full name, still to be checked, or undefined.
 *
 * - `RELEASE_NODE=name@host` is taken as is.
 * - `RELEASE_NODE=name` with `RELEASE_DISTRIBUTION=name`: the host is the pod FQDN or `POD_IP` (see
 *   `podHost` in identity.ts), else the machine's host name when it is a FQDN.
 * - `RELEASE_NODE=name` with `RELEASE_DISTRIBUTION=sname` or unset: the short host name.
 * - `RELEASE_DISTRIBUTION=none`: the release is not distributed, `RELEASE_NODE` is ignored.
 */
export function legacyNode(ctx: NodeContext): FoundValue | undefined {
  const releaseNode = envValue(ctx.env, "RELEASE_NODE");
  if (releaseNode !== undefined) {
    const found = fromReleaseNode(releaseNode, ctx);
    if (found !== undefined) return found;
  }
  const nodename = envValue(ctx.env, "ERLANG_NODENAME");
  if (nodename !== undefined) return { raw: nodename, source: "env ERLANG_NODENAME" };
  return undefined;
}

function fromReleaseNode(releaseNode: string, ctx: NodeContext): FoundValue | undefined {
  const distribution = envValue(ctx.env, "RELEASE_DISTRIBUTION") ?? "sname";
  if (!DISTRIBUTIONS.includes(distribution)) {
    throw ConfigError.invalid({
      key: "node",
      source: "env RELEASE_DISTRIBUTION",
      value: distribution,
      expected: "'name', 'sname' or 'none'",
    });
  }
  if (distribution === "none") return undefined;
  if (releaseNode.includes("@")) return { raw: releaseNode, source: "env RELEASE_NODE" };
  if (distribution === "sname") {
    const short = ctx.hostname().split(".")[0] || "localhost";
    return { raw: `${releaseNode}@${short}`, source: "env RELEASE_NODE (host: the short host name)" };
  }
  const pod = podHost(ctx.pod, ctx.hostForm, ctx.discovery);
  if (pod !== undefined) {
    return { raw: `${releaseNode}@${pod.host}`, source: `env RELEASE_NODE (host: ${pod.from})` };
  }
  const hostname = ctx.hostname();
  if (hostname.includes(".")) {
    return { raw: `${releaseNode}@${hostname}`, source: "env RELEASE_NODE (host: the host name)" };
  }
  throw ConfigError.invalid({
    key: "node",
    source: "env RELEASE_NODE",
    value: releaseNode,
    expected: "'name@host', or POD_IP, or POD_NAME and a service, to build the host part of a long name " +
      "(RELEASE_DISTRIBUTION=name)",
  });
}

/**
 * The default node from the downward API alone, when `basename` is known: `<basename>@<pod FQDN>`
 * when POD_NAME and a service are known (StatefulSet), else `<basename>@<POD_IP>` (Deployment). A
 * basename with `*` names no node: the local node is then learnt from the local EPMD.
 */
export function downwardApiNode(basename: string | undefined, ctx: NodeContext): FoundValue | undefined {
  if (basename === undefined || basename.includes("*")) return undefined;
  const pod = podHost(ctx.pod, ctx.hostForm, ctx.discovery);
  if (pod === undefined) return undefined;
  return { raw: `${basename}@${pod.host}`, source: `env ${pod.from} (downward API)` };
}

/** Defaults found in a pod's resolv.conf. */
export interface ResolvConfDefaults {
  /** The pod's namespace, from the first search entry `<ns>.svc.<zone>`. */
  namespace?: string;
  /** The cluster zone, from the same entry. */
  clusterDomain?: string;
  /** The search entry they came from. */
  entry?: string;
}

/**
 * Reads namespace and cluster zone from the first entry of the `search` line of a resolv.conf, when it
 * has the form `<ns>.svc.<zone>` (as kubelet writes it for `dnsPolicy: ClusterFirst`). As in
 * resolv.conf(5), the last `search` line wins.
 *
 * @example
 * ```ts
 * import { resolvConfDefaults } from "./legacy.ts";
 * resolvConfDefaults("search default.svc.cluster.local svc.cluster.local cluster.local\n");
 * // { namespace: "default", clusterDomain: "cluster.local", entry: "default.svc.cluster.local" }
 * ```
 */
export function resolvConfDefaults(text: string): ResolvConfDefaults {
  let search: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    const words = line.replace(/[#;].*$/, "").trim().split(/\s+/);
    if (words[0] === "search") search = words.slice(1);
  }
  const entry = search?.[0];
  if (entry === undefined) return {};
  const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\.svc\.((?:[a-z0-9_-]+\.)*[a-z0-9_-]+)\.?$/i.exec(entry);
  if (!m) return {};
  return { namespace: m[1].toLowerCase(), clusterDomain: m[3].toLowerCase(), entry };
}
