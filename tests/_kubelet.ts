/**
 * Runs rendered Kubernetes objects (the output of `kubectl kustomize deploy/k8s/...`) in the simulated
 * network the way the kubelet, the StatefulSet and Deployment controllers and the endpoints controller
 * would, so the tests check the manifests as written, not a copy of them:
 *
 * - a pod gets an IP (a network namespace of the harness), the kubelet hosts line and resolv.conf;
 * - its volumes: `emptyDir` (a 0777 directory), `secret` (the files of the Secret the test supplies, with
 *   `defaultMode`/`mode`, owned by root and the pod's `fsGroup`), in a per-run temporary folder;
 * - environment from ConfigMaps (`envFrom`), `value` (with `$(VAR)` of earlier entries) and the downward
 *   API (`metadata.name`, `metadata.namespace`, `status.podIP`);
 * - the init containers' `command`+`args` one after the other, then the containers' — exactly as written,
 *   run as `runAsUser`/`runAsGroup` with `fsGroup` as a supplementary group (setpriv, no new privileges, no
 *   capabilities). Paths of the image are mapped onto the test machine: `/usr/local/bin/erlmesh` runs
 *   erlmesh from source (`erlmeshArgv`), the release folder is the real test release, and each volume's
 *   `mountPath` is its folder (in arguments and environment values);
 * - exec probes with their `initialDelaySeconds`, `periodSeconds`, `timeoutSeconds`, `successThreshold` and
 *   `failureThreshold`; readiness and liveness wait for the startup probe; a liveness or startup failure
 *   restarts the container;
 * - DNS (Unbound as CoreDNS) lists a pod once it is Ready, or from the moment it has an IP when the Service
 *   has `publishNotReadyAddresses`, and drops it when it is deleted (or gone, with that flag);
 * - StatefulSets: `OrderedReady` (one pod at a time, each waits for the previous to be Ready; scale-in from
 *   the highest ordinal, each gone before the next) or `Parallel`; rolling restarts highest ordinal first,
 *   each Ready before the next; Deployments: pods with generated names, surge-then-delete rollouts;
 * - deletion: SIGTERM to every container, SIGKILL after `terminationGracePeriodSeconds`.
 *
 * @module
 */

import { parseAllDocuments } from "yaml";
import { createNetwork, type Network } from "./_harness/netns.ts";
import { type Dns, type ServiceSpec, startDns } from "./_harness/dns.ts";
import { hasProgram, isRoot, run } from "./_harness/_process.ts";
import { randomId, tempPrefix } from "./_harness/prefix.ts";
import { clusterUnavailableReason } from "./_harness/cluster.ts";
import { childEnv, erlmeshArgv } from "./_erlmesh.ts";

/** A Kubernetes object as parsed from YAML. */
// deno-lint-ignore no-explicit-any
export type K8sObject = Record<string, any>;

/** The repository's `deploy/k8s` folder. */
export const DEPLOY_K8S: string = new URL("../deploy/k8s/", import.meta.url).pathname.replace(/\/$/, "");

let kustomizeWhy: string | undefined | null = null;

/**
 * Why `kubectl kustomize` cannot render deploy/k8s here, or undefined: kubectl missing, or its kustomize
 * older than v4 (`components` and `labels` need v4; Debian 12's kubernetes-client 1.20 has v2).
 */
export function kustomizeUnavailableReason(): string | undefined {
  if (kustomizeWhy !== null) return kustomizeWhy;
  kustomizeWhy = (() => {
    if (!hasProgram("kubectl")) return "'kubectl' is not on PATH (needed for 'kubectl kustomize')";
    try {
      const out = new Deno.Command("kubectl", { args: ["version", "--client", "-o", "json"], stdin: "null" })
        .outputSync();
      const v = String(JSON.parse(new TextDecoder().decode(out.stdout)).kustomizeVersion ?? "");
      const major = Number(/^v?(\d+)\./.exec(v)?.[1]);
      if (!(major >= 4)) {
        return `kubectl's kustomize is '${v || "unknown"}', older than v4 (components, labels)`;
      }
    } catch (e) {
      return `Cannot ask kubectl for its kustomize version: ${(e as Error).message}`;
    }
    return undefined;
  })();
  return kustomizeWhy;
}

/** Renders a kustomization folder with `kubectl kustomize`; the objects in output order. */
export async function kustomize(dir: string): Promise<{ text: string; objects: K8sObject[] }> {
  const r = await run(["kubectl", "kustomize", dir], { timeoutMs: 60_000 });
  if (!r.success) throw new Error(`Cannot render '${dir}' with kubectl kustomize: ${r.stderr.trim()}`);
  return {
    text: r.stdout,
    objects: parseAllDocuments(r.stdout).map((d) => d.toJSON() as K8sObject).filter((o) => o),
  };
}

/**
 * Renders `resources` (folders under deploy/k8s, e.g. `overlays/statefulset`) with `components` (e.g.
 * `components/sidecar`) through a temporary kustomization, as a team's own overlay would.
 */
