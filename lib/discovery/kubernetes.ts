/**
 * The `kubernetes` discovery source: the EndpointSlices (`discovery.k8s.io/v1`) of a Service, listed
 * and then watched through the Kubernetes API with the pod's in-cluster configuration.
 * @module
 */
import { canonicalIp } from "../bytes/address.ts";
import { after, type Disarm, sleep } from "../bytes/timer.ts";
import { DiscoveryError, type DiscoveryErrorCode } from "./errors.ts";
import {
  dashedIp,
  type DiscoveredHost,
  type Discovery,
  type DiscoverySource,
  normalizeHost,
  recordTypesOf,
  sortHosts,
} from "./source.ts";

/** Where a pod finds its service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The label the EndpointSlice controller puts on the slices of a Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** Options of {@link kubernetesSource}. */
export interface KubernetesSourceOptions {
  /** The Service's name (one DNS label, such as `app`). */
  service: string;
  /** The namespace of the Service (the pod's own). */
  namespace: string;
  /**
   * The cluster DNS zone, for the FQDN of an endpoint with a `hostname`.
   * @default {"cluster.local"}
   */
  clusterDomain?: string;
  /**
   * The API server, `https://host:port` (in a pod: `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`).
   */
  apiUrl: string;
  /**
   * The directory holding `token` (read again before every request, so rotated bound tokens are picked
   * up) and `ca.crt` (the CA the API server's certificate chains to).
   * @default {SERVICE_ACCOUNT_DIR}
   */
  serviceAccountDir?: string;
  /**
   * How an endpoint becomes a host, as the DNS sources do: `auto` takes an endpoint with a `hostname`
   * (a StatefulSet pod) as its FQDN `<hostname>.<service>.<namespace>.svc.<zone>` (the SRV target DNS
   * gives) and one without as its IP (the A record DNS gives); `fqdn` gives an endpoint without a
   * hostname its dashed name `10-244-0-7.<service>.<namespace>.svc.<zone>`; `ip` always takes the IP.
   * @default {"auto"}
   */
  hostForm?: "auto" | "fqdn" | "ip";
  /**
   * The address family of the nodes: only slices of this `addressType` give IP hosts (a dual-stack
   * Service has a slice per family; the other family would name nodes that do not exist). Endpoints
   * named by their hostname are taken from slices of either family.
   * @default {"IPv4"}
   */
  addressType?: "IPv4" | "IPv6";
  /**
   * The deadline of a list request, and of a watch request until its response headers, in ms.
   * @default {5000}
   */
  requestTimeoutMs?: number;
  /**
   * The watch's `timeoutSeconds`: the API server ends the watch after this long, and the source starts
   * the next one from the last resource version (a random 0–25 % is added, so pods spread out).
   * @default {60}
   */
  watchTimeoutSeconds?: number;
  /**
   * A watch that sends nothing for this long after its `timeoutSeconds` is taken as dead (a cut
   * connection without a reset) and started again, in ms.
   * @default {15000}
   */
  idleGraceMs?: number;
  /**
   * The first reconnect delay after a failure, doubled up to `maxBackoffMs`; each delay is drawn
   * between half of it and all of it (jitter).
   * @default {500}
   */
  backoffMs?: number;
  /**
   * The longest reconnect delay, in ms.
   * @default {30000}
   */
  maxBackoffMs?: number;
  /**
   * Asked instead when the API refuses this source (403): typically the DNS source of the same
   * Service. Without it, a refusal is an error naming the missing permission.
   */
  fallback?: DiscoverySource;
}

/** What a 403 from the API server says is missing. */
export interface MissingPermission {
  /** `list` or `watch`. */
  verb: string;
  /** `endpointslices`. */
  resource: string;
  /** `discovery.k8s.io`. */
  group: string;
  /** The namespace of the Service. */
  namespace: string;
}

/**
 * The API server refused a request of the `kubernetes` source (HTTP 403): the pod's service account
 * lacks a permission. {@link KubernetesForbiddenError.permission} names it.
 */
export class KubernetesForbiddenError extends DiscoveryError {
  /** The permission the service account lacks. */
  readonly permission: MissingPermission;

