/**
 * erlmesh agents in a simulated Kubernetes cluster: start one per pod, ask `erlmesh mesh` from the
 * cluster's node namespace, and wait for a full mesh.
 */
import type { Cluster, ClusterPod } from "./_harness/mod.ts";
import { tempPrefix } from "./_harness/prefix.ts";
import { waitUntil } from "./_harness/wait.ts";
import { childEnv, collectLines, erlmeshArgv, runArgv } from "./_erlmesh.ts";
import { parsePrometheus, type Sample } from "./_prom.ts";

/** The environment an erlmesh process in a pod gets (with HOME and PATH of the test process). */
function env(extra: Record<string, string>): Record<string, string> {
  return childEnv({ HOME: Deno.env.get("HOME") ?? "/root", ...extra });
}

/**
 * The environment that makes erlmesh speak TLS distribution to the nodes of a TLS cluster
 * (`ClusterOptions.tls`) with the PKI's client certificate; none for a plain cluster.
 */
export function tlsEnv(cluster: Cluster): Record<string, string> {
  if (!cluster.tls) return {};
  const { pki } = cluster.tls;
  return {
    ERLMESH_TLS_CA_FILE: pki.ca,
    ERLMESH_TLS_CERT_FILE: pki.client.cert,
    ERLMESH_TLS_KEY_FILE: pki.client.key,
  };
}

/** The same as {@link tlsEnv} as flags. */
export function tlsFlags(cluster: Cluster): string[] {
  return Object.entries(tlsEnv(cluster)).flatMap(([k, v]) => [
    `--${k.slice("ERLMESH_".length).toLowerCase().replaceAll("_", "-")}`,
    v,
  ]);
}

