/**
 * A simulated Kubernetes workload: a {@link Network} of pods, Unbound as kube-dns publishing a headless
 * Service for the ready pods, and real OTP nodes started in the pods on demand (needs root).
 *
 * @example
 * ```ts
 * await using cluster = await createCluster({ pods: 3, kind: "statefulset" });
 * const a = await cluster.startNode(0);
 * const b = await cluster.startNode(1);
 * await a.eval(`net_adm:ping('${cluster.pods[1].nodeName}').`); // "pong"
 * ```
 *
 * @module
 */

import { dashedIp, type Dns, dnsUnavailableReason, type ServiceSpec, startDns } from "./dns.ts";
import { createNetwork, type Network, networkUnavailableReason, type Pod } from "./netns.ts";
import { otpAvailability, type OtpNode, type OtpVersion, randomCookie, startNode } from "./otp.ts";
import { randomId } from "./prefix.ts";
import { type NodeTls, nodeTlsArgs, type Pki, podCert } from "./tls.ts";

/** Why cluster tests cannot run here (optionally also requiring some OTP versions), or undefined. */
export function clusterUnavailableReason(versions: OtpVersion[] = ["25"]): string | undefined {
  const why = networkUnavailableReason() ?? dnsUnavailableReason();
  if (why) return why;
  for (const v of versions) {
    const a = otpAvailability(v);
    if (!a.available) return `OTP ${v}: ${a.why}`;
  }
  return undefined;
}

/** Options of {@link createCluster}. */
export interface ClusterOptions {
  /** Number of pods. */
  pods: number;
  /** Workload kind: StatefulSet pods `app-0…` with FQDN node names, Deployment pods with IP node names. @default "statefulset" */
  kind?: "statefulset" | "deployment";
  /** Service (and StatefulSet) name. @default "app" */
  service?: string;
  /** Kubernetes namespace. @default "default" */
  namespace?: string;
  /** Cluster domain. @default "cluster.local" */
  zone?: string;
  /** Alive part of the node names. @default the service name */
  alive?: string;
  /** OTP version per pod (index i → version). @default "25" for every pod */
  otpVersions?: OtpVersion[];
  /** Erlang cookie of all nodes. @default a random cookie */
  cookie?: string;
  /** DNS TTL (CoreDNS plugin `ttl`). @default 5 */
  ttl?: number;
  /** Whether the pods start as ready (published in DNS). @default true */
  ready?: boolean;
  /** Extra `erl` arguments for every node, e.g. `["-kernel", "net_ticktime", "8"]`. @default [] */
  nodeArgs?: string[];
  /**
   * TLS distribution for every node (`-proto_dist inet_tls`, `verify_peer` and `fail_if_no_peer_cert`),
   * each with a certificate of `pki`'s CA for its pod's FQDN and IP (see `podCert`). @default plain TCP
   */
  tls?: { pki: Pki };
  /**
   * 6: an IPv6-only cluster (see `NetworkOptions.ipFamily`): pods with IPv6 addresses only, AAAA records
   * (Deployment targets in CoreDNS's dashed-IPv6 form), DNS on the gateway's IPv6 address, every node
   * `-proto_dist inet6_tcp` (Deployment nodes named `app@fd00:X:Y::a`). @default 4
   */
  ipFamily?: 4 | 6;
  /**
   * EPMD-less nodes: every node starts no EPMD (none listens in any pod) and listens on this distribution
   * port, dialling its peers there (`-erl_epmd_port P` on OTP 25, `-kernel erl_epmd_node_listen_port P` on
   * 27 and 29; see `epmdLessArgs`). @default EPMD on 4369 in each pod
   */
  distPort?: number;
}

/** One pod of a {@link Cluster}. */
export interface ClusterPod {
  /** Index in creation order. */
  readonly index: number;
  /** Pod name (`app-0` or `app-xxxxx`). */
  readonly name: string;
  /** Network namespace. */
  readonly netns: string;
  /** Pod IP. */
  readonly ip: string;
  /** StatefulSet: `app-0.app.default.svc.cluster.local`; Deployment: the dashed-IP name. */
  readonly fqdn: string;
  /** Erlang node name: `app@app-0.app.default.svc.cluster.local` or `app@10.244.X.Y` (`app@fd00:X:Y::a`). */
  readonly nodeName: string;
  /** OTP version of its node. */
  readonly version: OtpVersion;
  /** Whether the pod is published in DNS by {@link Cluster.publish}. */
  ready: boolean;
  /** The running node, if started. */
  node?: OtpNode;
}