  /** `detail` is the API server's own message (it names the service account). */
  constructor(permission: MissingPermission, detail: string, query: string) {
    const p = permission;
    super(
      "FORBIDDEN",
      `Cannot ${p.verb} ${p.resource}.${p.group} in namespace '${p.namespace}': the API server refused ` +
        `(403 Forbidden: '${detail}'); grant the pod's service account a Role with verbs 'list' and 'watch' ` +
        `on resource '${p.resource}' in API group '${p.group}' in namespace '${p.namespace}', bound by a ` +
        `RoleBinding (deploy/k8s/components/kubernetes-api)`,
      { query },
    );
    this.permission = permission;
  }
}

// ---------------------------------------------------------------------------------------------
// The API objects this source reads (only the fields it uses).

/** An EndpointSlice as the API serves it (`discovery.k8s.io/v1`), the fields this source reads. */
export interface EndpointSliceObject {
  /** Its name (unique in the namespace), resource version and labels. */
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> };
  /** `IPv4`, `IPv6` or `FQDN` (deprecated, never read). */
  addressType?: string;
  /** The endpoints: one address each, an optional `hostname`, and the conditions. */
  endpoints?: {
    addresses?: string[];
    hostname?: string;
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  }[] | null;
}

interface Status {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

/**
 * Whether an endpoint counts as a peer, from its conditions as `discovery.k8s.io/v1` defines them:
 *
 * - `terminating` (nil means false): the pod is being deleted. Such an endpoint never counts, whatever
 *   `ready` says: with `publishNotReadyAddresses` the controller sets `ready` true for every pod, a
 *   terminating one too, and a node shutting down must not be dialled again.
 * - `ready` (nil means true): the Service's own word on whether the endpoint receives traffic. Without
 *   `publishNotReadyAddresses` it is `serving && !terminating`, so a pod counts from the moment it is
 *   Ready; with it, `ready` is true for pods that are not Ready yet (neither serving nor ready as a
 *   pod), and they count, exactly as the Service's DNS records list them: `--readiness meshed` needs
 *   peers to see a pod before it is Ready.
 * - `serving` (nil defers to `ready`) is `ready` without regard to terminating: it tells only about
 *   terminating endpoints, which never count, so it does not change the decision.
 *
 * So: an endpoint counts when `terminating` is not true and `ready` is not false.
 */
export function endpointCounts(
  conditions: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } | undefined,
): boolean {
  if (conditions?.terminating === true) return false;
  return conditions?.ready !== false;
}

/**
 * The hosts of a Service's EndpointSlices, joined (one slice per address family and port set, and more
 * above 100 endpoints), sorted and deduplicated; see {@link KubernetesSourceOptions.hostForm} and
 * {@link endpointCounts}.
 */
export function hostsOfSlices(
  slices: Iterable<EndpointSliceObject>,
  options: {
    service: string;
    namespace: string;
    clusterDomain?: string;
    hostForm?: "auto" | "fqdn" | "ip";
    addressType?: "IPv4" | "IPv6";
  },
): DiscoveredHost[] {
  const domain = `${options.service}.${options.namespace}.svc.${options.clusterDomain ?? "cluster.local"}`;
  const form = options.hostForm ?? "auto";
  const family = options.addressType ?? "IPv4";
  const hosts: DiscoveredHost[] = [];
  for (const slice of slices) {
    // addressType FQDN (deprecated) names no pod; only IPv4 and IPv6 slices are read. The JSON is not
    // validated before: a slice or endpoint that is not an object, endpoints that are not a list, an
    // address or hostname that is not a string (none of which the API sends) are skipped.
    if (slice?.addressType !== "IPv4" && slice?.addressType !== "IPv6") continue;
    const ours = slice.addressType === family;
    for (const ep of Array.isArray(slice.endpoints) ? slice.endpoints : []) {
      if (typeof ep !== "object" || ep === null || !endpointCounts(ep.conditions)) continue;
      // The controller puts one address per endpoint; the API says all are fungible.
      const first: unknown = Array.isArray(ep.addresses) ? ep.addresses[0] : undefined;
      const ip = typeof first === "string" ? canonicalIp(first) : undefined;
      if (ip === undefined) continue;
      const address = ours ? { address: ip } : {};
      if (typeof ep.hostname === "string" && ep.hostname && form !== "ip") {
        const host = normalizeHost(`${ep.hostname}.${domain}`);
        if (host !== undefined) hosts.push({ host, ...address, via: "EndpointSlice" });
      } else if (ours) {
        const host = form === "fqdn" ? `${dashedIp(ip)}.${domain}` : ip;
        hosts.push({ host, address: ip, via: "EndpointSlice" });
      }
    }
  }
  return sortHosts(hosts);
}

