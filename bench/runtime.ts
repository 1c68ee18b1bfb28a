/**
 * Runtime benchmark: what erlmesh costs inside a pod, next to what a user would run instead, in the
 * same simulated Kubernetes network (network namespaces as pods, Unbound as kube-dns, OTP 25 nodes).
 *
 * 1. Agent footprint in steady state: a StatefulSet of 10 pods, one `erlmesh agent` per pod (default
 *    intervals), full mesh, 20 s of quiet, then a 30 s window: RSS (VmRSS of /proc/PID/status, sampled
 *    every second, peak in the window) and CPU (utime + stime of /proc/PID/stat over the window, as % of
 *    one core) of every agent, and of the pod's `beam.smp` for context.
 * 2. What `erlmesh run` adds between its release's node registering with EPMD and its first connection:
 *    3 pods, two with a node and an agent, the third starting the real rebar3/relx release
 *    (`bin/demo_app foreground`) under `erlmesh run`, unpublished (as a pod that is not yet ready):
 *    `registered` → `local_up` → first `join` in run's own JSON log (`@timestamp`), 5 times.
 * 3. Probe latency as a process in the pod of that release (run with `--http 127.0.0.1:9090`):
 *    `erlmesh probe readiness|liveness`, direct and via HTTP, against relx's `bin/demo_app ping` and
 *    `erl -noshell -eval 'net_adm:ping(...)'`, 20 runs each, interleaved.
 * 4. Start-up cost per command as a process (wall, CPU, peak RSS) beside `deno eval 1`, against a real node on
 *    loopback, with the goals of issue 9 printed as met or not met.
 * 5. `erlmesh agent --http` memory over `--agent-seconds` (default 300) against a real node, scraped every 10 s.
 *
 * Figures, not assertions. Run: `deno run -A bench/runtime.ts [--only=commands,agent,footprint,run]
 * [--agent-seconds=300] [--runs=7] [--compare=LABEL=/other/checkout/main.ts]` (root, OTP 25, rebar3, unbound,
 * iproute2), or `deno task bench runtime` with the same options.
 *
 * @module
 */
import {
  type Cluster,
  type ClusterPod,
  createCluster,
  freePort,
  randomCookie,
  randomId,
  startNode,
} from "../tests/_harness/mod.ts";
import { type Agent, startAgent } from "../tests/_sim.ts";
import {
  childEnv,
  collectLines,
  DENO_FLAGS,
  entryArgs,
  erlmeshArgv,
  MAIN,
  NEVER_PASSED,
  runArgv,
} from "../tests/_erlmesh.ts";
import { parsePrometheus } from "../tests/_prom.ts";
import { buildErlangRelease, ERLANG_RELEASE_NAME } from "../tests/_releases.ts";
import { median, printTable, quantile, round } from "./_stats.ts";
import { COMMANDS } from "../lib/cli/commands.ts";

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
const HTTP = "127.0.0.1:9090";
const REPO = new URL("../", import.meta.url).pathname;
const BASELINES: [string, string][] = [
  ["  context: idle 'deno eval' (one timer), RSS MB", "setInterval(() => {}, 5000);"],
  [
    "  context: idle 'deno eval' after importing lib/cli/main.ts, RSS MB",
    `await import(${
      JSON.stringify(new URL("../lib/cli/main.ts", import.meta.url).href)
    }); setInterval(() => {}, 5000);`,
  ],
];

const FOOTPRINT_PODS = 10;
const QUIET_MS = 20_000;
const WINDOW_MS = 30_000;
const RUN_REPS = 5;
const PROBE_RUNS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// /proc

interface ProcSample {
  /** kB */
  rss: number;
  /** kB, peak RSS since the process started */
  hwm: number;
  /** utime + stime, clock ticks */
  ticks: number;
}

async function procSample(pid: number): Promise<ProcSample> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // After "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based).
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), ticks: Number(f[11]) + Number(f[12]) };
}

async function comm(pid: number): Promise<string> {
  return (await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "")).trim();
}

/** `pid` if its command is `name`, else the first descendant that is (wrappers such as `ip netns exec`). */
async function findProcess(pid: number, name: string): Promise<number> {
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    if (await comm(p) === name) return p;
    for await (const t of Deno.readDir(`/proc/${p}/task`)) {
      const kids = await Deno.readTextFile(`/proc/${p}/task/${t.name}/children`).catch(() => "");
      queue.push(...kids.split(/\s+/).filter((s) => s).map(Number));
    }
  }
  throw new Error(`Cannot find a '${name}' process at or under pid ${pid} (it is '${await comm(pid)}')`);
}