/** A running agent in a pod. */
export class Agent implements AsyncDisposable {
  readonly pod: ClusterPod;
  #child: Deno.ChildProcess;
  #lines: string[] = [];
  #done: Promise<void>;
  /** With `keepStdout`, stdout's lines are collected too (a release's output under `erlmesh run`). */
  constructor(pod: ClusterPod, child: Deno.ChildProcess, keepStdout = false) {
    this.pod = pod;
    this.#child = child;
    this.#done = collectLines(child.stderr, this.#lines);
    if (keepStdout) {
      const err = this.#done;
      this.#done = Promise.all([err, collectLines(child.stdout, this.#lines)]).then(() => {});
    } else child.stdout.cancel().catch(() => {});
  }
  /**
   * Waits for the first log event `match` accepts and returns it. Log lines are another process's output,
   * and erlmesh writes them once its logger is loaded (after its first pass with nothing to do, at the
   * latest 5 s after start): read an early event with this, not with {@link Agent.events} at once.
   */
  waitEvent(
    match: (e: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<Record<string, unknown>> {
    return waitUntil(() => this.events().find(match), {
      timeoutMs,
      what: `${what} in the log of ${this.pod.name}`,
    });
  }
  /** The log lines so far, parsed as JSON where possible. */
  events(): Record<string, unknown>[] {
    return this.#lines.flatMap((l) => {
      try {
        const r = JSON.parse(l);
        return [{ ...r, ...(r.properties ?? {}) }];
      } catch {
        return [];
      }
    });
  }
  get pid(): number {
    return this.#child.pid;
  }
  /** Raw log text. */
  log(): string {
    return this.#lines.join("\n");
  }
  /** Stops the agent (SIGTERM) and waits for it. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    const status = await this.#child.status;
    clearTimeout(t);
    await this.#done;
    return status;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop().then(() => {});
  }
}

/** A cookie file for the cluster (mode 0400), removed by the returned disposer. */
export async function cookieFile(cluster: Cluster): Promise<string> {
  const path = `${await Deno.makeTempDir({ prefix: tempPrefix("cookie") })}/cookie`;
  await Deno.writeTextFile(path, cluster.cookie, { mode: 0o400 });
  return path;
}

/** Stops the agents (or `erlmesh run`s) and removes the cookie file made by {@link cookieFile}. */
export async function stopAgents(agents: Iterable<Agent>, cookiePath: string): Promise<void> {
  await Promise.all([...agents].map((a) => a.stop()));
  await Deno.remove(cookiePath.replace(/\/cookie$/, ""), { recursive: true });
}

/** Options of {@link startAgent}. */
export interface AgentOptions {
  /** Extra flags, e.g. `["--discovery", "static", "--hosts", "…"]`. @default SRV discovery of the Service */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
}

/**
 * Starts `erlmesh agent` inside the pod, with the cookie in RELEASE_COOKIE and JSON logs (and, in a TLS
 * cluster, the TLS files in the environment: {@link tlsEnv}).
 */
export function startAgent(cluster: Cluster, pod: ClusterPod, options: AgentOptions = {}): Agent {
  const args = options.args ?? ["--service", cluster.service];
  const child = cluster.network.exec(
    pod.name,
    erlmeshArgv(["agent", "--node", pod.nodeName, "--log-format", "json", "--log-level", "debug", ...args]),
    {
      env: env({ RELEASE_COOKIE: cluster.cookie, ...tlsEnv(cluster), ...options.env }),
      hostname: pod.name,
      stdout: "piped",
      stderr: "piped",
    },
  );
  return new Agent(pod, child);
}

/** What `erlmesh mesh -o json` printed. */
export interface MeshJson {
  nodes: { node: string; reachable: boolean; connected: string[]; error?: string }[];
  missingPairs: [string, string][];
  clusters: string[][];
  fullMesh: boolean;
}

const observers = new WeakMap<Cluster, Promise<string>>();

/** A pod outside the Service, like a debug pod an SRE would `kubectl exec` into, to look from. */
export function observer(cluster: Cluster): Promise<string> {
  let p = observers.get(cluster);
  if (!p) {
    p = cluster.network.addPod("observer").then((pod) => pod.name);
    observers.set(cluster, p);
  }
  return p;
}

/** Runs `erlmesh mesh` from an observer pod over the given nodes (or by SRV discovery); TLS flags in a TLS cluster. */
export async function mesh(
  cluster: Cluster,
  cookiePath: string,
  nodes?: string[],
  extraArgs: string[] = [],
): Promise<{ code: number; json?: MeshJson; stderr: string }> {
  const sel = [...(nodes ? ["--nodes", nodes.join(",")] : ["--service", cluster.service]), ...extraArgs];
  const r = await cluster.network.run(await observer(cluster), [
    "env",
    ...Object.entries(env({})).map(([k, v]) => `${k}=${v}`),
    ...erlmeshArgv([
      "mesh",
      "-o",
      "json",
      "--cookie-file",
      cookiePath,
      "--connect-timeout",
      "3000",
      ...tlsFlags(cluster),
      ...sel,
    ]),
  ], { timeoutMs: 30000 });
  let json: MeshJson | undefined;
  try {
    json = JSON.parse(r.stdout);
  } catch { /* left undefined */ }
  return { code: r.code, json, stderr: r.stderr };
}

/** Polls `mesh` until the given nodes are fully meshed or `timeoutMs` passes; returns the last answer. */
export async function waitFullMesh(
  cluster: Cluster,
  cookiePath: string,
  nodes: string[],
  timeoutMs = 60000,
  extraArgs: string[] = [],
): Promise<MeshJson | undefined> {
  const end = Date.now() + timeoutMs;
  let last: MeshJson | undefined;
  while (Date.now() < end) {
    const r = await mesh(cluster, cookiePath, nodes, extraArgs);
    last = r.json;
    if (r.code === 0 && last?.fullMesh && last.nodes.length === nodes.length) return last;
    await new Promise((res) => setTimeout(res, 250));
  }
  return last;
}

/** A cluster meshed by agents: {@link meshedAgents}. Disposing it stops the agents and removes the cookie file. */
export interface MeshedAgents extends AsyncDisposable {
  /** The cookie file (for `mesh`, `erlmeshIn`, {@link waitFullMesh}). */
  readonly cookie: string;
  /** One agent per pod, in pod order. */
  readonly agents: Agent[];
  /** The agents' logs, one block each: for a failure message. */
  logs(): string;
}

/**
 * The set-up of most cluster tests: a cookie file, a node in every pod, an agent beside each (`agentOptions`
 * per pod; SRV discovery of the Service by default), then a full mesh, read by `erlmesh mesh`; fails with the
 * agents' logs when none forms within `timeoutMs`. Use with `await using`.
 */
export async function meshedAgents(
  cluster: Cluster,
  agentOptions: (pod: ClusterPod) => AgentOptions = () => ({}),
  timeoutMs = 60000,
): Promise<MeshedAgents> {
  const cookie = await cookieFile(cluster);
  const agents: Agent[] = [];
  const sim: MeshedAgents = {
    cookie,
    agents,
    logs: () => agents.map((a) => a.log()).join("\n---\n"),
    [Symbol.asyncDispose]: () => stopAgents(agents, cookie),
  };
  try {
    await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
    for (const p of cluster.pods) agents.push(startAgent(cluster, p, agentOptions(p)));
    const m = await waitFullMesh(cluster, cookie, runningNodes(cluster), timeoutMs);
    if (!m?.fullMesh) throw new Error(`No full mesh: ${JSON.stringify(m)}\n${sim.logs()}`);
    return sim;
  } catch (err) {
    await sim[Symbol.asyncDispose]();
    throw err;
  }
}

/** The nodes of the pods that have a running node. */
export function runningNodes(cluster: Cluster): string[] {
  return cluster.pods.filter((p) => p.node && !p.node.exited).map((p) => p.nodeName).sort();
}

/**
 * Runs `erlmesh ARGS…` inside a pod (the cookie in RELEASE_COOKIE, {@link tlsEnv}). With `url`, fetches that URL from
 * inside the pod instead and prints the body (for scraping /metrics as Prometheus would).
 */
export async function erlmeshIn(
  cluster: Cluster,
  pod: ClusterPod,
  args: string[],
  url?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = url
    ? [
      Deno.execPath(),
      "eval",
      `const r = await fetch(${JSON.stringify(url)}); console.log(await r.text()); Deno.exit(r.ok ? 0 : 1)`,
    ]
    : erlmeshArgv(args);
  return await cluster.network.run(pod.name, [
    "env",
    ...Object.entries(env({ RELEASE_COOKIE: cluster.cookie, ...tlsEnv(cluster) })).map(([k, v]) =>
      `${k}=${v}`
    ),
    ...cmd,
  ], { timeoutMs: 30000 });
}

/**
 * The agent's counters (the keys of its `stopped` log line) from the `/metrics` counters, for the agents
 * started with `--http` on {@link METRICS_PORT}. The agent has no signal that prints them.
 */
const COUNTER_METRICS: Record<string, string> = {
  cycles: "erlmesh_cycles_total",
  failedCycles: "erlmesh_failed_cycles_total",
  dnsQueries: "erlmesh_dns_queries_total",
  dnsErrors: "erlmesh_dns_errors_total",
  epmdQueries: "erlmesh_epmd_queries_total",
  rpcs: "erlmesh_rpcs_total",
  connectAttempts: "erlmesh_connect_attempts_total",
  joins: "erlmesh_joins_total",
  leaves: "erlmesh_leaves_total",
};

/** The port of `--http 0.0.0.0:PORT` ({@link METRICS_ARGS}) in each pod, for {@link scrapeCounters}. */
export const METRICS_PORT = 9090;

/** Agent flags that serve /metrics on every address of the pod, for {@link scrapeCounters}. */
export const METRICS_ARGS: readonly string[] = ["--http", `0.0.0.0:${METRICS_PORT}`];

/** The agent counters in one /metrics text (a counter with labels is summed over them). */
export function countersFromMetrics(text: string): Record<string, number> {
  const { samples } = parsePrometheus(text);
  const sum = (name: string) =>
    samples.filter((s: Sample) => s.name === name).reduce((a, s: Sample) => a + s.value, 0);
  const out: Record<string, number> = {};
  for (const [key, metric] of Object.entries(COUNTER_METRICS)) out[key] = sum(metric);
  out.connectFailures = sum("erlmesh_connect_failures_total");
  return out;
}

/**
 * Scrapes `/metrics` of the agents in `pods` (started with {@link METRICS_ARGS}) at once, from the
 * node namespace as Prometheus would, in one process; each pod's counters, or undefined for a pod whose
 * agent did not answer within 3 s.
 */
export async function scrapeCounters(
  cluster: Cluster,
  pods: ClusterPod[],
): Promise<Map<string, Record<string, number> | undefined>> {
  const urls = pods.map((p) => `http://${p.ip}:${METRICS_PORT}/metrics`);
  const script = `const urls = ${JSON.stringify(urls)};
const texts = await Promise.all(urls.map(async (u) => {
  try {
    const r = await fetch(u, { signal: AbortSignal.timeout(3000) });
    return r.ok ? await r.text() : null;
  } catch {
    return null;
  }
}));
console.log(JSON.stringify(texts));`;
  const r = await cluster.network.run(
    "node",
    ["env", "-u", "NODE_OPTIONS", Deno.execPath(), "eval", script],
    {
      timeoutMs: 15000,
    },
  );
  let texts: (string | null)[] = [];
  try {
    texts = JSON.parse(r.stdout);
  } catch { /* every pod undefined */ }
  return new Map(pods.map((p, i) => {
    const t = texts[i];
    return [p.name, typeof t === "string" ? countersFromMetrics(t) : undefined];
  }));
}

/** Options of {@link launchAgent}. */
export interface LaunchAgentOptions {
  /** The agent's arguments after `agent`. @default none: configured by `env` alone */
  args?: string[];
  /** Its environment (the cookie is not added: pass it, e.g. as `CLUSTER_ERLANG_COOKIE`). */
  env?: Record<string, string>;
  /** Wraps the whole command line (`ip netns exec …` included), e.g. a CPU limit's `wrap`. */
  wrap?: (cmd: string[]) => string[];
  /**
   * A release's command: runs `erlmesh run ARGS -- COMMAND` instead of `erlmesh agent ARGS`, and keeps the
   * release's stdout in the log.
   */
  run?: string[];
}

/**
 * Starts `erlmesh agent` (or `erlmesh run`) in the pod as its container would be started: only the given arguments and
 * environment (no `--node`, no debug logging), optionally wrapped (a CPU limit), and without a code cache (a new
 * pod's first process: `freshPod` in tests/_erlmesh.ts). The pid is erlmesh's.
 */
export function launchAgent(cluster: Cluster, pod: ClusterPod, options: LaunchAgentOptions = {}): Agent {
  const argv = options.run
    ? runArgv(options.args ?? [], options.run, { freshPod: true })
    : erlmeshArgv(["agent", ...(options.args ?? [])], { freshPod: true });
  const inner = cluster.network.command(pod.name, argv, pod.name);
  const cmd = options.wrap ? options.wrap(inner) : inner;
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env: env(options.env ?? {}),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new Agent(pod, child, options.run !== undefined);
}

/**
 * Cuts the pod off (`cluster.network.partition`) and waits until every other running node has dropped its
 * node (net_ticktime), polling `nodes()` with a deadline; `cluster.network.heal` undoes it.
 */
export async function partitionUntilDropped(
  cluster: Cluster,
  pod: ClusterPod,
  timeoutMs = 30000,
): Promise<void> {
  await cluster.network.partition(pod.name);
  const others = cluster.pods.filter((p) => p !== pod && p.node && !p.node.exited);
  await waitUntil(
    async () => {
      const seen = await Promise.all(others.map((p) => p.node!.eval("nodes().")));
      return seen.every((s) => !s.includes(pod.nodeName));
    },
    { timeoutMs, intervalMs: 250, what: `every other node to drop the partitioned '${pod.nodeName}'` },
  );
}