// ---------------------------------------------------------------------------------------------
// HTTP

class ApiFailure extends Error {
  constructor(readonly code: DiscoveryErrorCode, message: string, readonly status?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** 410 Gone: the resource version (or a list's continue token) is too old; its message is the reason. */
class Gone extends Error {
  constructor() {
    super("the API server answered 410 Gone: the resource version or continue token is too old");
  }
}

/**
 * The largest list page (bytes) and watch event (characters) read: an EndpointSlice holds at most 1000
 * endpoints, a few hundred KiB, so this is never reached by a real API server, and bounds the memory one
 * that misbehaves can take.
 */
const MAX_RESPONSE = 32 * 1024 * 1024;

/** The body of `res` as text, failing beyond `max` bytes (the rest is not read). */
async function boundedText(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new Error(`it is over ${max} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** What a JSON value is, for messages: `null`, `an array`, `a number`, ... */
function jsonKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** Resolves `ms` from now, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => {});
}

/** The view of one Service: its slices, the resource version, and the state of the list/watch. */
interface View {
  slices: Map<string, EndpointSliceObject>;
  hosts: DiscoveredHost[];
  key: string;
}

/**
 * A source that reads the EndpointSlices of a Service through the Kubernetes API.
 *
 * Without a subscriber, each {@link DiscoverySource.discover} call is one list request (one-shot
 * commands: `discover`, `status`, `wait`). Once {@link DiscoverySource.subscribe}d (the agent), it lists
 * once and then watches from the list's resource version, with bookmarks: `discover()` answers from
 * the joined view at once, with no request, and the subscriber is called on every change. A watch that
 * ends (its `timeoutSeconds`) is started again from the last resource version; `410 Gone` (as the
 * response or as an `ERROR` event) starts a fresh list; any other failure reconnects after a backoff
 * with jitter, keeping the last view (`stale: true` with the error meanwhile). Every request has a
 * deadline, and a watch that goes silent past its `timeoutSeconds` is dropped.
 *
 * A 403 is a {@link KubernetesForbiddenError} naming the missing permission; with `fallback`, the
 * fallback source answers instead (with that error attached) while the API keeps being asked at the
 * backoff's pace, and the watch takes over again once the permission is granted.
 *
 * @example
 * ```ts
 * import { kubernetesSource } from "./kubernetes.ts";
 * const source = kubernetesSource({ service: "app", namespace: "default", apiUrl: "https://10.96.0.1:443" });
 * const stop = source.subscribe!(() => console.log("changed"));
 * console.log((await source.discover()).hosts);
 * stop();
 * ```
 */
export function kubernetesSource(options: KubernetesSourceOptions): DiscoverySource {
  return new KubernetesSource(options);
}

class KubernetesSource implements DiscoverySource {
  readonly kind = "kubernetes" as const;
  readonly description: string;
  readonly #o: Required<Omit<KubernetesSourceOptions, "fallback">> & { fallback?: DiscoverySource };
  readonly #path: string;
  #client: Deno.HttpClient | undefined;
  #listeners = new Set<() => void>();
  #loop: { controller: AbortController; done: Promise<void> } | undefined;
  /** The joined view of the last good list (and the watch events since). */
  #view: View | undefined;
  #resourceVersion: string | undefined;
  /** The failure since the last good list or watch, if any. */
  #error: DiscoveryError | undefined;
  #forbidden: KubernetesForbiddenError | undefined;
  /** Requests since the last discover() call. */
  #requests = 0;
  /** Resolved when the watch loop has a first answer (a list, or a failure). */
  #firstAnswer: { promise: Promise<void>; resolve: () => void } | undefined;
  /** When the server accepted the current watch: a break a while after that starts the backoff afresh. */
  #watchAcceptedAt: number | undefined;

  constructor(options: KubernetesSourceOptions) {
    this.#o = {
      clusterDomain: "cluster.local",
      serviceAccountDir: SERVICE_ACCOUNT_DIR,
      hostForm: "auto",
      addressType: "IPv4",
      requestTimeoutMs: 5000,
      watchTimeoutSeconds: 60,
      idleGraceMs: 15000,
      backoffMs: 500,
      maxBackoffMs: 30000,
      ...options,
    };
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(options.service)) {
      throw new DiscoveryError(
        "CONFIG",
        `Invalid Service name '${options.service}' for discovery 'kubernetes': expected one DNS label such as 'app'`,
      );
    }
    const api = this.#o.apiUrl.replace(/\/+$/, "");
    this.#o.apiUrl = api;
    this.#path = `/apis/discovery.k8s.io/v1/namespaces/${
      encodeURIComponent(options.namespace)
    }/endpointslices`;
    this.description = `Kubernetes EndpointSlices of Service '${options.service}' in namespace ` +
      `'${options.namespace}' at ${api}${
        options.fallback ? ` (fallback: ${options.fallback.description})` : ""
      }`;
  }

  // -- DiscoverySource ------------------------------------------------------------------------

  async discover(signal?: AbortSignal): Promise<Discovery> {
    signal?.throwIfAborted();
    if (this.#loop) {
      if (this.#view === undefined && this.#error === undefined) {
        await this.#awaitFirst(signal);
        if (this.#view === undefined && this.#error === undefined) {
          // Not "no peers": nothing is known yet.
          const error = new DiscoveryError(
            "TIMEOUT",
            `Cannot list EndpointSlices at ${this.#o.apiUrl}: no answer within ${this.#o.requestTimeoutMs} ms`,
          );
          return { hosts: [], recordTypes: [], stale: false, error, queries: this.#takeRequests() };
        }
      }
    } else {
      // No watch: one list now.
      const controller = new AbortController();
      const abort = () => controller.abort(signal?.reason);
      signal?.addEventListener("abort", abort, { once: true });
      try {
        await this.#list(controller.signal);
        this.#error = undefined;
        this.#forbidden = undefined;
      } catch (err) {
        signal?.throwIfAborted();
        this.#failed(err);
      } finally {
        signal?.removeEventListener("abort", abort);
      }
    }
    return await this.#answer(signal);
  }

  subscribe(onChange: () => void): () => void {
    const listener = () => onChange();
    this.#listeners.add(listener);
    if (!this.#loop) {
      const controller = new AbortController();
      // #run handles its own failures; anything else still ends up as this source's error.
      this.#loop = { controller, done: this.#run(controller.signal).catch((err) => this.#failed(err)) };
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#loop) {
        this.#loop.controller.abort();
        this.#loop = undefined;
        this.#client?.close();
        this.#client = undefined;
      }
    };
  }