export async function kustomizeWith(
  resources: string[],
  components: string[],
): Promise<{ text: string; objects: K8sObject[] }> {
  const dir = await Deno.makeTempDir({ prefix: tempPrefix("kustomize") });
  try {
    const rel = (p: string) => relativePath(dir, `${DEPLOY_K8S}/${p}`);
    await Deno.writeTextFile(
      `${dir}/kustomization.yaml`,
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${
        resources.map((r) => `  - ${rel(r)}\n`).join("")
      }components:\n${components.map((c) => `  - ${rel(c)}\n`).join("")}`,
    );
    return await kustomize(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function relativePath(from: string, to: string): string {
  const a = from.split("/").filter((s) => s);
  const b = to.split("/").filter((s) => s);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
}

/** What an image holds, for mapping a container's paths onto the test machine. */
export interface ImageSpec {
  /** Whether `/usr/local/bin/erlmesh` is in it. */
  erlmesh: boolean;
  /** The folder of the release in the image (`/opt/app`), mapped to the test release, if any. */
  releasePath?: string;
  /** The image's `USER` (uid). @default 65532 */
  user?: number;
  /** The image's `ENV`. */
  env?: Record<string, string>;
}

/** Options of {@link startKubelet}. */
export interface KubeletOptions {
  /** Rendered objects: Services, StatefulSets, Deployments (others are ignored). */
  objects: K8sObject[];
  /** The Secrets the test creates (`kubectl create secret`): name → key → value. */
  secrets: Record<string, Record<string, string>>;
  /** The images by name (without tag). */
  images: Record<string, ImageSpec>;
  /** The root of the test release that `ImageSpec.releasePath` maps to. */
  releaseRoot: string;
  /** The namespace the objects are applied in. @default "default" */
  namespace?: string;
}

/** Why the simulation cannot run here, or undefined. */
export function kubeletUnavailableReason(): string | undefined {
  if (!isRoot()) return "the simulated cluster needs root (network namespaces)";
  if (!hasProgram("setpriv")) return "'setpriv' is not on PATH (util-linux)";
  return clusterUnavailableReason(["25"]);
}

/** One event of the simulation, for ordering checks and diagnostics. */
export interface SimEvent {
  at: number;
  pod: string;
  what:
    | "created"
    | "init-done"
    | "started"
    | "ready"
    | "unready"
    | "terminating"
    | "gone"
    | "restarted"
    | "failed";
  detail?: string;
}

/** PATH of the Debian-based images. */
export const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function imageName(ref: string): string {
  const at = ref.indexOf("@");
  const noDigest = at >= 0 ? ref.slice(0, at) : ref;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** Waits `ms`, or less when `signal` aborts (never rejects). */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** Resolves when the signal is aborted (at once if it is). */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((r) => signal.addEventListener("abort", () => r(), { once: true }));
}

/**
 * A running container: its own process group (setsid), so that when its main process exits every process it
 * started is killed too, as the kernel does when a container's PID 1 exits.
 */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  /** The main process's exit status, once the rest of the container is killed and the output read. */
  readonly status: Promise<Deno.CommandStatus>;
  exited = false;
  constructor(child: Deno.ChildProcess) {
    this.child = child;
    const pump = async (s: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of s) {
        buf += dec.decode(chunk, { stream: true });
        const parts = buf.split("\n");
        buf = parts.pop()!;
        this.lines.push(...parts);
        if (this.lines.length > 4000) this.lines.splice(0, this.lines.length - 4000);
      }
      if (buf) this.lines.push(buf);
    };
    const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {}, () => {});
    this.status = child.status.then(async (s) => {
      this.exited = true;
      this.killGroup("SIGKILL");
      await pumps;
      return s;
    });
  }
  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch { /* gone */ }
  }
  killGroup(signal: Deno.Signal): void {
    try {
      Deno.kill(-this.child.pid, signal);
    } catch { /* gone */ }
  }
  /**
   * Waits for the exit of a command run to completion (an exec): its code and output, or, after
   * `timeoutMs`, the whole group killed and an error naming `what`.
   */
  async completion(timeoutMs: number, what: string): Promise<{ code: number; output: string }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const s = await Promise.race([
      this.status,
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs)),
    ]);
    clearTimeout(timer);
    if (s === "timeout") {
      this.killGroup("SIGKILL");
      await this.status;
      throw new Error(`Cannot exec ${what}: no exit within ${timeoutMs} ms`);
    }
    return { code: s.code, output: this.lines.join("\n") };
  }
}

/** A container of a simulated pod. */
export class SimContainer {
  readonly name: string;
  readonly spec: K8sObject;
  readonly init: boolean;
  proc?: Proc;
  started = false;
  ready = false;
  startupDone = false;
  restarts = 0;
  /** Every probe result: kind, ok, exit code or "timeout". */
  readonly probes: { kind: string; ok: boolean; detail: string }[] = [];
  readonly output: string[] = [];
  constructor(name: string, spec: K8sObject, init: boolean) {
    this.name = name;
    this.spec = spec;
    this.init = init;
  }
  log(): string {
    return [...this.output, ...(this.proc?.lines ?? [])].join("\n");
  }
}

/** A simulated pod. */
export class SimPod {
  readonly name: string;
  readonly owner: Workload;
  readonly spec: K8sObject;
  readonly labels: Record<string, string>;
  ip = "";
  /** Its network namespace. */
  netns = "";
  fqdn?: string;
  hostname: string;
  subdomain?: string;
  dir = "";
  readonly initContainers: SimContainer[];
  readonly containers: SimContainer[];
  terminating = false;
  gone = false;
  failed?: string;
  readonly abort = new AbortController();
  #volumeDirs = new Map<string, string>();
  #env = new Map<string, Record<string, string>>();
  running?: Promise<void>;

  constructor(name: string, owner: Workload, spec: K8sObject, labels: Record<string, string>) {
    this.name = name;
    this.owner = owner;
    this.spec = spec;
    this.labels = labels;
    this.hostname = spec.hostname ?? name;
    this.subdomain = spec.subdomain;
    this.initContainers = (spec.initContainers ?? []).map((c: K8sObject) =>
      new SimContainer(c.name, c, true)
    );
    this.containers = (spec.containers ?? []).map((c: K8sObject) => new SimContainer(c.name, c, false));
  }

  get ready(): boolean {
    return !this.terminating && !this.gone && this.containers.length > 0 &&
      this.containers.every((c) => c.ready);
  }

  /** The node name the pod's environment gives its release (NODE_NAME), if any. */
  env(container: string): Record<string, string> {
    return this.#env.get(container) ?? {};
  }

  /** Everything the pod's containers printed. */
  log(): string {
    return [...this.initContainers, ...this.containers].map((c) => `--- ${this.name}/${c.name}\n${c.log()}`)
      .join("\n");
  }

  /** @internal */
  async prepareVolumes(sim: Kubelet): Promise<void> {
    this.dir = await Deno.makeTempDir({ dir: sim.dir, prefix: `${this.name}-` });
    await Deno.chmod(this.dir, 0o755);
    const fsGroup: number | undefined = this.spec.securityContext?.fsGroup;
    for (const v of this.spec.volumes ?? []) {
      const host = `${this.dir}/vol-${v.name}`;
      await Deno.mkdir(host);
      if (v.emptyDir) {
        await Deno.chmod(host, 0o777);
      } else if (v.secret) {
        const data = sim.secrets[v.secret.secretName];
        if (!data) {
          throw new Error(`Cannot mount Secret '${v.secret.secretName}' in '${this.name}': no such Secret`);
        }
        const items: { key: string; path: string; mode?: number }[] = v.secret.items ??
          Object.keys(data).map((key) => ({ key, path: key }));
        for (const it of items) {
          if (!(it.key in data)) {
            throw new Error(`Cannot mount Secret '${v.secret.secretName}': it has no key '${it.key}'`);
          }
          const file = `${host}/${it.path}`;
          await Deno.writeTextFile(file, data[it.key]);
          await Deno.chmod(file, it.mode ?? v.secret.defaultMode ?? 0o644);
          if (fsGroup !== undefined) await Deno.chown(file, 0, fsGroup);
        }
        await Deno.chmod(host, 0o755);
        if (fsGroup !== undefined) await Deno.chown(host, 0, fsGroup);
      } else {
        throw new Error(`Cannot simulate volume '${v.name}' of '${this.name}': only emptyDir and secret`);
      }
      this.#volumeDirs.set(v.name, host);
    }
  }

  /** The host folder of a volume. */
  volumeDir(name: string): string {
    const d = this.#volumeDirs.get(name);
    if (!d) throw new Error(`Cannot find volume '${name}' in pod '${this.name}'`);
    return d;
  }

  /** @internal the container's mount table, longest mountPath first. */
  mounts(c: K8sObject): { path: string; host: string; readOnly: boolean }[] {
    return (c.volumeMounts ?? []).map((m: K8sObject) => ({
      path: m.mountPath.replace(/\/$/, ""),
      host: this.volumeDir(m.name) + (m.subPath ? `/${m.subPath}` : ""),
      readOnly: m.readOnly === true,
    })).sort((a: { path: string }, b: { path: string }) => b.path.length - a.path.length);
  }

  /**
   * @internal environment of a container: image ENV, then `envFrom` ConfigMaps, then `env` in order with
   * $(VAR) of what is defined before it, and the downward API.
   */
  environment(
    c: K8sObject,
    image: ImageSpec,
    namespace: string,
    configMaps: Map<string, Record<string, string>>,
  ): Record<string, string> {
    const env: Record<string, string> = { PATH: IMAGE_PATH, HOSTNAME: this.hostname, ...(image.env ?? {}) };
    const defined: Record<string, string> = {};
    for (const from of c.envFrom ?? []) {
      const name = from.configMapRef?.name;
      const data = name === undefined ? undefined : configMaps.get(name);
      if (!data) throw new Error(`Cannot simulate envFrom of '${c.name}': ${JSON.stringify(from)} not found`);
      for (const [k, v] of Object.entries(data)) {
        defined[(from.prefix ?? "") + k] = env[(from.prefix ?? "") + k] = v;
      }
    }
    for (const e of c.env ?? []) {
      let value: string;
      if (e.valueFrom) {
        const path = e.valueFrom.fieldRef?.fieldPath;
        if (path === "metadata.name") value = this.name;
        else if (path === "metadata.namespace") value = namespace;
        else if (path === "status.podIP") value = this.ip;
        else {throw new Error(
            `Cannot simulate env '${e.name}' of '${c.name}': ${JSON.stringify(e.valueFrom)}`,
          );}
      } else {
        // $(VAR) expands only variables defined earlier in the same list; $$ escapes.
        value = String(e.value ?? "").replace(
          /\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
          (m, v) => m === "$$" ? "$" : v in defined ? defined[v] : m,
        );
      }
      defined[e.name] = value;
      env[e.name] = value;
    }
    this.#env.set(c.name, env);
    return env;
  }
}

/** A workload (StatefulSet or Deployment) and its controller. */
export class Workload {
  readonly kind: "StatefulSet" | "Deployment";
  readonly name: string;
  readonly object: K8sObject;
  readonly pods: SimPod[] = [];
  replicas: number;
  #hash = randomId(9);
  constructor(object: K8sObject) {
    this.kind = object.kind;
    this.name = object.metadata.name;
    this.object = object;
    this.replicas = object.spec.replicas ?? 1;
  }
  get policy(): "OrderedReady" | "Parallel" {
    return this.object.spec.podManagementPolicy ?? "OrderedReady";
  }
  get grace(): number {
    return this.object.spec.template.spec.terminationGracePeriodSeconds ?? 30;
  }
  /** @internal the next pod's name and pod spec (StatefulSet identity: hostname + subdomain). */
  nextPod(ordinal?: number): { name: string; spec: K8sObject } {
    const spec = structuredClone(this.object.spec.template.spec);
    if (this.kind === "StatefulSet") {
      const name = `${this.name}-${ordinal}`;
      spec.hostname = name;
      spec.subdomain = this.object.spec.serviceName;
      return { name, spec };
    }
    return { name: `${this.name}-${this.#hash}-${randomId(5)}`, spec };
  }
  /** @internal a new pod-template hash (a Deployment rollout). */
  rehash(): void {
    this.#hash = randomId(9);
  }
}

/** The simulated cluster; see {@link startKubelet}. */
export class Kubelet implements AsyncDisposable {
  readonly network: Network;
  readonly dns: Dns;
  readonly dir: string;
  readonly namespace: string;
  readonly secrets: Record<string, Record<string, string>>;
  readonly images: Record<string, ImageSpec>;
  readonly releaseRoot: string;
  readonly services: K8sObject[];
  readonly configMaps: Map<string, Record<string, string>>;
  readonly workloads: Workload[];
  readonly events: SimEvent[] = [];
  readonly denoDir: string;
  #t0 = performance.now();
  #publishing: Promise<unknown> = Promise.resolve();
  /** Network changes one at a time: the harness's Network writes one state file per change. */
  #netLock: Promise<unknown> = Promise.resolve();
  #destroyed?: Promise<void>;

  /** @internal */
  constructor(network: Network, dns: Dns, dir: string, denoDir: string, o: KubeletOptions) {
    this.network = network;
    this.dns = dns;
    this.dir = dir;
    this.denoDir = denoDir;
    this.namespace = o.namespace ?? "default";
    this.secrets = o.secrets;
    this.images = o.images;
    this.releaseRoot = o.releaseRoot;
    this.services = o.objects.filter((x) => x.kind === "Service");
    this.configMaps = new Map(
      o.objects.filter((x) => x.kind === "ConfigMap").map((x) => [x.metadata.name, x.data ?? {}]),
    );
    this.workloads = o.objects.filter((x) => x.kind === "StatefulSet" || x.kind === "Deployment")
      .map((x) => new Workload(x));
  }

  #event(pod: string, what: SimEvent["what"], detail?: string): void {
    this.events.push({ at: Math.round(performance.now() - this.#t0), pod, what, detail });
  }

  /** The workload of that kind (the only one). */
  workload(kind?: "StatefulSet" | "Deployment"): Workload {
    const w = this.workloads.find((x) => !kind || x.kind === kind);
    if (!w) throw new Error(`Cannot find a ${kind ?? "workload"} in the rendered objects`);
    return w;
  }

  /** Every live pod of every workload. */
  get pods(): SimPod[] {
    return this.workloads.flatMap((w) => w.pods.filter((p) => !p.gone));
  }

  /** Node names (`NODE_NAME`, else `ERLANG_NODENAME`, of the first container) of the live, Ready pods. */
  readyNodes(): string[] {
    return this.pods.filter((p) => p.ready).map((p) => nodeOf(p)).filter((n): n is string => !!n).sort();
  }

  /** Republishes every headless Service's endpoints as the endpoints controller and CoreDNS would. */
  publish(): Promise<void> {
    const p = this.#publishing.then(async () => {
      for (const svc of this.services) {
        if (svc.spec?.clusterIP !== "None") continue;
        const selector: Record<string, string> = svc.spec.selector ?? {};
        const notReady = svc.spec.publishNotReadyAddresses === true;
        const members = this.workloads.flatMap((w) => w.pods).filter((p) =>
          !p.gone && p.ip && !p.failed &&
          Object.entries(selector).every(([k, v]) => p.labels[k] === v) &&
          (notReady || (p.ready && !p.terminating))
        );
        const port = svc.spec.ports?.[0];
        const named = port ? this.#targetPort(members[0], port) : undefined;
        const sts = members.length > 0 && members.every((p) => p.subdomain === svc.metadata.name);
        const spec: ServiceSpec = {
          name: svc.metadata.name,
          namespace: this.namespace,
          kind: sts ? "statefulset" : "deployment",
          pods: members.map((p) => ({ host: p.hostname, ip: p.ip })),
          port: named ?? port?.port ?? 4369,
          portName: port?.name ?? "epmd",
        };
        await this.dns.publish(spec);
      }
    });
    this.#publishing = p.catch(() => {});
    return p;
  }

  #targetPort(pod: SimPod | undefined, port: K8sObject): number | undefined {
    if (typeof port.targetPort === "number") return port.targetPort;
    if (!pod || typeof port.targetPort !== "string") return port.port;
    for (const c of pod.spec.containers) {
      for (const cp of c.ports ?? []) if (cp.name === port.targetPort) return cp.containerPort;
    }
    return port.port;
  }

  /** Creates the workloads' pods as their controllers would (`kubectl apply`). */
  async apply(): Promise<void> {
    for (const w of this.workloads) await this.scale(w, w.replicas);
  }

  /** Sets `replicas` and waits until the controller has converged (pods Ready, removed pods gone). */
  async scale(w: Workload, replicas: number, timeoutMs = 90_000): Promise<void> {
    w.replicas = replicas;
    const live = () => w.pods.filter((p) => !p.gone && !p.terminating);
    if (w.kind === "StatefulSet") {
      const ordinal = (p: SimPod) => Number(p.name.slice(w.name.length + 1));
      const missing = () => {
        const have = new Set(live().map(ordinal));
        return [...Array(replicas).keys()].filter((i) => !have.has(i));
      };
      if (w.policy === "OrderedReady") {
        for (const i of missing()) {
          const pod = await this.#createPod(w, i);
          await this.#waitReady(pod, timeoutMs);
        }
        for (
          const p of live().filter((p) => ordinal(p) >= replicas).sort((a, b) => ordinal(b) - ordinal(a))
        ) {
          await this.deletePod(p);
        }
      } else {
        const created = await Promise.all(missing().map((i) => this.#createPod(w, i)));
        await Promise.all([
          ...created.map((p) => this.#waitReady(p, timeoutMs)),
          ...live().filter((p) => ordinal(p) >= replicas).map((p) => this.deletePod(p)),
        ]);
      }
    } else {
      const n = live().length;
      const created = await Promise.all(
        [...Array(Math.max(0, replicas - n)).keys()].map(() => this.#createPod(w)),
      );
      const extra = live().slice(0, Math.max(0, n - replicas)).reverse();
      await Promise.all([
        ...created.map((p) => this.#waitReady(p, timeoutMs)),
        ...extra.map((p) => this.deletePod(p)),
      ]);
    }
  }

  /**
   * `kubectl rollout restart`: StatefulSet pods are replaced one at a time from the highest ordinal, each
   * Ready before the next; Deployment pods are surged one at a time (new Ready, then an old one deleted).
   */
  async rolloutRestart(w: Workload, timeoutMs = 90_000): Promise<void> {
    const old = w.pods.filter((p) => !p.gone && !p.terminating);
    if (w.kind === "StatefulSet") {
      const ordinal = (p: SimPod) => Number(p.name.slice(w.name.length + 1));
      for (const p of old.sort((a, b) => ordinal(b) - ordinal(a))) {
        await this.deletePod(p);
        const fresh = await this.#createPod(w, ordinal(p));
        await this.#waitReady(fresh, timeoutMs);
      }
    } else {
      w.rehash();
      for (const p of old) {
        const fresh = await this.#createPod(w);
        await this.#waitReady(fresh, timeoutMs);
        await this.deletePod(p);
      }
    }
  }

  #netSerial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#netLock.then(fn);
    this.#netLock = p.catch(() => {});
    return p;
  }

  async #waitReady(pod: SimPod, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pod.ready) {
      if (pod.failed) throw new Error(`Pod '${pod.name}' failed: ${pod.failed}\n${pod.log()}`);
      if (Date.now() > end) {
        throw new Error(`Pod '${pod.name}' not Ready within ${timeoutMs} ms\n${pod.log()}`);
      }
      await sleep(50);
    }
  }

  async #createPod(w: Workload, ordinal?: number): Promise<SimPod> {
    const { name, spec } = w.nextPod(ordinal);
    const labels = w.object.spec.template.metadata?.labels ?? {};
    const pod = new SimPod(name, w, spec, labels);
    w.pods.push(pod);
    const svcDomain = pod.subdomain ? `${pod.subdomain}.${this.namespace}.svc.${this.dns.zone}` : undefined;
    pod.fqdn = svcDomain ? `${pod.hostname}.${svcDomain}` : undefined;
    const net = await this.#netSerial(() =>
      this.network.addPod(name, {
        fqdn: pod.fqdn,
        hostname: pod.hostname,
        namespace: this.namespace,
        zone: this.dns.zone,
      })
    );
    pod.ip = net.ip;
    pod.netns = net.netns;
    await pod.prepareVolumes(this);
    this.#event(name, "created", pod.ip);
    await this.publish(); // an IP: listed now if the Service publishes not-ready addresses
    pod.running = this.#runPod(pod).catch((e) => {
      pod.failed = String(e?.message ?? e);
      this.#event(name, "failed", pod.failed);
    });
    return pod;
  }

  async #runPod(pod: SimPod): Promise<void> {
    for (const c of pod.initContainers) {
      for (let attempt = 0;; attempt++) {
        if (pod.abort.signal.aborted) return;
        const proc = this.#spawn(pod, c.spec);
        c.proc = proc;
        const s = await proc.status;
        c.output.push(...proc.lines);
        c.proc = undefined;
        if (s.success) break;
        c.restarts++;
        if (attempt >= 3) {
          throw new Error(`init container '${c.name}' failed ${attempt + 1} times (exit ${s.code})`);
        }
        await sleep(1000 * 2 ** attempt, pod.abort.signal); // kubelet back-off, shortened
      }
    }
    this.#event(pod.name, "init-done");
    await Promise.all(pod.containers.map((c) => this.#runContainer(pod, c)));
  }

  async #runContainer(pod: SimPod, c: SimContainer): Promise<void> {
    while (!pod.abort.signal.aborted) {
      c.startupDone = !c.spec.startupProbe;
      c.ready = false;
      const proc = this.#spawn(pod, c.spec);
      c.proc = proc;
      c.started = true;
      this.#event(pod.name, "started", c.name);
      const restart = new AbortController();
      const stop = AbortSignal.any([restart.signal, pod.abort.signal]);
      const probes = [
        this.#probeLoop(pod, c, "startup", stop, () => restart.abort()),
        this.#probeLoop(pod, c, "readiness", stop, () => {}),
        this.#probeLoop(pod, c, "liveness", stop, () => restart.abort()),
      ];
      const exited = proc.status.then(() => restart.abort());
      await aborted(stop);
      await Promise.all(probes);
      if (pod.abort.signal.aborted) {
        await exited;
        return;
      }
      // A failed liveness/startup probe or an exit: kill (grace, then SIGKILL) and start again.
      await this.#stopProc(proc, pod.owner.grace);
      c.output.push(...proc.lines);
      c.restarts++;
      if (c.ready) await this.#setReady(pod, c, false);
      this.#event(pod.name, "restarted", c.name);
      await sleep(1000, pod.abort.signal);
    }
  }

  async #setReady(pod: SimPod, c: SimContainer, ready: boolean): Promise<void> {
    const before = pod.ready;
    c.ready = ready;
    if (pod.ready !== before) {
      this.#event(pod.name, pod.ready ? "ready" : "unready");
      await this.publish();
    }
  }

  async #probeLoop(
    pod: SimPod,
    c: SimContainer,
    kind: "startup" | "readiness" | "liveness",
    stop: AbortSignal,
    onFailure: () => void,
  ): Promise<void> {
    const probe = c.spec[`${kind}Probe`];
    if (!probe) {
      if (kind === "readiness") {
        while (!c.startupDone && !stop.aborted) await sleep(50, stop);
        if (!stop.aborted) await this.#setReady(pod, c, true);
      }
      return;
    }
    const period = (probe.periodSeconds ?? 10) * 1000;
    const timeout = (probe.timeoutSeconds ?? 1) * 1000;
    const failureThreshold = probe.failureThreshold ?? 3;
    const successThreshold = probe.successThreshold ?? 1;
    await sleep((probe.initialDelaySeconds ?? 0) * 1000, stop);
    let oks = 0;
    let fails = 0;
    while (!stop.aborted) {
      const skip = kind !== "startup" && !c.startupDone;
      if (!skip && !(kind === "startup" && c.startupDone)) {
        const ok = await this.#execProbe(pod, c, probe, timeout, kind);
        if (stop.aborted) return;
        if (ok) {
          oks++;
          fails = 0;
        } else {
          fails++;
          oks = 0;
        }
        if (kind === "startup") {
          if (ok) c.startupDone = true;
          else if (fails >= failureThreshold) return onFailure();
        } else if (kind === "readiness") {
          if (ok && oks >= successThreshold && !c.ready) await this.#setReady(pod, c, true);
          if (!ok && fails >= failureThreshold && c.ready) await this.#setReady(pod, c, false);
        } else if (!ok && fails >= failureThreshold) {
          return onFailure();
        }
      }
      if (kind === "startup" && c.startupDone) return;
      await sleep(period, stop);
    }
  }

  async #execProbe(
    pod: SimPod,
    c: SimContainer,
    probe: K8sObject,
    timeoutMs: number,
    kind: string,
  ): Promise<boolean> {
    if (!probe.exec) throw new Error(`Cannot simulate the ${kind} probe of '${c.name}': only exec probes`);
    const proc = this.#spawn(pod, { ...c.spec, command: probe.exec.command, args: [] });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
    const s = await Promise.race([proc.status, timedOut]);
    clearTimeout(timer);
    if (s === "timeout") {
      proc.killGroup("SIGKILL");
      await proc.status;
    }
    const ok = s !== "timeout" && s.success;
    c.probes.push({
      kind,
      ok,
      detail: s === "timeout" ? "timeout" : `exit ${s.code}: ${proc.lines.join(" ")}`,
    });
    if (c.probes.length > 500) c.probes.splice(0, c.probes.length - 500);
    return ok;
  }

  /** Runs a container's command + args (or a probe's command) in the pod, as its user, paths mapped. */
  #spawn(pod: SimPod, c: K8sObject): Proc {
    const image = this.images[imageName(c.image)];
    if (!image) throw new Error(`Cannot run '${c.name}': unknown image '${c.image}'`);
    const env = pod.environment(c, image, this.namespace, this.configMaps);
    const mounts = pod.mounts(c);
    const map = (s: string): string => {
      for (const m of mounts) {
        if (s === m.path || s.startsWith(m.path + "/")) return m.host + s.slice(m.path.length);
      }
      if (image.releasePath && (s === image.releasePath || s.startsWith(image.releasePath + "/"))) {
        return this.releaseRoot + s.slice(image.releasePath.length);
      }
      return s;
    };
    const argv: string[] = [...(c.command ?? []), ...(c.args ?? [])];
    const cmd = imageCommand(c.name, c.image, image, argv, map);
    const sc = { ...(pod.spec.securityContext ?? {}), ...(c.securityContext ?? {}) };
    const uid: number = sc.runAsUser ?? image.user ?? 65532;
    const gid: number = sc.runAsGroup ?? uid;
    if (sc.runAsNonRoot && uid === 0) throw new Error(`Cannot run '${c.name}': runAsNonRoot with uid 0`);
    const mapped = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, map(v)]));
    const dropAll = (sc.capabilities?.drop ?? []).includes("ALL");
    return spawnContainer({
      network: this.network,
      pod: pod.name,
      hostname: pod.hostname,
      uid,
      gid,
      groups: sc.fsGroup !== undefined ? [sc.fsGroup] : [],
      dropCapabilities: dropAll || uid !== 0,
      env: mapped,
      denoDir: this.denoDir,
      cmd,
    });
  }

  async #stopProc(proc: Proc, graceSeconds: number): Promise<void> {
    await stopProc(proc, graceSeconds);
  }

  /**
   * Deletes a pod: it leaves DNS at once (unless the Service publishes not-ready addresses), every container
   * gets SIGTERM, then SIGKILL after the grace period; then its IP is released and it leaves DNS for good.
   */
  async deletePod(pod: SimPod): Promise<void> {
    if (pod.terminating || pod.gone) return;
    pod.terminating = true;
    this.#event(pod.name, "terminating");
    await this.publish();
    pod.abort.abort();
    const procs = [...pod.initContainers, ...pod.containers].map((c) => c.proc).filter((p): p is Proc => !!p);
    await Promise.all(procs.map((p) => this.#stopProc(p, pod.owner.grace)));
    await pod.running;
    for (const c of pod.containers) if (c.proc) c.output.push(...c.proc.lines);
    pod.gone = true;
    this.#event(pod.name, "gone");
    await this.#netSerial(() => this.network.removePod(pod.name));
    await this.publish();
  }

  /**
   * `kubectl exec POD -c CONTAINER -- ARGV…`: runs `argv` in the container (its image, user, environment and
   * mounts) to completion; its exit code and output (stdout and stderr, in order of arrival).
   */
  async exec(
    pod: SimPod,
    container: string,
    argv: string[],
    timeoutMs = 30_000,
  ): Promise<{ code: number; output: string }> {
    const c = pod.containers.find((x) => x.name === container);
    if (!c) throw new Error(`Cannot exec in '${pod.name}': no container '${container}'`);
    const proc = this.#spawn(pod, { ...c.spec, command: argv, args: [] });
    return await proc.completion(timeoutMs, `'${argv.join(" ")}' in '${pod.name}'`);
  }

  /** The exit status of a container's last run (after {@link deletePod}), if it ran. */
  static async exitOf(c: SimContainer): Promise<Deno.CommandStatus | undefined> {
    return await c.proc?.status;
  }

  /** Deletes every pod and stops DNS and the network. Idempotent. */
  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      for (const p of this.pods) {
        p.abort.abort();
        for (const c of [...p.initContainers, ...p.containers]) c.proc?.killGroup("SIGKILL");
      }
      await this.dns.stop().catch(() => {});
      await this.network.destroy().catch(() => {}); // kills whatever is left in the pods
      await Promise.all(this.pods.map((p) => p.running?.catch(() => {})));
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
    return this.#destroyed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}

/** SIGTERM to the container's main process, SIGKILL to all of it after `graceSeconds`; its exit status. */
export async function stopProc(proc: Proc, graceSeconds: number): Promise<Deno.CommandStatus> {
  if (!proc.exited) {
    proc.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const t = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), graceSeconds * 1000));
    const s = await Promise.race([proc.status, t]);
    clearTimeout(timer);
    if (s === "timeout") proc.killGroup("SIGKILL");
  }
  return await proc.status;
}