async function clockTicks(): Promise<number> {
  const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
  const n = Number(new TextDecoder().decode(out.stdout).trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}

const mb = (kb: number) => round(kb / 1024, 1);

// ---------------------------------------------------------------------------------------------------
// 1. Agent footprint in steady state.

interface Footprint {
  pods: number;
  windowS: number;
  meshS: number;
  agentRssMb: number[];
  agentHwmMb: number[];
  agentCpuPct: number[];
  nodeRssMb: number[];
  nodeCpuPct: number[];
  /** Context: an idle `deno eval` (one timer), and one that has loaded erlmesh's CLI modules. */
  baselines: { label: string; rssMb: number; cpuPct: number }[];
  /** Agent log events inside the window: changes the steady state should not have. */
  eventsInWindow: string[];
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function connectedCount(pod: ClusterPod): Promise<number> {
  const out = await pod.node!.eval("length(nodes()).", 3000).catch(() => "-1");
  return Number(out);
}

async function benchFootprint(n: number, hz: number): Promise<Footprint> {
  await using cluster = await createCluster({ pods: n, kind: "statefulset" });
  const agents: Agent[] = [];
  const baselines: { label: string; child: Deno.ChildProcess }[] = [];
  try {
    for (const p of cluster.pods) agents.push(startAgent(cluster, p));
    await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
    const t0 = Date.now();
    await waitUntil(`a full mesh of ${n} nodes`, 60_000, async () => {
      const c = await Promise.all(cluster.pods.map(connectedCount));
      return c.every((x) => x === n - 1);
    });
    const meshS = round((Date.now() - t0) / 1000, 1);
    // Agents see their last peers join a little after the nodes do: count quiet time from their logs.
    await waitUntil(
      "every agent to log all its peers",
      30_000,
      () => Promise.resolve(agents.every((a) => new Set(joins(a)).size >= n - 1)),
    );
    // Context for the agent's RSS, in the host namespace: Deno alone, and Deno with erlmesh's modules loaded.
    for (const [label, code] of BASELINES) {
      baselines.push({
        label,
        child: new Deno.Command(Deno.execPath(), {
          args: ["eval", code],
          cwd: REPO,
          env: { DENO_DIR, NO_COLOR: "1" },
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn(),
      });
    }
    const lastChange = Math.max(
      ...agents.flatMap((a) => a.events().filter(isChange).map((e) => Date.parse(String(e["@timestamp"])))),
    );
    await sleep(Math.max(0, lastChange + QUIET_MS - Date.now()));

    const agentPids = await Promise.all(agents.map((a) => findProcess(a.pid, "deno")));
    const nodePids = await Promise.all(cluster.pods.map((p) => findProcess(p.node!.pid, "beam.smp")));
    const basePids = await Promise.all(baselines.map((b) => findProcess(b.child.pid, "deno")));
    const all = [...agentPids, ...nodePids, ...basePids];
    const start = performance.now();
    const from = Date.now();
    const first = await Promise.all(all.map(procSample));
    const peakRss = first.map((s) => s.rss);
    let last = first;
    while (performance.now() - start < WINDOW_MS) {
      await sleep(Math.min(1000, WINDOW_MS - (performance.now() - start)));
      last = await Promise.all(all.map(procSample));
      last.forEach((s, i) => (peakRss[i] = Math.max(peakRss[i], s.rss)));
    }
    const seconds = (performance.now() - start) / 1000;
    const to = Date.now();
    const cpu = last.map((s, i) => round(((s.ticks - first[i].ticks) / hz) / seconds * 100, 3));
    const eventsInWindow = agents.flatMap((a) =>
      a.events().filter((e) => {
        const t = Date.parse(String(e["@timestamp"]));
        return t >= from && t <= to && e.event !== undefined;
      }).map((e) => `${a.pod.name} ${e["@timestamp"]} ${e.event} ${e.node ?? ""} ${e.reason ?? ""}`)
    );
    return {
      pods: n,
      windowS: round(seconds, 1),
      meshS,
      agentRssMb: peakRss.slice(0, n).map(mb),
      agentHwmMb: last.slice(0, n).map((s) => mb(s.hwm)),
      agentCpuPct: cpu.slice(0, n),
      nodeRssMb: peakRss.slice(n, 2 * n).map(mb),
      nodeCpuPct: cpu.slice(n, 2 * n),
      baselines: baselines.map((b, i) => ({
        label: b.label,
        rssMb: mb(peakRss[2 * n + i]),
        cpuPct: cpu[2 * n + i],
      })),
      eventsInWindow,
    };
  } finally {
    await Promise.all(agents.map((a) => a.stop().catch(() => {})));
    for (const b of baselines) {
      try {
        b.child.kill("SIGKILL");
      } catch { /* gone */ }
      await b.child.status;
    }
  }
}

function joins(a: Agent): string[] {
  return a.events().filter((e) => e.event === "join").map((e) => String(e.node));
}

function isChange(e: Record<string, unknown>): boolean {
  return ["local_up", "join", "leave", "peer_found", "peer_gone", "local_down"].includes(String(e.event));
}

function printFootprint(f: Footprint): void {
  const row = (label: string, xs: number[], goal: string) => [
    label,
    round(median(xs), 3),
    round(Math.max(...xs), 3),
    round(Math.min(...xs), 3),
    goal,
  ];
  printTable(
    `agent footprint in steady state: N = ${f.pods} pods, ${f.windowS} s window (${QUIET_MS / 1000} s after` +
      ` the last change)`,
    ["process (per pod)", "median", "max", "min", "goal"],
    [
      row(
        "erlmesh agent RSS, MB (peak in window)",
        f.agentRssMb,
        `<= ${AGENT_RSS_GOAL_MB}: ${met(Math.max(...f.agentRssMb) <= AGENT_RSS_GOAL_MB)}`,
      ),
      row("erlmesh agent CPU, % of one core", f.agentCpuPct, "<= 0.5"),
      row("  erlmesh agent peak RSS since start (VmHWM), MB", f.agentHwmMb, ""),
      row("beam.smp (OTP 25 node) RSS, MB (context)", f.nodeRssMb, ""),
      row("beam.smp CPU, % of one core (context)", f.nodeCpuPct, ""),
      ...f.baselines.map((b) => [b.label, b.rssMb, "", "", `(CPU ${b.cpuPct} %)`]),
    ],
  );
  console.log(`per-agent CPU %: ${f.agentCpuPct.join(" ")}`);
  console.log(`per-agent RSS MB: ${f.agentRssMb.join(" ")}`);
  console.log(`per-node CPU %: ${f.nodeCpuPct.join(" ")}`);
  console.log(
    `(full mesh ${f.meshS} s after the nodes started; agent log events inside the window: ${
      f.eventsInWindow.length ? f.eventsInWindow.join("; ") : "none"
    })`,
  );
}

// ---------------------------------------------------------------------------------------------------
// 2. erlmesh run: registered → first join.

/** Spawns `argv` with only `env`; its stdout and stderr lines gather in `lines` until both end (`collected`). */
function spawnCollecting(
  argv: string[],
  env: Record<string, string>,
  cwd?: string,
): { child: Deno.ChildProcess; lines: string[]; collected: Promise<void> } {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const collected = Promise.all([collectLines(child.stdout, lines), collectLines(child.stderr, lines)]).then(
    () => {},
  );
  return { child, lines, collected };
}

/** `erlmesh run … -- bin/demo_app foreground` in a pod, with its JSON log lines collected. */
class RunProcess {
  readonly dir: string;
  readonly netns: string;
  #child: Deno.ChildProcess;
  #lines: string[];
  #pumps: Promise<void>;
  #status: Promise<Deno.CommandStatus>;
  #exited = false;

  constructor(cmd: string[], env: Record<string, string>, netns: string, dir: string) {
    this.dir = dir;
    this.netns = netns;
    const spawned = spawnCollecting(cmd, env);
    this.#child = spawned.child;
    this.#lines = spawned.lines;
    this.#pumps = spawned.collected;
    this.#status = this.#child.status.then((s) => {
      this.#exited = true;
      return s;
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  events(): Record<string, unknown>[] {
    return this.#lines.flatMap((l) => {
      if (!l.startsWith("{")) return [];
      try {
        const r = JSON.parse(l);
        return [{ ...r, ...(r.properties ?? {}) }];
      } catch {
        return [];
      }
    });
  }

  log(): string {
    return this.#lines.join("\n");
  }

  /** SIGTERM (forwarded to the release), then SIGKILL of everything in the pod but EPMD after 15 s. */
  async stop(): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* gone */ }
    }
    const killed = await Promise.race([this.#status.then(() => false), sleep(15_000).then(() => true)]);
    if (killed) {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
      await killPodProcesses(this.netns);
      await this.#status;
    }
    await Promise.race([this.#pumps, sleep(2000)]);
  }
}

/** Kills every process of the pod except its EPMD (a SIGKILLed erlmesh leaves its release behind). */
async function killPodProcesses(netns: string): Promise<void> {
  const out = await new Deno.Command("ip", { args: ["netns", "pids", netns], stdout: "piped" }).output();
  for (const pid of new TextDecoder().decode(out.stdout).split(/\s+/).filter((s) => s).map(Number)) {
    if (pid === Deno.pid || await comm(pid) === "epmd") continue;
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
}

/** The container environment of the release pod: relx's NODE_NAME, the cookie in $HOME, the downward API. */
async function releaseEnv(cluster: Cluster, pod: ClusterPod, dir: string): Promise<Record<string, string>> {
  await Deno.mkdir(`${dir}/home`, { recursive: true });
  await Deno.writeTextFile(`${dir}/home/.erlang.cookie`, cluster.cookie, { mode: 0o400 });
  return {
    PATH,
    DENO_DIR,
    NO_COLOR: "1",
    LANG: "C.UTF-8",
    HOME: `${dir}/home`,
    NODE_NAME: pod.nodeName,
    ERLANG_NODENAME: pod.nodeName,
    RELX_OUT_FILE_PATH: dir,
    ERL_CRASH_DUMP: `${dir}/erl_crash.dump`,
    POD_NAME: pod.name,
    POD_NAMESPACE: cluster.namespace,
    POD_IP: pod.ip,
  };
}

function startRun(
  cluster: Cluster,
  pod: ClusterPod,
  root: string,
  dir: string,
  env: Record<string, string>,
): RunProcess {
  const cmd = cluster.network.command(
    pod.name,
    runArgv(["--service", cluster.service, "--http", HTTP], [
      `${root}/bin/${ERLANG_RELEASE_NAME}`,
      "foreground",
    ]),
    pod.name,
  );
  return new RunProcess(cmd, env, pod.netns, dir);
}

interface RunRep {
  /** release_started → registered (run's afterMs: from spawning the release to seeing it in EPMD). */
  bootMs: number;
  /** When the node really appeared in EPMD (watched every 5 ms in the pod) → run's `registered`. */
  detectLagMs: number;
  toLocalUpMs: number;
  toFirstJoinMs: number;
  toAllJoinsMs: number;
  /** From the node really appearing in EPMD to run's first join. */
  fromEpmdToFirstJoinMs: number;
}

const ts = (e: Record<string, unknown> | undefined) => e ? Date.parse(String(e["@timestamp"])) : NaN;

/**
 * Watches the pod's EPMD from inside the pod (NAMES every 5 ms with erlmesh's own client) and resolves
 * with the wall-clock time the node `alive` first appears; prints "ready" once it polls.
 */
class EpmdWatcher {
  #child: Deno.ChildProcess;
  #out = "";
  #done: Promise<void>;

  constructor(cluster: Cluster, pod: ClusterPod, alive: string) {
    const code = `
      const { names } = await import(${JSON.stringify(new URL("../lib/epmd/mod.ts", import.meta.url).href)});
      console.log("ready");
      while (true) {
        try {
          const r = await names("127.0.0.1", { timeoutMs: 500 });
          if (r.nodes.some((n) => n.name === ${JSON.stringify(alive)})) {
            console.log("at " + Date.now());
            break;
          }
        } catch { /* EPMD not up yet */ }
        await new Promise((r) => setTimeout(r, 5));
      }`;
    const child = cluster.network.exec(pod.name, [
      Deno.execPath(),
      "eval",
      "--config",
      `${REPO}deno.json`,
      code,
    ], { env: { DENO_DIR, NO_COLOR: "1" }, stdout: "piped", stderr: "null" });
    this.#child = child;
    this.#done = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of child.stdout) this.#out += dec.decode(chunk, { stream: true });
    })();
  }

  async ready(): Promise<void> {
    const end = Date.now() + 15_000;
    while (!this.#out.includes("ready")) {
      if (Date.now() > end) throw new Error("The EPMD watcher did not start");
      await sleep(20);
    }
  }

  /** The time the node appeared, or NaN. */
  at(): number {
    return Number(/at (\d+)/.exec(this.#out)?.[1] ?? NaN);
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#child.status;
    await this.#done.catch(() => {});
  }
}

async function runRep(run: RunProcess, watcher: EpmdWatcher, peers: number): Promise<RunRep> {
  const end = Date.now() + 60_000;
  while (run.events().filter((e) => e.event === "join").length < peers) {
    if (run.exited) throw new Error(`erlmesh run exited early:\n${run.log()}`);
    if (Date.now() > end) throw new Error(`erlmesh run did not join ${peers} peers in 60 s:\n${run.log()}`);
    await sleep(50);
  }
  const ev = run.events();
  const reg = ev.find((e) => e.event === "registered");
  const after = ev.slice(ev.indexOf(reg!));
  const j = after.filter((e) => e.event === "join");
  return {
    bootMs: Number(reg?.afterMs),
    detectLagMs: ts(reg) - watcher.at(),
    toLocalUpMs: ts(after.find((e) => e.event === "local_up")) - ts(reg),
    toFirstJoinMs: ts(j[0]) - ts(reg),
    toAllJoinsMs: ts(j[peers - 1]) - ts(reg),
    fromEpmdToFirstJoinMs: ts(j[0]) - watcher.at(),
  };
}

function printRun(reps: RunRep[]): void {
  const row = (label: string, xs: number[]) => [
    label,
    round(median(xs), 0),
    round(Math.min(...xs), 0),
    round(Math.max(...xs), 0),
    xs.map((x) => round(x, 0)).join(" "),
  ];
  printTable(
    `erlmesh run -- bin/${ERLANG_RELEASE_NAME} foreground: from its node registering to its first connection` +
      ` (${reps.length} starts, ms, run's own log)`,
    ["interval", "median", "min", "max", "each run"],
    [
      row("registered → first join (what run adds)", reps.map((r) => r.toFirstJoinMs)),
      row("  registered → local_up (run connected to its node)", reps.map((r) => r.toLocalUpMs)),
      row("  registered → both peers joined", reps.map((r) => r.toAllJoinsMs)),
      row("node in EPMD (watched in the pod) → first join", reps.map((r) => r.fromEpmdToFirstJoinMs)),
      row("  node in EPMD → run logs registered (EPMD poll lag)", reps.map((r) => r.detectLagMs)),
      row("release_started → registered (the node's own boot)", reps.map((r) => r.bootMs)),
    ],
  );
}

// ---------------------------------------------------------------------------------------------------
// 3. Probe latency.

interface ProbeVariant {
  label: string;
  cmd: (i: number) => string[];
  times: number[];
  fails: number;
  firstFailure?: string;
}

async function timed(cmd: string[], env: Record<string, string>): Promise<[number, boolean, string]> {
  const t0 = performance.now();
  const { child, lines, collected } = spawnCollecting(cmd, env);
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 15_000);
  const status = await child.status;
  await collected;
  clearTimeout(timer);
  const dt = performance.now() - t0;
  return [dt, status.success, lines.join("\n").trim()];
}

async function benchProbes(
  cluster: Cluster,
  pod: ClusterPod,
  root: string,
  env: Record<string, string>,
): Promise<ProbeVariant[]> {
  const inPod = (cmd: string[]) => cluster.network.command(pod.name, cmd, pod.name);
  const erlmesh = (...args: string[]) => inPod([Deno.execPath(), ...DENO_FLAGS, ...entryArgs(), ...args]);
  const variants: ProbeVariant[] = [
    { label: "erlmesh probe readiness (direct)", cmd: () => erlmesh("probe", "readiness") },
    {
      label: `erlmesh probe readiness --http ${HTTP}`,
      cmd: () => erlmesh("probe", "readiness", "--http", HTTP),
    },
    { label: "erlmesh probe liveness (direct)", cmd: () => erlmesh("probe", "liveness") },
    {
      label: `erlmesh probe liveness --http ${HTTP}`,
      cmd: () => erlmesh("probe", "liveness", "--http", HTTP),
    },
    {
      label: `bin/${ERLANG_RELEASE_NAME} ping (relx, erl_call/nodetool)`,
      cmd: () => inPod([`${root}/bin/${ERLANG_RELEASE_NAME}`, "ping"]),
    },
    {
      label: "erl -noshell -hidden -eval 'net_adm:ping(NODE)'",
      cmd: (i: number) =>
        inPod([
          "erl",
          "-noshell",
          "-hidden",
          "-name",
          `probe${i}@${pod.fqdn}`,
          "-eval",
          `case net_adm:ping('${pod.nodeName}') of pong -> halt(0); pang -> halt(1) end.`,
        ]),
    },
    { label: "  baseline: `true` (ip netns exec + unshare)", cmd: () => inPod(["true"]) },
  ].map((v) => ({ ...v, times: [], fails: 0 }));
  // The relx script writes its expanded vm.args: not into the running release's folder.
  const pingDir = await Deno.makeTempDir({ prefix: "erlmesh-bench-ping-" });
  const probeEnv = { ...env, RELX_OUT_FILE_PATH: pingDir };
  try {
    for (const v of variants) await timed(v.cmd(999), probeEnv); // warm caches
    for (let i = 0; i < PROBE_RUNS; i++) {
      for (const v of variants) {
        const [dt, ok, text] = await timed(v.cmd(i), probeEnv);
        v.times.push(dt);
        if (!ok) {
          v.fails++;
          v.firstFailure ??= text;
        }
      }
    }
  } finally {
    await Deno.remove(pingDir, { recursive: true }).catch(() => {});
  }
  return variants;
}

function printProbes(variants: ProbeVariant[]): void {
  printTable(
    `probe as a process in the release's pod (${PROBE_RUNS} runs each, interleaved, wall time in ms;` +
      ` Kubernetes' default timeoutSeconds is 1 s)`,
    ["command", "median", "p90", "max", "failed", "> 1 s"],
    variants.map((v) => [
      v.label,
      round(median(v.times), 1),
      round(quantile(v.times, 0.9), 1),
      round(Math.max(...v.times), 1),
      `${v.fails}/${v.times.length}`,
      v.times.filter((t) => t > 1000).length,
    ]),
  );
  for (const v of variants) {
    if (v.firstFailure) console.log(`first failure of '${v.label}': ${v.firstFailure.slice(0, 400)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// 2 + 3 share a cluster: two pods with a node and an agent, the release's pod not yet published.

async function benchRunAndProbes(): Promise<{ reps: RunRep[]; probes: ProbeVariant[] }> {
  const root = await buildErlangRelease();
  await using cluster = await createCluster({ pods: 2, kind: "statefulset" });
  const agents: Agent[] = [];
  const dirs: string[] = [];
  let current: RunProcess | undefined;
  try {
    const relPod = await cluster.addPod({ ready: false });
    const [p0, p1] = cluster.pods;
    for (const p of [p0, p1]) agents.push(startAgent(cluster, p));
    await Promise.all([p0, p1].map((p) => cluster.startNode(p)));
    await waitUntil("the two nodes to mesh", 30_000, async () => (await connectedCount(p0)) === 1);

    const reps: RunRep[] = [];
    let env: Record<string, string> = {};
    for (let i = 0; i < RUN_REPS; i++) {
      const dir = await Deno.makeTempDir({ prefix: "erlmesh-bench-run-" });
      dirs.push(dir);
      env = await releaseEnv(cluster, relPod, dir);
      const watcher = new EpmdWatcher(cluster, relPod, relPod.nodeName.split("@")[0]);
      try {
        await watcher.ready();
        current = startRun(cluster, relPod, root, dir, env);
        reps.push(await runRep(current, watcher, 2));
      } finally {
        await watcher.stop();
      }
      if (i < RUN_REPS - 1) {
        await current.stop();
        current = undefined;
        // Let the peers drop the old node before the next start.
        await waitUntil(
          "the peers to drop the stopped node",
          30_000,
          async () => (await connectedCount(p0)) === 1,
        );
      }
    }
    // The last release keeps running (with run's HTTP server) for the probes.
    const probes = await benchProbes(cluster, relPod, root, env);
    return { reps, probes };
  } finally {
    await current?.stop().catch(() => {});
    await Promise.all(agents.map((a) => a.stop().catch(() => {})));
    for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------
// 4. Start-up cost per command, as a process, beside `deno eval 1` (the floor), on loopback.

/** What one process cost: wall time, CPU and peak RSS, from the kernel's rusage of the child. */
interface ProcCost {
  wallMs: number;
  userMs: number;
  sysMs: number;
  /** Peak RSS (ru_maxrss), kB. */
  maxRssKb: number;
  code: number;
  output: string;
}

/**
 * Runs `argv` under a small python3 wrapper that forks, execs and `wait4`s it: wall time from fork to
 * exit and the child's own rusage (µs CPU, peak RSS), with none of the wrapper's start-up in the figures.
 * `/usr/bin/time -f` gives CPU in 10 ms steps only, which is the size of what is measured here.
 */
const WAIT4 = `
import os, sys, time, json
out = sys.argv[1]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(out, "w") as f:
    json.dump({"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime, "maxrss": ru.ru_maxrss,
               "code": os.waitstatus_to_exitcode(status)}, f)
`;

async function measureProcess(argv: string[], env: Record<string, string>): Promise<ProcCost> {
  const file = await Deno.makeTempFile({ prefix: "erlmesh-bench-cost-" });
  try {
    const out = await new Deno.Command("python3", {
      args: ["-c", WAIT4, file, ...argv],
      cwd: REPO,
      clearEnv: true,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    const text = (dec.decode(out.stdout) + dec.decode(out.stderr)).trim();
    const r = JSON.parse(await Deno.readTextFile(file).catch(() => "{}"));
    if (typeof r.wall !== "number") throw new Error(`Cannot measure '${argv.join(" ")}': ${text}`);
    return {
      wallMs: r.wall * 1000,
      userMs: r.user * 1000,
      sysMs: r.sys * 1000,
      maxRssKb: r.maxrss,
      code: r.code,
      output: text,
    };
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

interface CommandRow {
  label: string;
  argv: string[];
  /** Counts toward the goals (an erlmesh command), or is context. */
  goal: boolean;
  costs: ProcCost[];
}

interface CommandFigures {
  rows: { label: string; wallMs: number; userMs: number; sysMs: number; rssMb: number; codes: string }[];
  floor: { wallMs: number; rssMb: number };
  goalsMet: boolean;
  modules: { local: number; npm: number; node: number };
}

const WALL_GOAL = 1.5;
const RSS_GOAL_MB = 8;
const AGENT_RSS_GOAL_MB = 45;

const met = (ok: boolean) => (ok ? "met" : "NOT MET");
const signed = (x: number) => (x >= 0 ? `+${x}` : String(x));

/** The modules of erlmesh's static and dynamic import graph, as `deno info --json main.ts` lists them. */
async function moduleCounts(): Promise<{ local: number; npm: number; node: number }> {
  // main.ts's graph and each command's (loaded by a computed specifier, so not in main.ts's graph).
  const roots = [MAIN, ...Object.keys(COMMANDS).map((c) => `${REPO}lib/cli/${c}.ts`)];
  const specs = new Set<string>();
  const deps = new Set<string>();
  for (const root of roots) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", root],
      cwd: REPO,
      stdout: "piped",
      stderr: "null",
    }).output();
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    for (const m of info.modules as { specifier: string; dependencies?: { specifier: string }[] }[]) {
      specs.add(m.specifier);
      for (const d of m.dependencies ?? []) deps.add(d.specifier);
    }
  }
  return {
    local: [...specs].filter((s) => s.startsWith("file:")).length,
    npm: [...specs].filter((s) => s.startsWith("npm:")).length,
    node: [...deps].filter((s) => s.startsWith("node:")).length,
  };
}

async function benchCommands(runs: number): Promise<CommandFigures> {
  const cookie = randomCookie();
  const epmdPort = freePort();
  const alive = `bench${randomId(4)}`;
  const node = `${alive}@127.0.0.1`;
  await using _node = await startNode({ name: node, cookie, epmdPort });
  const env = childEnv({ RELEASE_COOKIE: cookie, ERL_EPMD_PORT: String(epmdPort) });
  const peers = ["--node", node, "--basename", alive, "--hosts", "127.0.0.1"];
  const dir = await Deno.makeTempDir({ prefix: "erlmesh-bench-startup-" });
  try {
    await Deno.writeTextFile(`${dir}/empty.ts`, "export {};\n");
    await Deno.writeTextFile(
      `${dir}/import_cli.ts`,
      `import ${JSON.stringify(new URL("../lib/cli/main.ts", import.meta.url).href)};\n`,
    );
    const denoRun = (file: string) => [Deno.execPath(), ...DENO_FLAGS, "--config", `${REPO}deno.json`, file];
    const erlmesh = (label: string, args: string[]): CommandRow => ({
      label: `erlmesh ${label}`,
      argv: erlmeshArgv(args),
      goal: true,
      costs: [],
    });
    const context = (label: string, argv: string[]): CommandRow => ({ label, argv, goal: false, costs: [] });
    // The same commands from the sources (`deno run main.ts`), which load their TypeScript modules one by one.
    const fromSource = (label: string, args: string[]): CommandRow =>
      context(`  from source: erlmesh ${label}`, [
        "env",
        ...NEVER_PASSED.flatMap((k) => ["-u", k]),
        Deno.execPath(),
        ...DENO_FLAGS,
        MAIN,
        ...args,
      ]);
    // The bundle with no code cache: the first erlmesh process of a pod (the compiled binary writes its code
    // cache in $TMPDIR at its first run; later processes read it).
    const noCodeCache = (label: string, args: string[]): CommandRow =>
      context(
        `  no code cache (a pod's first process): erlmesh ${label}`,
        erlmeshArgv(args, { freshPod: true }),
      );
    const rows: CommandRow[] = [
      context("deno eval 1 (the floor)", [Deno.execPath(), "eval", "1"]),
      erlmesh("--version", ["--version"]),
      erlmesh("--help", ["--help"]),
      erlmesh("names", ["names"]),
      erlmesh("ping NODE", ["ping", node]),
      erlmesh("nodes NODE", ["nodes", node]),
      erlmesh("status", ["status", ...peers]),
      erlmesh("probe liveness", ["probe", "liveness", "--node", node]),
      erlmesh("discover", ["discover", ...peers.slice(2)]),
      erlmesh("agent --help", ["agent", "--help"]),
      erlmesh("wait --help", ["wait", "--help"]),
      context("  erlmesh agent --once (one pass, then exits)", erlmeshArgv(["agent", "--once", ...peers])),
      noCodeCache("ping NODE", ["ping", node]),
      noCodeCache("status", ["status", ...peers]),
      noCodeCache("agent --once", ["agent", "--once", ...peers]),
      fromSource("--version", ["--version"]),
      fromSource("ping NODE", ["ping", node]),
      fromSource("status", ["status", ...peers]),
      fromSource("agent --help", ["agent", "--help"]),
      context("  where it goes: deno run of an empty .ts file", denoRun(`${dir}/empty.ts`)),
      context("  where it goes: deno run importing lib/cli/main.ts only", denoRun(`${dir}/import_cli.ts`)),
      context("  where it goes: deno eval 'import \"npm:@logtape/logtape\"'", [
        Deno.execPath(),
        "eval",
        'import "npm:@logtape/logtape@2.4.2";',
      ]),
      context("  where it goes: deno eval 'import logtape's dist/mod.js by path'", [
        Deno.execPath(),
        "eval",
        `import ${
          JSON.stringify(`file://${DENO_DIR}/npm/registry.npmjs.org/@logtape/logtape/2.4.2/dist/mod.js`)
        };`,
      ]),
      context("  where it goes: deno eval 'import \"npm:yaml\"'", [
        Deno.execPath(),
        "eval",
        'import "npm:yaml@2.9.1";',
      ]),
    ];
    for (const r of rows) await measureProcess(r.argv, env); // warm the module and npm caches
    for (let i = 0; i < runs; i++) {
      for (const r of rows) r.costs.push(await measureProcess(r.argv, env));
    }
    const med = (r: CommandRow, k: "wallMs" | "userMs" | "sysMs" | "maxRssKb") =>
      median(r.costs.map((c) => c[k]));
    const floor = rows[0];
    const floorWall = med(floor, "wallMs");
    const floorRss = med(floor, "maxRssKb");
    let goalsMet = true;
    const table = rows.map((r) => {
      const wall = med(r, "wallMs");
      const rss = med(r, "maxRssKb");
      const ok = wall <= WALL_GOAL * floorWall && rss - floorRss <= RSS_GOAL_MB * 1024;
      if (r.goal) goalsMet &&= ok;
      const codes = [...new Set(r.costs.map((c) => c.code))].join(",");
      return [
        r.label,
        round(wall, 1),
        round(med(r, "userMs"), 1),
        round(med(r, "sysMs"), 1),
        mb(rss),
        `${round(wall / floorWall, 2)}x`,
        r === floor ? "" : signed(round((rss - floorRss) / 1024, 1)),
        codes,
        r.goal ? met(ok) : "",
      ];
    });
    printTable(
      `start-up cost per command as a process, against ${node} on loopback (median of ${runs}, interleaved;` +
        ` goal: wall <= ${WALL_GOAL}x the floor and peak RSS <= floor + ${RSS_GOAL_MB} MB)`,
      [
        "process",
        "wall ms",
        "user ms",
        "sys ms",
        "peak RSS MB",
        "wall/floor",
        "RSS-floor MB",
        "exit",
        "goal",
      ],
      table,
    );
    for (const r of rows) {
      const bad = r.costs.find((c) => c.code !== r.costs[0].code);
      if (bad) console.log(`'${r.label}' exited differently between runs: ${bad.output.slice(0, 300)}`);
    }
    const modules = await moduleCounts();
    console.log(
      `goals: every erlmesh command within ${WALL_GOAL}x the floor's wall time and ${RSS_GOAL_MB} MB of its` +
        ` RSS: ${met(goalsMet)}`,
    );
    if (!goalsMet) {
      const g = (label: string) => rows.find((r) => r.label.includes(label))!;
      const dw = (r: CommandRow) => signed(round(med(r, "wallMs") - floorWall, 1));
      const dr = (r: CommandRow) => signed(round((med(r, "maxRssKb") - floorRss) / 1024, 1));
      console.log(
        `where the start-up time goes (wall and peak RSS above the floor): 'deno run' of one empty .ts file ` +
          `${dw(g("empty .ts"))} ms ${
            dr(g("empty .ts"))
          } MB (TypeScript stripping, permissions, config and lock` +
          ` file); lib/cli/main.ts and its static imports (a command's module is read and loaded only when chosen) ` +
          `${dw(g("lib/cli/main.ts only"))} ms ${
            dr(g("lib/cli/main.ts only"))
          } MB; @logtape/logtape (loaded by agent and run only, after` +
          ` their first pass: it imports node:util) ${dw(g("npm:@logtape"))} ms ${
            dr(g("npm:@logtape"))
          } MB as npm:,` +
          ` ${dw(g("by path"))} ms ${dr(g("by path"))} MB as its own ESM files by path (so the cost is its` +
          ` modules, not npm resolution); yaml (only with a config file) ${dw(g("yaml"))} ms ${
            dr(g("yaml"))
          } MB.` +
          ` erlmesh's whole graph: ${modules.local} local modules, ${modules.npm} npm packages, ${modules.node}` +
          ` node: builtins.`,
      );
    }
    return {
      rows: rows.map((r) => ({
        label: r.label,
        wallMs: round(med(r, "wallMs"), 1),
        userMs: round(med(r, "userMs"), 1),
        sysMs: round(med(r, "sysMs"), 1),
        rssMb: mb(med(r, "maxRssKb")),
        codes: [...new Set(r.costs.map((c) => c.code))].join(","),
      })),
      floor: { wallMs: round(floorWall, 1), rssMb: mb(floorRss) },
      goalsMet,
      modules,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------
// 5. Agent RSS over time with --http, scraped like Prometheus would.

/**
 * An erlmesh to run as `agent --http`: what follows `deno run FLAGS` (this tree's bundle, see
 * bench/_entry.ts, or another checkout's `main.ts` to compare).
 */
interface AgentVariant {
  label: string;
  entry: string[];
}

/** The directory of a variant's entry file, to run it from. */
const entryDir = (v: AgentVariant) => {
  const file = v.entry.at(-1)!;
  return file.slice(0, file.lastIndexOf("/"));
};

interface AgentFigures {
  label: string;
  /** Spawn → /startupz answers 200, ms. */
  readyMs: number;
  /** CPU (user + system) spent by then, ms. */
  readyCpuMs: number;
  rssReadyMb: number;
  rss1MinMb: number;
  rssEndMb: number;
  rssPeakMb: number;
  hwmMb: number;
  cpuPct: number;
  scrapes: number;
  badScrapes: number;
}

async function fetchText(url: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, text: await r.text() };
}

function agentArgv(entry: string[], node: string, alive: string, port: number): string[] {
  return [
    "env",
    ...NEVER_PASSED.flatMap((k) => ["-u", k]),
    Deno.execPath(),
    ...DENO_FLAGS,
    ...entry,
    "agent",
    "--node",
    node,
    "--basename",
    alive,
    "--hosts",
    "127.0.0.1",
    "--http",
    `127.0.0.1:${port}`,
    "--log-format",
    "json",
  ];
}

/** Starts an agent of `v` with `--http` and waits until its /startupz answers 200 (30 s at most). */
async function startAgentUntilReady(
  v: AgentVariant,
  node: string,
  alive: string,
  env: Record<string, string>,
): Promise<{ child: Deno.ChildProcess; lines: string[]; port: number; readyMs: number }> {
  const port = freePort();
  const argv = agentArgv(v.entry, node, alive, port);
  const t0 = performance.now();
  const { child, lines } = spawnCollecting(argv, env, entryDir(v));
  let exited = false;
  child.status.then(() => (exited = true));
  const end = t0 + 30_000;
  while (true) {
    const r = await fetchText(`http://127.0.0.1:${port}/startupz`, 1000).catch(() => undefined);
    if (r?.status === 200) return { child, lines, port, readyMs: performance.now() - t0 };
    if (exited || performance.now() > end) {
      if (!exited) child.kill("SIGKILL");
      throw new Error(
        `'${v.label}' ${exited ? "exited" : "did not answer"} before /startupz answered 200 (30 s):\n${
          lines.join("\n")
        }`,
      );
    }
    await sleep(5);
  }
}

async function benchAgentRss(
  durationMs: number,
  variants: AgentVariant[],
  hz: number,
): Promise<AgentFigures[]> {
  const cookie = randomCookie();
  const epmdPort = freePort();
  const alive = `rss${randomId(4)}`;
  const node = `${alive}@127.0.0.1`;
  await using _node = await startNode({ name: node, cookie, epmdPort });
  const env = childEnv({ RELEASE_COOKIE: cookie, ERL_EPMD_PORT: String(epmdPort) });
  const procs: { label: string; child: Deno.ChildProcess; lines: string[]; port?: number }[] = [];
  try {
    const idle = new Deno.Command(Deno.execPath(), {
      args: ["eval", "setInterval(() => {}, 5000);"],
      cwd: REPO,
      clearEnv: true,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    procs.push({ label: "idle 'deno eval' (one timer)", child: idle, lines: [] });
    const ready: { readyMs: number; ticks: number; rss: number }[] = [];
    // One at a time, so that their start-ups do not compete for the two cores; each started once before, up
    // to /startupz, so that Deno's cache holds its modules (the --http ones too) as in a pod that ran it before.
    for (const v of variants) {
      const warm = await startAgentUntilReady(v, node, alive, env);
      warm.child.kill("SIGTERM");
      await warm.child.status;
    }
    for (const v of variants) {
      const started = await startAgentUntilReady(v, node, alive, env);
      procs.push({ label: v.label, child: started.child, lines: started.lines, port: started.port });
      const s = await procSample(started.child.pid);
      ready.push({ readyMs: started.readyMs, ticks: s.ticks, rss: s.rss });
    }
    const pids = procs.map((p) => p.child.pid);
    const start = performance.now();
    const first = await Promise.all(pids.map(procSample));
    const peak = first.map((s) => s.rss);
    let at1Min: number[] | undefined;
    let last = first;
    let nextScrape = 0;
    const scrapes = procs.map(() => ({ ok: 0, bad: 0, why: "" }));
    while (performance.now() - start < durationMs) {
      const elapsed = performance.now() - start;
      if (elapsed >= nextScrape) {
        nextScrape += 10_000;
        await Promise.all(procs.map(async (p, i) => {
          if (!p.port) return;
          try {
            const r = await fetchText(`http://127.0.0.1:${p.port}/metrics`, 2000);
            parsePrometheus(r.text);
            if (r.status !== 200 || r.text.includes(cookie)) throw new Error(`status ${r.status}`);
            scrapes[i].ok++;
          } catch (e) {
            scrapes[i].bad++;
            scrapes[i].why ||= String(e);
          }
        }));
      }
      await sleep(Math.max(0, Math.min(1000, durationMs - (performance.now() - start))));
      last = await Promise.all(pids.map(procSample));
      last.forEach((s, i) => (peak[i] = Math.max(peak[i], s.rss)));
      if (!at1Min && performance.now() - start >= 60_000) at1Min = last.map((s) => s.rss);
    }
    const seconds = (performance.now() - start) / 1000;
    for (const [i, s] of scrapes.entries()) {
      if (s.bad) console.log(`'${procs[i].label}': ${s.bad} scrapes failed, first: ${s.why}`);
    }
    return procs.map((p, i) => ({
      label: p.label,
      readyMs: i === 0 ? NaN : round(ready[i - 1].readyMs, 1),
      readyCpuMs: i === 0 ? NaN : round(ready[i - 1].ticks / hz * 1000, 0),
      rssReadyMb: i === 0 ? mb(first[0].rss) : mb(ready[i - 1].rss),
      rss1MinMb: at1Min ? mb(at1Min[i]) : NaN,
      rssEndMb: mb(last[i].rss),
      rssPeakMb: mb(peak[i]),
      hwmMb: mb(last[i].hwm),
      cpuPct: round((last[i].ticks - first[i].ticks) / hz / seconds * 100, 3),
      scrapes: scrapes[i].ok,
      badScrapes: scrapes[i].bad,
    }));
  } finally {
    for (const p of procs) {
      try {
        p.child.kill(p.port ? "SIGTERM" : "SIGKILL");
      } catch { /* gone */ }
      await p.child.status;
    }
  }
}

function printAgentRss(durationMs: number, figures: AgentFigures[]): void {
  printTable(
    `erlmesh agent --http: memory over ${
      round(durationMs / 60_000, 2)
    } min against one OTP 25 node on loopback,` +
      ` /metrics scraped every 10 s (RSS from /proc/PID/status, sampled every second)`,
    [
      "process",
      "ready ms",
      "CPU to ready ms",
      "RSS ready MB",
      "RSS 1 min MB",
      "RSS end MB",
      "RSS peak MB",
      "VmHWM MB",
      "CPU %",
      "scrapes",
      `goal RSS <= ${AGENT_RSS_GOAL_MB} MB`,
    ],
    figures.map((f, i) => [
      f.label,
      Number.isNaN(f.readyMs) ? "" : f.readyMs,
      Number.isNaN(f.readyCpuMs) ? "" : f.readyCpuMs,
      f.rssReadyMb,
      Number.isNaN(f.rss1MinMb) ? "" : f.rss1MinMb,
      f.rssEndMb,
      f.rssPeakMb,
      f.hwmMb,
      f.cpuPct,
      i === 0 ? "" : `${f.scrapes} ok, ${f.badScrapes} failed`,
      i === 0 ? "(context)" : met(f.rssPeakMb <= AGENT_RSS_GOAL_MB),
    ]),
  );
}

/** Options of {@link benchRuntime}; each defaults from the command line (`--agent-seconds=300`, …). */
export interface RuntimeBenchOptions {
  /** How long the agent RSS benchmark runs, s. @default 300 */
  agentSeconds?: number;
  /** Runs of each command in the start-up benchmark (at least 5). @default 7 */
  commandRuns?: number;
  /** Other checkouts' `main.ts` to run beside this one in the agent RSS benchmark, `label=path`. */
  compare?: AgentVariant[];
  /** Sections to run. @default all: commands, agent, footprint, run */
  only?: string[];
}

/** Reads `--agent-seconds=S --runs=K --only=… --compare=LABEL=PATH`. */
export function runtimeOptionsFromArgs(args: string[]): RuntimeBenchOptions {
  const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const seconds = Number(value("agent-seconds") ?? 300);
  const runs = Number(value("runs") ?? 7);
  if (!(seconds > 0) || !(runs >= 5)) {
    throw new Error(
      `Invalid bench options '${args.join(" ")}': expected --agent-seconds=N (N > 0) and --runs=N (N >= 5)`,
    );
  }
  return {
    agentSeconds: seconds,
    commandRuns: runs,
    compare: args.filter((a) => a.startsWith("--compare=")).map((a) => {
      const [label, main] = a.slice("--compare=".length).split("=");
      return { label, entry: [main] };
    }),
    only: value("only")?.split(","),
  };
}

// ---------------------------------------------------------------------------------------------------

/** Runs the runtime benchmarks, prints their tables and returns the figures. */
export async function benchRuntime(
  options: RuntimeBenchOptions = runtimeOptionsFromArgs(Deno.args),
): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  const hz = await clockTicks();
  const want = (s: string) => !options.only || options.only.includes(s);
  const agentMs = (options.agentSeconds ?? 300) * 1000;
  console.log(
    `\nRuntime: start-up cost per command, agent memory with --http, agent footprint in a cluster, erlmesh run's` +
      ` time to first connection, probe latency (OTP 25 nodes, erlmesh as its bundle under 'deno run',` +
      ` ${navigator.hardwareConcurrency} cores, CLK_TCK ${hz})`,
  );
  console.log(
    "The compiled binary ('deno task compile') is not measured: it cannot be built here (deno compile downloads" +
      " its runtime, and that download is blocked). What it is compiled from, the bundle, is: every 'erlmesh'" +
      " row runs it under 'deno run'; the 'from source' rows run main.ts.",
  );
  const commands = want("commands") ? await benchCommands(options.commandRuns ?? 7) : undefined;
  let agent: AgentFigures[] | undefined;
  if (want("agent")) {
    agent = await benchAgentRss(
      agentMs,
      [{ label: "erlmesh agent --http", entry: entryArgs() }, ...(options.compare ?? [])],
      hz,
    );
    printAgentRss(agentMs, agent);
  }
  const footprint = want("footprint") ? await benchFootprint(FOOTPRINT_PODS, hz) : undefined;
  if (footprint) printFootprint(footprint);
  const { reps, probes } = want("run") ? await benchRunAndProbes() : { reps: [], probes: [] };
  if (reps.length) {
    printRun(reps);
    printProbes(probes);
  }
  const totalS = round((Date.now() - t0) / 1000, 1);
  console.log(`
Notes:
- Start-up: each process runs under a python3 wrapper that forks, execs and wait4()s it (wall from fork to
  exit, the child's rusage: CPU in µs, ru_maxrss as peak RSS); commands are interleaved, after one warm-up run
  each, so the module and npm caches are warm as in a pod that has run erlmesh once.
- Agent memory: one 'erlmesh agent --http' (the bundle under 'deno run') per variant against one node, started one after the other
  (each run once before, up to /startupz, to warm Deno's cache); "ready" is spawn → /startupz answering 200, "CPU to
  ready" its utime+stime then; CPU % over the window after ready. Other variants (--compare) are other
  checkouts, e.g. the same commit with prom-client.
- Footprint: the agents are 'erlmesh agent' (the bundle) with startAgent's flags (--log-level debug, default
  intervals); RSS sampled every second from /proc/PID/status, CPU = (utime+stime) delta / CLK_TCK / window.
- run: 'registered' is logged when run sees the node in EPMD NAMES (polled every 10 ms while the node boots), so the
  node may have registered up to ~200 ms earlier; a watcher in the pod (erlmesh's EPMD client, NAMES every 5 ms)
  gives the real moment. The release's pod is not published (not ready), so the first connection is run's own
  dial of the peers it discovered. The first start also starts the pod's EPMD.
- Probes: every command runs in the pod through 'ip netns exec … unshare --uts', with the release's environment
  (ERLANG_NODENAME, $HOME/.erlang.cookie); the baseline row is that wrapper alone. A kubelet exec probe adds the
  container runtime's own exec cost on top. erlmesh runs as its bundle under 'deno run', not compiled.
Total run time: ${totalS} s`);
  return {
    commands,
    agent,
    footprint: footprint && {
      pods: footprint.pods,
      windowS: footprint.windowS,
      agentRssMbMedian: median(footprint.agentRssMb),
      agentRssMbMax: Math.max(...footprint.agentRssMb),
      agentCpuPctMedian: median(footprint.agentCpuPct),
      agentCpuPctMax: Math.max(...footprint.agentCpuPct),
      nodeRssMbMedian: median(footprint.nodeRssMb),
      nodeCpuPctMedian: median(footprint.nodeCpuPct),
      eventsInWindow: footprint.eventsInWindow.length,
    },
    run: reps.length === 0 ? undefined : {
      registeredToFirstJoinMsMedian: median(reps.map((r) => r.toFirstJoinMs)),
      registeredToLocalUpMsMedian: median(reps.map((r) => r.toLocalUpMs)),
      epmdToFirstJoinMsMedian: median(reps.map((r) => r.fromEpmdToFirstJoinMs)),
      detectLagMsMedian: median(reps.map((r) => r.detectLagMs)),
      bootMsMedian: median(reps.map((r) => r.bootMs)),
      reps,
    },
    probes: Object.fromEntries(probes.map((v) => [v.label, {
      medianMs: round(median(v.times), 1),
      p90Ms: round(quantile(v.times, 0.9), 1),
      fails: v.fails,
    }])),
    totalS,
  };
}

if (import.meta.main) await benchRuntime();