  // -- the answer -----------------------------------------------------------------------------

  #takeRequests(): number {
    const n = this.#requests;
    this.#requests = 0;
    return n;
  }

  async #answer(signal?: AbortSignal): Promise<Discovery> {
    const queries = this.#takeRequests();
    if (this.#forbidden && this.#o.fallback) {
      const fb = await this.#o.fallback.discover(signal);
      return { ...fb, error: this.#forbidden, queries: queries + fb.queries };
    }
    const hosts = structuredClone(this.#view?.hosts ?? []);
    const error = this.#error;
    return {
      hosts,
      recordTypes: recordTypesOf(hosts),
      stale: error !== undefined && this.#view !== undefined,
      ...(error ? { error } : {}),
      queries,
    };
  }

  async #awaitFirst(signal?: AbortSignal): Promise<void> {
    this.#firstAnswer ??= (() => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    })();
    const deadline = AbortSignal.timeout(this.#o.requestTimeoutMs);
    const both = signal ? AbortSignal.any([signal, deadline]) : deadline;
    await new Promise<void>((resolve) => {
      const done = () => {
        both.removeEventListener("abort", done);
        resolve();
      };
      both.addEventListener("abort", done, { once: true });
      this.#firstAnswer!.promise.then(done);
    });
    signal?.throwIfAborted();
  }

  #notify(): void {
    if (this.#view !== undefined || this.#error !== undefined) {
      this.#firstAnswer?.resolve();
      this.#firstAnswer = undefined;
    }
    for (const l of [...this.#listeners]) {
      queueMicrotask(() => {
        try {
          l();
        } catch { /* a subscriber's failure is its own */ }
      });
    }
  }

  #setSlices(slices: Map<string, EndpointSliceObject>): void {
    const hosts = hostsOfSlices(slices.values(), this.#o);
    const key = JSON.stringify(hosts);
    const changed = this.#view?.key !== key;
    this.#view = { slices, hosts, key };
    if (changed) this.#notify();
  }

  #failed(err: unknown): void {
    const query = `${this.#o.apiUrl}${this.#path}?labelSelector=${SERVICE_NAME_LABEL}=${this.#o.service}`;
    let error: DiscoveryError;
    if (err instanceof KubernetesForbiddenError) error = err;
    else if (err instanceof ApiFailure) {
      error = new DiscoveryError(err.code, err.message, { query, cause: err });
    } else if (err instanceof DiscoveryError) error = err;
    else {
      const why = err instanceof Error ? err.message : String(err);
      error = new DiscoveryError("API", `Cannot read EndpointSlices from ${this.#o.apiUrl}: ${why}`, {
        query,
        cause: err,
      });
    }
    const news = this.#error?.message !== error.message;
    this.#error = error;
    this.#forbidden = error instanceof KubernetesForbiddenError ? error : undefined;
    if (news) this.#notify();
  }

  #recovered(): void {
    if (this.#error === undefined) return;
    this.#error = undefined;
    this.#forbidden = undefined;
    this.#notify();
  }

  // -- list and watch -------------------------------------------------------------------------

  async #run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      this.#watchAcceptedAt = undefined;
      try {
        if (this.#resourceVersion === undefined) await this.#list(signal);
        this.#recovered();
        const startedAt = Date.now();
        await this.#watch(signal);
        // The watch ended as planned: the next one starts from the last resource version, at once; but a
        // server (or proxy) that ends every watch at once is not asked in a loop.
        if (Date.now() - startedAt >= 1000) {
          attempt = 0;
          continue;
        }
        attempt++;
      } catch (err) {
        if (signal.aborted) break;
        // A watch that ran a while before it broke was a success: the backoff starts afresh.
        if (this.#watchAcceptedAt !== undefined && Date.now() - this.#watchAcceptedAt >= 1000) attempt = 0;
        if (err instanceof Gone) {
          // The resource version is too old: list again, at once the first time.
          this.#resourceVersion = undefined;
          if (attempt++ === 0) continue;
        } else {
          this.#failed(err);
          attempt++;
        }
      }
      const ceiling = Math.min(this.#o.maxBackoffMs, this.#o.backoffMs * 2 ** Math.min(attempt - 1, 16));
      await pause(ceiling / 2 + Math.random() * ceiling / 2, signal);
    }
  }

  #url(params: Record<string, string>): string {
    const q = new URLSearchParams({ labelSelector: `${SERVICE_NAME_LABEL}=${this.#o.service}`, ...params });
    return `${this.#o.apiUrl}${this.#path}?${q}`;
  }

  async #headers(): Promise<Headers> {
    const dir = this.#o.serviceAccountDir;
    let token: string;
    try {
      // Read before every request: the kubelet rewrites a bound token before it expires.
      token = (await Deno.readTextFile(`${dir}/token`)).trim();
    } catch (err) {
      throw new ApiFailure(
        "CONFIG",
        `Cannot read the service-account token '${dir}/token': ${(err as Error).message}; ` +
          "is automountServiceAccountToken false for this pod?",
        undefined,
        err,
      );
    }
    return new Headers({ authorization: `Bearer ${token}`, accept: "application/json" });
  }

  async #httpClient(): Promise<Deno.HttpClient> {
    if (this.#client) return this.#client;
    const file = `${this.#o.serviceAccountDir}/ca.crt`;
    let ca: string;
    try {
      ca = await Deno.readTextFile(file);
    } catch (err) {
      throw new ApiFailure(
        "CONFIG",
        `Cannot read the API server's CA '${file}': ${(err as Error).message}`,
        undefined,
        err,
      );
    }
    this.#client = Deno.createHttpClient({ caCerts: [ca] });
    return this.#client;
  }

  /** One request with a deadline until the response headers; the caller reads (or cancels) the body. */
  async #request(url: string, verb: "list" | "watch", signal: AbortSignal, deadlineMs: number) {
    const headers = await this.#headers();
    const client = await this.#httpClient();
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const disarm = after(deadlineMs, () => controller.abort(new Error("deadline")));
    this.#requests++;
    let res: Response;
    try {
      res = await fetch(url, { headers, client, signal: controller.signal });
    } catch (err) {
      disarm();
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) throw err;
      const timeout = controller.signal.reason instanceof Error &&
        controller.signal.reason.message === "deadline";
      throw new ApiFailure(
        timeout ? "TIMEOUT" : "API",
        timeout
          ? `Cannot ${verb} EndpointSlices at ${this.#o.apiUrl}: no answer within ${deadlineMs} ms`
          : `Cannot ${verb} EndpointSlices at ${this.#o.apiUrl}: ${(err as Error).message}`,
        undefined,
        err,
      );
    }
    const release = () => {
      disarm();
      signal.removeEventListener("abort", onAbort);
    };
    if (!res.ok) {
      let status: Status = {};
      try {
        const body: unknown = await res.json();
        // A Status is an object with a string message; anything else (null, a list) is not one.
        if (typeof body === "object" && body !== null && !Array.isArray(body)) status = body as Status;
        if (typeof status.message !== "string") status = { ...status, message: undefined };
      } catch { /* not a Status */ }
      release();
      if (res.status === 410) throw new Gone();
      if (res.status === 403) {
        throw new KubernetesForbiddenError(
          { verb, resource: "endpointslices", group: "discovery.k8s.io", namespace: this.#o.namespace },
          status.message ?? res.statusText,
          url,
        );
      }
      throw new ApiFailure(
        res.status === 401 ? "UNAUTHORIZED" : "API",
        `Cannot ${verb} EndpointSlices at ${this.#o.apiUrl}: HTTP ${res.status}` +
          (status.message ? ` '${status.message}'` : "") +
          (res.status === 401
            ? " (the service-account token was not accepted; it is read again next time)"
            : ""),
        res.status,
      );
    }
    return { res, controller, release };
  }

  async #list(signal: AbortSignal): Promise<void> {
    const slices = new Map<string, EndpointSliceObject>();
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const { res, release } = await this.#request(
        this.#url({ limit: "500", ...(cont ? { continue: cont } : {}) }),
        "list",
        signal,
        this.#o.requestTimeoutMs,
      );
      let body: { metadata?: { resourceVersion?: string; continue?: string }; items?: EndpointSliceObject[] };
      try {
        body = JSON.parse(await boundedText(res, MAX_RESPONSE)); // still under the request's deadline
      } catch (err) {
        throw new ApiFailure(
          "API",
          `Cannot read the EndpointSlice list: ${(err as Error).message}`,
          200,
          err,
        );
      } finally {
        release();
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new ApiFailure(
          "API",
          `Cannot read the EndpointSlice list: the API server answered ${jsonKind(body)}, not a list object`,
          200,
        );
      }
      for (const item of Array.isArray(body.items) ? body.items : []) {
        // Skipped like every malformed slice (hostsOfSlices); the API never sends one.
        if (typeof item === "object" && item !== null) slices.set(item.metadata?.name ?? "", item);
      }
      rv = body.metadata?.resourceVersion;
      cont = body.metadata?.continue || undefined;
    } while (cont);
    this.#resourceVersion = rv;
    this.#setSlices(slices);
  }

  /** One watch, until the server ends it. Throws {@link Gone} on 410. */
  async #watch(signal: AbortSignal): Promise<void> {
    const timeoutSeconds = Math.round(this.#o.watchTimeoutSeconds * (1 + Math.random() / 4));
    const { res, controller, release } = await this.#request(
      this.#url({
        watch: "1",
        resourceVersion: this.#resourceVersion ?? "",
        allowWatchBookmarks: "true",
        timeoutSeconds: String(timeoutSeconds),
      }),
      "watch",
      signal,
      this.#o.requestTimeoutMs,
    );
    release();
    this.#watchAcceptedAt = Date.now();
    this.#recovered();
    // Silence past the watch's own end means a dead connection.
    const idleMs = timeoutSeconds * 1000 + this.#o.idleGraceMs;
    let lastData = performance.now();
    let disarmIdle: Disarm;
    const checkIdle = () => {
      const quiet = performance.now() - lastData;
      if (quiet >= idleMs) controller.abort(new Error("idle"));
      else disarmIdle = after(idleMs - quiet, checkIdle);
    };
    disarmIdle = after(idleMs, checkIdle);
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const slices = new Map(this.#view?.slices ?? []);
    // The text of the line not ended yet, in the pieces it came in (joined once its newline comes).
    const pending: string[] = [];
    let pendingLength = 0;
    try {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      try {
        while (true) {
          const { value, done } = await reader.read();
          if (done) break;
          lastData = performance.now();
          // Only the new text is searched for newlines: a line that never ends is neither searched
          // nor copied again and again.
          let start = 0;
          let nl: number;
          let changed = false;
          while ((nl = value.indexOf("\n", start)) >= 0) {
            const line = (pending.join("") + value.slice(start, nl)).trim();
            pending.length = 0;
            pendingLength = 0;
            start = nl + 1;
            if (line === "") continue;
            changed = this.#event(line, slices) || changed;
          }
          if (start < value.length) {
            pending.push(value.slice(start));
            pendingLength += value.length - start;
          }
          if (changed) this.#setSlices(new Map(slices));
          if (pendingLength > MAX_RESPONSE) {
            throw new ApiFailure(
              "API",
              `Cannot watch EndpointSlices at ${this.#o.apiUrl}: a watch event is over ${MAX_RESPONSE} characters`,
              200,
            );
          }
        }
      } finally {
        reader.releaseLock();
      }
    } catch (err) {
      if (err instanceof Gone || err instanceof ApiFailure || signal.aborted) throw err;
      const idleEnd = controller.signal.reason instanceof Error &&
        controller.signal.reason.message === "idle";
      throw new ApiFailure(
        idleEnd ? "TIMEOUT" : "API",
        idleEnd
          ? `Cannot watch EndpointSlices at ${this.#o.apiUrl}: nothing received for ${idleMs} ms`
          : `Cannot watch EndpointSlices at ${this.#o.apiUrl}: the stream broke: ${(err as Error).message}`,
        200,
        err,
      );
    } finally {
      disarmIdle();
      signal.removeEventListener("abort", onAbort);
      res.body?.cancel().catch(() => {});
    }
  }

  /** Applies one watch event; true when the slices changed. */
  #event(line: string, slices: Map<string, EndpointSliceObject>): boolean {
    let ev: { type?: string; object?: EndpointSliceObject & Status };
    try {
      ev = JSON.parse(line);
    } catch (err) {
      throw new ApiFailure("API", `Cannot parse a watch event: ${(err as Error).message}`, 200, err);
    }
    if (typeof ev !== "object" || ev === null || Array.isArray(ev)) {
      throw new ApiFailure("API", `Cannot parse a watch event: it is ${jsonKind(ev)}, not an object`, 200);
    }
    const obj = ev.object ?? {};
    if (ev.type === "ERROR") {
      if (obj.code === 410) throw new Gone();
      throw new ApiFailure(
        "API",
        `Cannot watch EndpointSlices at ${this.#o.apiUrl}: the API server sent an error: ` +
          `${obj.code ?? "?"} '${obj.message ?? obj.reason ?? ""}'`,
        obj.code,
      );
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.#resourceVersion = rv;
    const name = obj.metadata?.name ?? "";
    switch (ev.type) {
      case "ADDED":
      case "MODIFIED":
        slices.set(name, obj);
        return true;
      case "DELETED":
        return slices.delete(name);
      default: // BOOKMARK: only the resource version moves
        return false;
    }
  }
}