/**
 * The command that runs `argv` of a container of `image` on the test machine: `/usr/local/bin/erlmesh` is
 * erlmesh from source, a program of the release is the test release's, `install` is the system's; every
 * argument goes through `map` (mount paths and the release folder).
 */
export function imageCommand(
  name: string,
  ref: string,
  image: ImageSpec,
  argv: string[],
  map: (s: string) => string,
): string[] {
  if (argv.length === 0) throw new Error(`Cannot run '${name}': no command (the image's entrypoint)`);
  if (argv[0] === "/usr/local/bin/erlmesh") {
    if (!image.erlmesh) throw new Error(`Cannot run '${name}': image '${ref}' has no /usr/local/bin/erlmesh`);
    return erlmeshArgv(argv.slice(1).map(map));
  }
  if (image.releasePath && argv[0].startsWith(image.releasePath + "/")) return argv.map(map);
  if (["install", "sh", "cat", "true"].includes(argv[0])) return argv.map(map);
  throw new Error(`Cannot run '${name}': '${argv[0]}' is not in image '${ref}'`);
}

/** Options of {@link spawnContainer}. */
export interface SpawnOptions {
  /** The network and pod to run in; none: no network namespace (Compose's `network_mode: none`). */
  network?: Network;
  pod?: string;
  hostname?: string;
  uid: number;
  gid: number;
  /** Supplementary groups (the pod's fsGroup). */
  groups: number[];
  /** Drop every capability (a non-root user has none anyway). */
  dropCapabilities: boolean;
  /** The whole environment (paths already mapped). */
  env: Record<string, string>;
  /** Deno's cache for erlmesh run from source. */
  denoDir: string;
  /** The command on the test machine ({@link imageCommand}). */
  cmd: string[];
}