/** See {@link createCluster}. */
export class Cluster implements AsyncDisposable {
  readonly network: Network;
  readonly dns: Dns;
  readonly cookie: string;
  readonly kind: "statefulset" | "deployment";
  readonly service: string;
  readonly namespace: string;
  readonly zone: string;
  readonly alive: string;
  readonly pods: ClusterPod[] = [];
  #nodeArgs: string[];
  readonly tls: { pki: Pki } | undefined;
  /** The distribution port of EPMD-less nodes (`ClusterOptions.distPort`), or undefined with EPMD. */
  readonly distPort: number | undefined;
  #nodeTls = new Map<ClusterPod, NodeTls>();
  #nextOrdinal = 0;
  #destroyed: Promise<void> | undefined;

  /** @internal use {@link createCluster} */
  constructor(network: Network, dns: Dns, options: ClusterOptions) {
    this.network = network;
    this.dns = dns;
    this.cookie = options.cookie ?? randomCookie();
    this.kind = options.kind ?? "statefulset";
    this.service = options.service ?? "app";
    this.namespace = options.namespace ?? "default";
    this.zone = options.zone ?? "cluster.local";
    this.alive = options.alive ?? this.service;
    this.#nodeArgs = options.nodeArgs ?? [];
    this.tls = options.tls;
    this.distPort = options.distPort;
  }

  /** The pods' address family (`ClusterOptions.ipFamily`). */
  get ipFamily(): 4 | 6 {
    return this.network.family;
  }

  /** `app.default.svc.cluster.local` */
  get serviceFqdn(): string {
    return `${this.service}.${this.namespace}.svc.${this.zone}`;
  }

  /** The pod at `index` or with that name. */
  pod(ref: number | string | ClusterPod): ClusterPod {
    if (typeof ref === "object") return ref;
    const p = typeof ref === "number"
      ? this.pods.find((x) => x.index === ref)
      : this.pods.find((x) => x.name === ref);
    if (!p) throw new Error(`Cannot find pod '${ref}' in cluster '${this.network.prefix}'`);
    return p;
  }

  /** Adds a pod (scale up): the next StatefulSet ordinal, or a new random Deployment pod name. */
  async addPod(options: { version?: OtpVersion; ready?: boolean; ip?: string } = {}): Promise<ClusterPod> {
    const index = this.pods.length === 0 ? 0 : Math.max(...this.pods.map((p) => p.index)) + 1;
    const sts = this.kind === "statefulset";
    const name = sts ? `${this.service}-${this.#nextOrdinal++}` : `${this.service}-${randomId(5)}`;
    const svcDomain = `${this.service}.${this.namespace}.svc.${this.zone}`;
    const pod: Pod = await this.network.addPod(name, {
      ip: options.ip,
      fqdn: sts ? `${name}.${svcDomain}` : undefined,
      namespace: this.namespace,
      zone: this.zone,
    });
    const fqdn = sts ? `${name}.${svcDomain}` : `${dashedIp(pod.ip)}.${svcDomain}`;
    const cp: ClusterPod = {
      index,
      name,
      netns: pod.netns,
      ip: pod.ip,
      fqdn,
      nodeName: `${this.alive}@${sts ? fqdn : pod.ip}`,
      version: options.version ?? "25",
      ready: options.ready ?? true,
    };
    this.pods.push(cp);
    return cp;
  }

  /** Stops the pod's node and deletes the pod (scale down / deletion). Does not republish DNS. */
  async removePod(ref: number | string | ClusterPod): Promise<void> {
    const pod = this.pod(ref);
    await this.stopNode(pod);
    await this.network.removePod(pod.name);
    this.pods.splice(this.pods.indexOf(pod), 1);
  }

