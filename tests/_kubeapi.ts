/**
 * A small Kubernetes API server for tests: HTTPS with a per-run CA made by `openssl`, bearer tokens,
 * and `discovery.k8s.io/v1` EndpointSlices served as kube-apiserver documents them (API concepts,
 * "Efficient detection of changes"): a list with a resource version, watches streamed as chunked
 * JSON lines from a resource version, `BOOKMARK` events when asked for, `410 Gone` for a compacted
 * resource version (as the response or as an `ERROR` event), `timeoutSeconds`, a 403 Status naming
 * the missing permission, and slices split above 100 endpoints as the EndpointSlice controller does.
 * Every slice served is validated against the Kubernetes schema (`kubernetes-models`).
 *
 * In-process ({@link startKubeApi}) for unit tests on 127.0.0.1; as a child process in a network
 * namespace ({@link startKubeApiIn}) so that simulated pods reach it, driven over stdin/stdout.
 * @module
 */
import { EndpointSlice } from "kubernetes-models/discovery.k8s.io/v1";
import { tempPrefix } from "./_harness/prefix.ts";

/** A pod behind the Service, as the EndpointSlice controller sees it. */
export interface PodEndpoint {
  /** Pod name (the endpoint's `targetRef`). */
  name: string;
  /** Pod IP (IPv4 or IPv6). */
  ip: string;
  /** `spec.hostname` (StatefulSet pods: the pod name). */
  hostname?: string;
  /** The pod's Ready condition. */
  ready: boolean;
  /** The pod has a deletion timestamp. */
  terminating?: boolean;
}

/** Options of {@link KubeApi.setPods}. */
export interface ServiceOptions {
  /** The Service's `publishNotReadyAddresses`. @default false */
  publishNotReadyAddresses?: boolean;
  /** Endpoints per slice (the controller's `--max-endpoints-per-slice`). @default 100 */
  maxPerSlice?: number;
}

/** Request counters of the server. */
export interface KubeApiStats {
  lists: number;
  watches: number;
  unauthorized: number;
  forbidden: number;
  gone: number;
  bookmarks: number;
  /** Watches open now. */
  open: number;
}