/**
 * Starts a container's process: own process group (setsid), the user and groups (setpriv, no new
 * privileges), exactly `env` (plus DENO_DIR, because erlmesh runs from source), in the pod's network
 * namespace with the pod's hostname.
 */
export function spawnContainer(o: SpawnOptions): Proc {
  const envArgs = Object.entries({ ...o.env, DENO_DIR: o.denoDir, NO_COLOR: "1" }).map(([k, v]) =>
    `${k}=${v}`
  );
  const inner = [
    "setsid",
    "setpriv",
    `--reuid=${o.uid}`,
    `--regid=${o.gid}`,
    o.groups.length ? `--groups=${o.groups.join(",")}` : "--clear-groups",
    "--no-new-privs",
    ...(o.dropCapabilities ? ["--inh-caps=-all", "--bounding-set=-all"] : []),
    "env",
    "-i",
    ...envArgs,
    ...o.cmd,
  ];
  const full = o.network && o.pod ? o.network.command(o.pod, inner, o.hostname) : inner;
  const child = new Deno.Command(full[0], {
    args: full.slice(1),
    clearEnv: true,
    env: { PATH: IMAGE_PATH },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new Proc(child);
}

/** The node name a pod's release runs as: NODE_NAME, ERLANG_NODENAME, or basename@host of a container. */
export function nodeOf(pod: SimPod): string | undefined {
  for (const c of pod.containers) {
    const env = pod.env(c.name);
    if (env.NODE_NAME) return env.NODE_NAME;
    if (env.ERLANG_NODENAME) return env.ERLANG_NODENAME;
  }
  for (const c of pod.containers) {
    const env = pod.env(c.name);
    if (env.ERLMESH_BASENAME) return `${env.ERLMESH_BASENAME}@${pod.fqdn ?? pod.ip}`;
  }
  return undefined;
}

/**
 * A copy of Deno's npm cache that any uid may use (erlmesh runs from source as the pods' user; the image
 * would hold the compiled binary instead).
 */
export async function sharedDenoDir(dir: string): Promise<string> {
  const src = childEnv().DENO_DIR;
  const dst = `${dir}/deno`;
  await Deno.mkdir(dst);
  // Hard links where possible (same file system): no copy of the files, which every uid can read already.
  let r = await run(["cp", "-al", `${src}/npm`, `${dst}/npm`], { timeoutMs: 60_000 });
  if (!r.success) {
    await Deno.remove(`${dst}/npm`, { recursive: true }).catch(() => {});
    r = await run(["cp", "-a", `${src}/npm`, `${dst}/npm`], { timeoutMs: 60_000 });
    if (!r.success) throw new Error(`Cannot copy Deno's npm cache from '${src}': ${r.stderr.trim()}`);
    await run(["chmod", "-R", "a+rX", dst]);
  }
  await run(["find", dst, "-type", "d", "-exec", "chmod", "a+rwx", "{}", "+"]);
  return dst;
}

/** Starts the simulated cluster (network, DNS) for the objects; call {@link Kubelet.apply} to create pods. */
export async function startKubelet(o: KubeletOptions): Promise<Kubelet> {
  const why = kubeletUnavailableReason();
  if (why) throw new Error(`Cannot start the simulated kubelet: ${why}`);
  const network = await createNetwork();
  let dir: string | undefined;
  let dns: Dns | undefined;
  try {
    dns = await startDns(network);
    dir = await Deno.makeTempDir({ prefix: tempPrefix("kubelet") });
    await Deno.chmod(dir, 0o755);
    const denoDir = await sharedDenoDir(dir);
    const k = new Kubelet(network, dns, dir, denoDir, o);
    await k.publish();
    return k;
  } catch (e) {
    await dns?.stop().catch(() => {});
    await network.destroy().catch(() => {});
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}