  /**
   * Starts the pod's OTP node (`-name <nodeName>`, own UTS hostname = pod name, EPMD 4369 inside the pod, or
   * none and the cluster's `distPort`).
   * A previous node of the pod is stopped first. In a TLS cluster, `tlsSigner: "rogue"` gives the node a
   * certificate of a CA nobody trusts.
   */
  async startNode(
    ref: number | string | ClusterPod,
    options: {
      args?: string[];
      env?: Record<string, string>;
      version?: OtpVersion;
      tlsSigner?: "ca" | "rogue";
    } = {},
  ): Promise<OtpNode> {
    const pod = this.pod(ref);
    if (pod.node && !pod.node.exited) throw new Error(`Cannot start node in '${pod.name}': it is running`);
    await this.stopNode(pod);
    const version = options.version ?? pod.version;
    let tlsArgs: string[] = [];
    if (this.tls) {
      const cert = await podCert(this.tls.pki, pod, options.tlsSigner);
      const files = await nodeTlsArgs(this.tls.pki, version, { node: cert });
      this.#nodeTls.set(pod, files);
      tlsArgs = files.args;
    }
    pod.node = await startNode({
      version,
      name: pod.nodeName,
      nameKind: "long",
      cookie: this.cookie,
      netns: pod.netns,
      hostname: pod.name,
      distPort: this.distPort,
      args: [...tlsArgs, ...this.#familyArgs(), ...this.#nodeArgs, ...(options.args ?? [])],
      env: options.env,
    });
    return pod.node;
  }

  /** `-proto_dist inet6_tcp` in an IPv6-only cluster without TLS (TLS sets its own `-proto_dist`). */
  #familyArgs(): string[] {
    return this.ipFamily === 6 && !this.tls ? ["-proto_dist", "inet6_tcp"] : [];
  }

  /** Stops the pod's node (if running). */
  async stopNode(ref: number | string | ClusterPod): Promise<void> {
    const pod = this.pod(ref);
    await pod.node?.stop();
    pod.node = undefined;
    await this.#nodeTls.get(pod)?.remove();
    this.#nodeTls.delete(pod);
  }

  /** The Service as published for the currently ready pods. */
  serviceSpec(): ServiceSpec {
    return {
      name: this.service,
      namespace: this.namespace,
      kind: this.kind,
      pods: this.pods.filter((p) => p.ready).map((p) => ({ host: p.name, ip: p.ip })),
    };
  }

  /** Renders DNS for the currently ready pods. */
  publish(): Promise<void> {
    return this.dns.publish(this.serviceSpec());
  }

  /** Marks a pod ready or not and republishes DNS. */
  async setReady(ref: number | string | ClusterPod, ready: boolean): Promise<void> {
    this.pod(ref).ready = ready;
    await this.publish();
  }

  /** Stops every node, the DNS server, and destroys the network. Idempotent. */
  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      const errors: unknown[] = [];
      await Promise.all(this.pods.map((p) => this.stopNode(p).catch((e) => errors.push(e))));
      await this.dns.stop().catch((e) => errors.push(e));
      await this.network.destroy().catch((e) => errors.push(e));
      if (errors.length) throw new AggregateError(errors, `Cannot destroy cluster '${this.network.prefix}'`);
    })();
    return this.#destroyed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}

/**
 * Creates a network with `pods` pods and a DNS server, and publishes the ready pods. Nodes are not
 * started: call {@link Cluster.startNode}.
 */
export async function createCluster(options: ClusterOptions): Promise<Cluster> {
  const why = clusterUnavailableReason([...new Set<OtpVersion>(options.otpVersions ?? ["25"])]);
  if (why) throw new Error(`Cannot create cluster: ${why}`);
  const network = await createNetwork({ ipFamily: options.ipFamily });
  let cluster: Cluster | undefined;
  try {
    const dns = await startDns(network, { zone: options.zone, ttl: options.ttl });
    cluster = new Cluster(network, dns, options);
    for (let i = 0; i < options.pods; i++) {
      await cluster.addPod({ version: options.otpVersions?.[i], ready: options.ready });
    }
    await cluster.publish();
    return cluster;
  } catch (e) {
    if (cluster) await cluster.destroy().catch(() => {});
    else await network.destroy().catch(() => {});
    throw e;
  }
}