/** What tests drive: the same methods in-process and in a child process. */
export interface KubeApiControl extends AsyncDisposable {
  /** `https://host:port`. */
  readonly url: string;
  /** The CA certificate file (PEM) the server's certificate chains to. */
  readonly caFile: string;
  /** Publishes the Service's endpoints: slices are added, modified and deleted as the controller would. */
  setPods(service: string, pods: PodEndpoint[], options?: ServiceOptions): Promise<void>;
  /** The bearer tokens accepted from now on. */
  setTokens(tokens: string[]): Promise<void>;
  /** While on, every EndpointSlice request gets a 403. */
  setForbidden(on: boolean): Promise<void>;
  /** Breaks every open watch in the middle of its chunked stream; the count broken. */
  cutWatches(): Promise<number>;
  /**
   * Makes every open watch go silent, as a connection dropped without a reset would: no event, no
   * bookmark, and no end at its `timeoutSeconds`; the count frozen.
   */
  freezeWatches(): Promise<number>;
  /** Forgets the event history: a watch from an older resource version gets `410 Gone`. */
  compact(): Promise<void>;
  /** Request counters. */
  stats(): Promise<KubeApiStats>;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Options of {@link startKubeApi}. */
export interface KubeApiOptions {
  /** The address to listen on (also the certificate's IP SAN). @default "127.0.0.1" */
  hostname?: string;
  /** The namespace served. @default "default" */
  namespace?: string;
  /** The accepted bearer tokens. @default ["token-1"] */
  tokens?: string[];
  /** A `BOOKMARK` every this many ms on watches that allow them. @default 1000 */
  bookmarkMs?: number;
  /** How a compacted resource version is answered: an `ERROR` event (as the watch cache does) or HTTP 410. @default "event" */
  goneAs?: "event" | "status";
  /** Items per list page when the client gives no `limit`, as `limit`/`continue` pages. @default unlimited */
  pageSize?: number;
  /** Ends every watch after at most this long, whatever its `timeoutSeconds` (0: at once, as a bad proxy would). */
  watchCapSeconds?: number;
}

type Resolved = Required<Omit<KubeApiOptions, "pageSize" | "watchCapSeconds">> & {
  pageSize?: number;
  watchCapSeconds?: number;
};

const GROUP = "discovery.k8s.io";
const API_VERSION = `${GROUP}/v1`;
const LABEL = "kubernetes.io/service-name";

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** A per-run CA and a server certificate for `ip`, in a fresh temp dir. */
async function makeCerts(ip: string): Promise<{ dir: string; ca: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: tempPrefix("kubeapi") });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=erlmesh test kubernetes CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl(dir, [
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=kube-apiserver",
  ]);
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n` +
      `subjectAltName=IP:${ip},DNS:kubernetes.default.svc\n`,
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  ]);
  return { dir, ca: `${dir}/ca.crt`, cert: `${dir}/server.crt`, key: `${dir}/server.key` };
}

interface Slice {
  name: string;
  service: string;
  rv: number;
  object: Record<string, unknown>;
}

interface HistoryEvent {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  slice: Slice;
}

interface Watcher {
  service: string;
  send(line: unknown): void;
  cut(): void;
  freeze(): void;
}

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): Response {
  return Response.json(
    { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, details, code },
    { status: code },
  );
}

/** The in-process server; see {@link startKubeApi}. */
class KubeApi implements KubeApiControl {
  readonly url: string;
  readonly caFile: string;
  #o: Resolved;
  #server: Deno.HttpServer;
  #dir: string;
  #tokens: Set<string>;
  #forbidden = false;
  #rv = 100;
  #compactedBelow = 0;
  #slices = new Map<string, Slice>();
  #history: HistoryEvent[] = [];
  #watchers = new Set<Watcher>();
  #stats: KubeApiStats = {
    lists: 0,
    watches: 0,
    unauthorized: 0,
    forbidden: 0,
    gone: 0,
    bookmarks: 0,
    open: 0,
  };

  constructor(o: Resolved, certs: { dir: string; ca: string; cert: string; key: string }) {
    this.#o = o;
    this.#dir = certs.dir;
    this.caFile = certs.ca;
    this.#tokens = new Set(o.tokens);
    this.#server = Deno.serve({
      hostname: o.hostname,
      port: 0,
      cert: Deno.readTextFileSync(certs.cert),
      key: Deno.readTextFileSync(certs.key),
      onListen: () => {},
    }, (req) => this.#handle(req));
    const host = o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname;
    this.url = `https://${host}:${(this.#server.addr as Deno.NetAddr).port}`;
  }

  // -- control ---------------------------------------------------------------------------------

  setPods(service: string, pods: PodEndpoint[], options: ServiceOptions = {}): Promise<void> {
    const max = options.maxPerSlice ?? 100;
    const wanted = new Map<string, Record<string, unknown>>();
    for (const family of ["IPv4", "IPv6"] as const) {
      const eps = pods
        .filter((p) => p.ip.includes(":") === (family === "IPv6"))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((p) => ({
          addresses: [p.ip],
          conditions: {
            // As the EndpointSlice controller sets them.
            ready: options.publishNotReadyAddresses === true || (p.ready && !p.terminating),
            serving: p.ready,
            terminating: p.terminating === true,
          },
          ...(p.hostname ? { hostname: p.hostname } : {}),
          targetRef: { kind: "Pod", name: p.name, namespace: this.#o.namespace },
        }));
      for (let i = 0; i * max < eps.length; i++) {
        const name = `${service}-${family.toLowerCase()}-${i}`;
        const object = {
          apiVersion: API_VERSION,
          kind: "EndpointSlice",
          metadata: {
            name,
            namespace: this.#o.namespace,
            labels: {
              [LABEL]: service,
              "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
          },
          addressType: family,
          endpoints: eps.slice(i * max, (i + 1) * max),
          ports: [{ name: "epmd", port: 4369, protocol: "TCP" }],
        };
        new EndpointSlice(object as ConstructorParameters<typeof EndpointSlice>[0]).validate();
        wanted.set(name, object);
      }
    }
    for (const [name, old] of [...this.#slices]) {
      if (old.service === service && !wanted.has(name)) {
        this.#slices.delete(name);
        this.#emit("DELETED", { ...old, rv: ++this.#rv });
      }
    }
    for (const [name, object] of wanted) {
      const old = this.#slices.get(name);
      if (old && JSON.stringify(old.object) === JSON.stringify(object)) continue;
      const slice = { name, service, rv: ++this.#rv, object };
      this.#slices.set(name, slice);
      this.#emit(old ? "MODIFIED" : "ADDED", slice);
    }
    return Promise.resolve();
  }

  setTokens(tokens: string[]): Promise<void> {
    this.#tokens = new Set(tokens);
    return Promise.resolve();
  }

  setForbidden(on: boolean): Promise<void> {
    this.#forbidden = on;
    return Promise.resolve();
  }

  freezeWatches(): Promise<number> {
    const all = [...this.#watchers];
    for (const w of all) w.freeze();
    return Promise.resolve(all.length);
  }

  cutWatches(): Promise<number> {
    const all = [...this.#watchers];
    for (const w of all) w.cut();
    return Promise.resolve(all.length);
  }

  compact(): Promise<void> {
    // Every resource version handed out so far expires; a fresh list gets a newer one.
    this.#compactedBelow = ++this.#rv;
    this.#history = [];
    return Promise.resolve();
  }

  stats(): Promise<KubeApiStats> {
    return Promise.resolve({ ...this.#stats, open: this.#watchers.size });
  }

  async close(): Promise<void> {
    for (const w of [...this.#watchers]) w.cut();
    await this.#server.shutdown();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // -- serving ---------------------------------------------------------------------------------

  #emit(type: HistoryEvent["type"], slice: Slice): void {
    this.#history.push({ rv: slice.rv, type, slice });
    for (const w of this.#watchers) if (w.service === slice.service) w.send(this.#eventOf(type, slice));
  }

  #objectOf(slice: Slice): Record<string, unknown> {
    const meta = slice.object.metadata as Record<string, unknown>;
    return { ...slice.object, metadata: { ...meta, resourceVersion: String(slice.rv) } };
  }

  #eventOf(type: string, slice: Slice): unknown {
    return { type, object: this.#objectOf(slice) };
  }

  #handle(req: Request): Response {
    const url = new URL(req.url);
    const path = `/apis/${API_VERSION}/namespaces/${this.#o.namespace}/endpointslices`;
    const auth = req.headers.get("authorization") ?? "";
    if (!auth.startsWith("Bearer ") || !this.#tokens.has(auth.slice(7))) {
      this.#stats.unauthorized++;
      return status(401, "Unauthorized", "Unauthorized");
    }
    if (url.pathname !== path || req.method !== "GET") {
      return status(404, "NotFound", `the server could not find the requested resource`);
    }
    const watch = url.searchParams.get("watch") === "1" || url.searchParams.get("watch") === "true";
    if (this.#forbidden) {
      this.#stats.forbidden++;
      const verb = watch ? "watch" : "list";
      return status(
        403,
        "Forbidden",
        `endpointslices.${GROUP} is forbidden: User "system:serviceaccount:${this.#o.namespace}:app" cannot ` +
          `${verb} resource "endpointslices" in API group "${GROUP}" in the namespace "${this.#o.namespace}"`,
        { group: GROUP, kind: "endpointslices" },
      );
    }
    const selector = url.searchParams.get("labelSelector") ?? "";
    const m = new RegExp(`^${LABEL.replace(/[./]/g, "\\$&")}=([a-z0-9-]+)$`).exec(selector);
    if (!m) return status(400, "BadRequest", `unable to parse requirement: '${selector}'`);
    const service = m[1];
    return watch ? this.#watch(url, service) : this.#list(url, service);
  }

  #list(url: URL, service: string): Response {
    this.#stats.lists++;
    const all = [...this.#slices.values()].filter((s) => s.service === service).sort((a, b) =>
      a.name.localeCompare(b.name)
    );
    const limit = Number(url.searchParams.get("limit") ?? 0) || this.#o.pageSize || all.length || 1;
    const page = Math.min(limit, this.#o.pageSize ?? limit);
    const from = Number(url.searchParams.get("continue") ?? 0);
    const items = all.slice(from, from + page).map((s) => this.#objectOf(s));
    const next = from + page < all.length ? String(from + page) : undefined;
    return Response.json({
      kind: "EndpointSliceList",
      apiVersion: API_VERSION,
      metadata: { resourceVersion: String(this.#rv), ...(next ? { continue: next } : {}) },
      items,
    });
  }

  #watch(url: URL, service: string): Response {
    this.#stats.watches++;
    const rvText = url.searchParams.get("resourceVersion") ?? "";
    const from = rvText === "" || rvText === "0" ? undefined : Number(rvText);
    const gone = from !== undefined && (Number.isNaN(from) || from < this.#compactedBelow);
    if (gone && this.#o.goneAs === "status") {
      this.#stats.gone++;
      return status(410, "Expired", `too old resource version: ${rvText} (${this.#compactedBelow})`);
    }
    const bookmarks = url.searchParams.get("allowWatchBookmarks") === "true";
    const timeoutS = Math.min(
      Number(url.searchParams.get("timeoutSeconds") ?? 1800),
      this.#o.watchCapSeconds ?? Infinity,
    );
    const enc = new TextEncoder();
    let watcher: Watcher | undefined;
    let frozen = false;
    let timers: ReturnType<typeof setTimeout>[] = [];
    const stop = () => {
      for (const t of timers) clearTimeout(t), clearInterval(t);
      timers = [];
      if (watcher) this.#watchers.delete(watcher);
    };
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const send = (line: unknown) => {
          if (frozen) return;
          try {
            controller.enqueue(enc.encode(JSON.stringify(line) + "\n"));
          } catch { /* closed */ }
        };
        if (gone) {
          this.#stats.gone++;
          send({
            type: "ERROR",
            object: {
              kind: "Status",
              apiVersion: "v1",
              metadata: {},
              status: "Failure",
              message: `too old resource version: ${rvText} (${this.#compactedBelow})`,
              reason: "Expired",
              code: 410,
            },
          });
          controller.close();
          return;
        }
        if (from === undefined) {
          for (const s of this.#slices.values()) if (s.service === service) send(this.#eventOf("ADDED", s));
        } else {
          for (const e of this.#history) {
            if (e.rv > from && e.slice.service === service) send(this.#eventOf(e.type, e.slice));
          }
        }
        watcher = {
          service,
          send,
          cut: () => {
            stop();
            try {
              controller.error(new Error("the test cut this watch connection"));
            } catch { /* closed */ }
          },
          freeze: () => {
            frozen = true;
            for (const t of timers) clearTimeout(t), clearInterval(t);
            timers = [];
          },
        };
        this.#watchers.add(watcher);
        if (bookmarks) {
          timers.push(setInterval(() => {
            this.#stats.bookmarks++;
            send({
              type: "BOOKMARK",
              object: {
                kind: "EndpointSlice",
                apiVersion: API_VERSION,
                metadata: { resourceVersion: String(this.#rv) },
              },
            });
          }, this.#o.bookmarkMs));
        }
        timers.push(setTimeout(() => {
          stop();
          try {
            controller.close();
          } catch { /* closed */ }
        }, timeoutS * 1000));
      },
      cancel: () => stop(),
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  }
}

/** Starts the server in this process. */
export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApiControl> {
  const o = {
    hostname: "127.0.0.1",
    namespace: "default",
    tokens: ["token-1"],
    bookmarkMs: 1000,
    goneAs: "event" as const,
    ...options,
  };
  const certs = await makeCerts(o.hostname);
  return new KubeApi(o, certs);
}

/** A network namespace runner, as `Network` of the harness has it. */
export interface NamespaceRunner {
  exec(
    pod: string,
    cmd: string[],
    options?: { env?: Record<string, string>; stdin?: "piped"; stdout?: "piped"; stderr?: "piped" },
  ): Deno.ChildProcess;
}

/**
 * Starts the server as a child process inside the network namespace `where` (the harness's `"node"`
 * namespace, on its gateway address, which every pod reaches), driven over stdin/stdout.
 */
export async function startKubeApiIn(
  network: NamespaceRunner,
  where: string,
  options: KubeApiOptions,
): Promise<KubeApiControl> {
  const child = network.exec(where, [
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    new URL("../deno.json", import.meta.url).pathname,
    new URL(import.meta.url).pathname,
    JSON.stringify(options),
  ], { stdin: "piped", stdout: "piped", stderr: "piped" });
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const readLine = async (): Promise<string> => {
    while (!buffer.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) {
        const err = await new Response(child.stderr).text().catch(() => "");
        throw new Error(`Cannot talk to the test API server: it exited (${err.trim().slice(-500)})`);
      }
      buffer += value;
    }
    const nl = buffer.indexOf("\n");
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    return line;
  };
  const hello = JSON.parse(await readLine()) as { url: string; caFile: string };
  let queue = Promise.resolve<unknown>(undefined);
  const call = <T>(op: string, ...args: unknown[]): Promise<T> => {
    const p = queue.then(async () => {
      await writer.write(new TextEncoder().encode(JSON.stringify({ op, args }) + "\n"));
      const r = JSON.parse(await readLine()) as { ok: boolean; value?: T; error?: string };
      if (!r.ok) throw new Error(r.error);
      return r.value as T;
    });
    queue = p.catch(() => undefined);
    return p;
  };
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      await call("close").catch(() => {});
      await writer.close().catch(() => {});
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await child.status;
      clearTimeout(t);
      await child.stderr.cancel().catch(() => {});
    })();
  return {
    url: hello.url,
    caFile: hello.caFile,
    setPods: (service, pods, o) => call("setPods", service, pods, o ?? {}),
    setTokens: (tokens) => call("setTokens", tokens),
    setForbidden: (on) => call("setForbidden", on),
    cutWatches: () => call("cutWatches"),
    freezeWatches: () => call("freezeWatches"),
    compact: () => call("compact"),
    stats: () => call("stats"),
    close,
    [Symbol.asyncDispose]: close,
  };
}

if (import.meta.main) {
  const api = await startKubeApi(JSON.parse(Deno.args[0] ?? "{}"));
  const out = (v: unknown) => Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(v) + "\n"));
  out({ url: api.url, caFile: api.caFile });
  let buffer = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const { op, args } = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      try {
        // deno-lint-ignore no-explicit-any
        const value = await (api as any)[op](...args);
        out({ ok: true, value });
      } catch (err) {
        out({ ok: false, error: (err as Error).message });
      }
      if (op === "close") Deno.exit(0);
    }
  }
  await api.close();
}
