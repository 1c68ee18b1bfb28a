/**
 * Cluster benchmark: erlmesh against the "article's method" in the same simulated Kubernetes network
 * (network namespaces as pods, Unbound as kube-dns, one real OTP 25 node per pod), side by side in one
 * run, for several cluster sizes.
 *
 * The article's method runs inside each node: 100 ms after boot, then every 5 s, it resolves the
 * Service's SRV record with `inet_res:getbyname/2`, and calls `net_adm:world_list/1` on the targets
 * (EPMD NAMES on every host, then a ping of every node found).
 *
 * erlmesh's method: one `erlmesh agent` per pod (sidecar), started before its node, with its defaults.
 *
 * How "meshed" is measured: every node runs a watcher process (`net_kernel:monitor_nodes(true)`) that
 * records `{erlang:system_time(millisecond), length(nodes())}` on each nodeup/nodedown. The timelines
 * are read back with `eval`, merged, and the first moment at or after the event when every node sees all
 * the others is the "meshed" time. Events are taken with `Date.now()` in this process (same clock).
 *
 * How load is measured, the same way for both methods:
 * - DNS: Unbound's own query counter (`unbound-control stats_noreset`, total.num.queries), i.e. the
 *   queries that really reached kube-dns from all pods (SRV, and the A lookups glibc makes for
 *   `net_adm:names/1` and for dialling), divided by the number of pods.
 * - EPMD: an iptables rule in every pod's INPUT chain counts TCP SYNs to port 4369, i.e. every EPMD
 *   connection (NAMES, PORT_PLEASE2, probes; local ones over loopback included), summed over pods.
 * - rpc: erlmesh's own counter (`rpcs`: calls the agent makes on its local node), scraped from each
 *   agent's /metrics (`erlmesh_rpcs_total`) at the start and end of the window; for the article, the
 *   pings of other nodes that `world_list` answered `pong` (each a `gen_server` call to a remote
 *   `net_kernel`), counted in the node.
 * Self-reported counters (erlmesh's `dnsQueries`/`epmdQueries`; the article's SRV lookups and hosts
 * asked) are printed as extra rows to cross-check.
 *
 * Steady state: erlmesh stays on its fast interval (200 ms) for 30 s after any change ("settle"), so
 * two windows are measured: "just after formation" (the first 20 s after the mesh formed) and "steady
 * state" (a 20 s window that starts once 31 s have passed without change). The article's method has no
 * such phase: its steady-state window is the same 20 s after formation.
 *
 * Run: `deno run -A bench/cluster.ts 3 10 20` (root, OTP 25, unbound, iproute2, iptables).
 *
 * @module
 */
import { type Cluster, type ClusterPod, createCluster, type OtpNode } from "../tests/_harness/mod.ts";
import { printTable, round } from "./_stats.ts";

import { type Agent, METRICS_ARGS, scrapeCounters, startAgent } from "../tests/_sim.ts";
const TICKTIME = 4;
const SCENARIO_DEADLINE_MS = 30_000;
const WINDOW_MS = Number(Deno.env.get("BENCH_CLUSTER_WINDOW_MS") ?? 20_000);
const SETTLE_MS = Number(Deno.env.get("BENCH_CLUSTER_SETTLE_MS") ?? 31_000); // erlmesh's settle window (15 s) plus a wide margin
const PUBLISH_DELAY_MAX_MS = 2000;

type Method = "erlmesh" | "article";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Erlang code injected into the nodes.

/** The watcher: the timeline of `length(nodes())`, registered as `bench_watch`. */
const WATCHER = `
begin
  Now = fun() -> erlang:system_time(millisecond) end,
  W = spawn(fun() ->
    ok = net_kernel:monitor_nodes(true),
    Loop = fun L(Acc) ->
      receive
        {nodeup, _} -> L([{Now(), length(nodes())} | Acc]);
        {nodedown, _} -> L([{Now(), length(nodes())} | Acc]);
        {get, From, Ref} -> From ! {Ref, lists:reverse(Acc)}, L(Acc)
      end
    end,
    Loop([{Now(), length(nodes())}])
  end),
  register(bench_watch, W),
  ok
end.`;

const READ_TIMELINE = `
begin
  R = make_ref(),
  bench_watch ! {get, self(), R},
  receive {R, L} -> L after 3000 -> timeout end
end.`;

/**
 * The article's method, started in the node right after boot. Counters (a `counters` array kept in
 * persistent_term `bench_article`): 1 passes, 2 SRV lookups asked of inet_res (an upper bound on DNS:
 * inet_res:getbyname caches for the TTL; Unbound's counter gives the real queries), 3 hosts asked with
 * EPMD NAMES by world_list, 4 other nodes that answered a ping. inet_res uses the pod's resolv.conf
 * (`ip netns exec` bind-mounts /etc/netns/<pod>/resolv.conf; checked: `inet:get_rc()` shows the pod's
 * nameserver and search list, and getbyname answers), so no explicit nameserver is needed.
 */
function articleSource(svc: string): string {
  return `
begin
  C = counters:new(4, []),
  persistent_term:put(bench_article, C),
  Svc = "_epmd._tcp.${svc}",
  Pass = fun() ->
    counters:add(C, 1, 1),
    counters:add(C, 2, 1),
    Hosts = case inet_res:getbyname(Svc, srv) of
      {ok, {hostent, _, _, srv, _, Recs}} -> [H || {_, _, _, H} <- Recs];
      _ -> []
    end,
    counters:add(C, 3, length(Hosts)),
    Up = net_adm:world_list([list_to_atom(H) || H <- Hosts]),
    counters:add(C, 4, length([N || N <- Up, N =/= node()]))
  end,
  Loop = fun L() -> catch Pass(), timer:sleep(5000), L() end,
  spawn(fun() -> timer:sleep(100), Loop() end),
  ok
end.`;
}

const READ_ARTICLE = `
begin
  C = persistent_term:get(bench_article),
  [counters:get(C, I) || I <- [1, 2, 3, 4]]
end.`;

// ---------------------------------------------------------------------------------------------------
// erlmesh agents: tests/_sim.ts's, serving /metrics (METRICS_ARGS); scrapeCounters() reads their counters.

type Counters = Record<string, number>;
type BenchAgent = Agent;

function numericCounters(x: unknown): Counters | undefined {
  if (!x || typeof x !== "object") return undefined;
  return Object.fromEntries(Object.entries(x).filter(([, v]) => typeof v === "number")) as Counters;
}

// ---------------------------------------------------------------------------------------------------
// Measuring.

type Timeline = [number, number][];

async function readTimeline(node: OtpNode | undefined): Promise<Timeline | undefined> {
  if (!node || node.exited) return undefined;
  try {
    const out = await node.eval(READ_TIMELINE, 3000);
    return [...out.matchAll(/\{(\d+),(\d+)\}/g)].map((m) => [Number(m[1]), Number(m[2])]);
  } catch {
    return undefined;
  }
}

/**
 * The first time at or after `from` when every timeline shows `want` peers (a node whose timeline has
 * not started yet counts as not meshed), or undefined.
 */
export function meshedAt(timelines: Timeline[], want: number, from: number): number | undefined {
  const evs = timelines.flatMap((tl, i) => tl.map(([t, c]) => ({ t, i, c }))).sort((a, b) => a.t - b.t);
  const cur = timelines.map(() => -1);
  const full = () => cur.every((c) => c === want);
  let k = 0;
  while (k < evs.length && evs[k].t <= from) cur[evs[k].i] = evs[k++].c;
  if (full()) return from;
  while (k < evs.length) {
    const t = evs[k].t;
    while (k < evs.length && evs[k].t === t) cur[evs[k].i] = evs[k++].c;
    if (full()) return t;
  }
  return undefined;
}

const DEBUG = Deno.env.get("BENCH_CLUSTER_DEBUG") === "1";

/** Waits until the running nodes of `pods` are fully meshed; ms from `event`, or undefined (timeout). */
async function waitMeshed(
  pods: ClusterPod[],
  event: number,
  agents?: Map<string, BenchAgent>,
  deadlineMs = SCENARIO_DEADLINE_MS,
) {
  const end = event + deadlineMs;
  while (true) {
    const tls = await Promise.all(pods.map((p) => readTimeline(p.node)));
    const t = tls.every((x) => x !== undefined)
      ? meshedAt(tls as Timeline[], pods.length - 1, event)
      : undefined;
    if (t !== undefined || Date.now() > end) {
      if (DEBUG) debugDump(pods, tls, event, agents);
      return t === undefined ? undefined : { ms: t - event, at: t };
    }
    await sleep(250);
  }
}

/** BENCH_CLUSTER_DEBUG=1: the nodes' timelines and the agents' events around a scenario, on stderr. */
function debugDump(
  pods: ClusterPod[],
  tls: (Timeline | undefined)[],
  event: number,
  agents?: Map<string, BenchAgent>,
): void {
  const lines: [number, string][] = [];
  pods.forEach((p, i) => {
    for (const [t, c] of tls[i] ?? []) if (t >= event - 6000) lines.push([t - event, `${p.name} nodes=${c}`]);
    for (const e of agents?.get(p.name)?.events() ?? []) {
      const t = Date.parse(String(e["@timestamp"])) - event;
      if (t >= -6000 && e.event) {
        lines.push([t, `${p.name} agent ${e.event} ${e.node ?? ""} ${e.code ?? ""} ${e.reason ?? ""}`]);
      }
    }
  });
  lines.sort((a, b) => a[0] - b[0]);
  console.error(lines.map(([t, l]) => `    ${String(t).padStart(7)} ms  ${l}`).join("\n"));
}

async function unboundQueries(cluster: Cluster): Promise<number> {
  const r = await cluster.network.run("node", [
    "unbound-control",
    "-c",
    `${cluster.dns.dir}/unbound.conf`,
    "stats_noreset",
  ], { timeoutMs: 10_000 });
  const m = /^total\.num\.queries=(\d+)$/m.exec(r.stdout);
  if (!m) throw new Error(`Cannot read Unbound's counters: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

async function countEpmdSyns(cluster: Cluster, pod: ClusterPod): Promise<void> {
  const r = await cluster.network.run(pod.name, [
    "iptables",
    "-A",
    "INPUT",
    "-p",
    "tcp",
    "--dport",
    "4369",
    "--syn",
    "-m",
    "comment",
    "--comment",
    "bench-epmd",
  ]);
  if (r.code !== 0) throw new Error(`Cannot add the EPMD counting rule in ${pod.name}: ${r.stderr}`);
}

async function epmdSyns(cluster: Cluster, pods: ClusterPod[]): Promise<number> {
  const counts = await Promise.all(pods.map(async (p) => {
    const r = await cluster.network.run(p.name, ["iptables", "-L", "INPUT", "-v", "-n", "-x"]);
    const line = r.stdout.split("\n").find((l) => l.includes("bench-epmd"));
    if (!line) throw new Error(`Cannot read the EPMD counting rule in ${p.name}: ${r.stdout}${r.stderr}`);
    return Number(line.trim().split(/\s+/)[0]);
  }));
  return counts.reduce((a, b) => a + b, 0);
}

interface Snapshot {
  at: number;
  dns: number;
  epmd: number;
  /** Self-reported, summed over pods: erlmesh dnsQueries/epmdQueries/rpcs; article srv/hosts/pings. */
  self?: { dns: number; epmd: number; rpc: number };
}

async function snapshot(
  cluster: Cluster,
  pods: ClusterPod[],
  method: Method,
  agents: Map<string, BenchAgent>,
  statsOk: boolean,
): Promise<Snapshot> {
  const at = Date.now();
  const [dns, epmd, self] = await Promise.all([
    unboundQueries(cluster),
    epmdSyns(cluster, pods),
    (async () => {
      if (method === "article") {
        const outs = await Promise.all(pods.map((p) => p.node!.eval(READ_ARTICLE, 5000)));
        const sum = [0, 0, 0, 0];
        for (const o of outs) {
          const v = (o.match(/\d+/g) ?? []).map(Number);
          if (v.length !== 4) return undefined;
          v.forEach((x, i) => (sum[i] += x));
        }
        return { dns: sum[1], epmd: sum[2], rpc: sum[3] };
      }
      if (!statsOk) return undefined;
      const scraped = await scrapeCounters(cluster, pods.filter((p) => agents.has(p.name)));
      const all = pods.map((p) => scraped.get(p.name));
      if (all.some((c) => !c)) return undefined;
      const sum = (k: string) => all.reduce((a, c) => a + (c![k] ?? 0), 0);
      return { dns: sum("dnsQueries"), epmd: sum("epmdQueries"), rpc: sum("rpcs") };
    })(),
  ]);
  return { at, dns, epmd, self };
}

interface Rates {
  windowS: number;
  dns: number;
  epmd: number;
  rpc?: number;
  selfDns?: number;
  selfEpmd?: number;
}

function rates(a: Snapshot, b: Snapshot, pods: number): Rates {
  const min = (b.at - a.at) / 60_000;
  const per = (x: number) => round(x / pods / min, 1);
  return {
    windowS: round((b.at - a.at) / 1000, 1),
    dns: per(b.dns - a.dns),
    epmd: per(b.epmd - a.epmd),
    rpc: a.self && b.self ? per(b.self.rpc - a.self.rpc) : undefined,
    selfDns: a.self && b.self ? per(b.self.dns - a.self.dns) : undefined,
    selfEpmd: a.self && b.self ? per(b.self.epmd - a.self.epmd) : undefined,
  };
}

/** When the pod's agent saw its node and its peers after `event`, from its log (for the stderr log). */
function agentDiag(agent: BenchAgent | undefined, event: number): string {
  if (!agent) return "";
  const after = agent.events()
    .map((e) => ({ event: String(e.event), code: e.code, t: Date.parse(String(e["@timestamp"])) - event }))
    .filter((e) => e.t >= -1000 && ["local_up", "local_down", "join", "connect_failed"].includes(e.event));
  const up = after.find((e) => e.event === "local_up");
  const joins = after.filter((e) => e.event === "join").map((e) => e.t);
  const failed = after.filter((e) => e.event === "connect_failed").map((e) => `${e.code}@${e.t}`);
  return `; agent: local_up +${up?.t ?? "?"} ms, joins +${joins.length ? Math.min(...joins) : "?"}..+${
    joins.length ? Math.max(...joins) : "?"
  } ms (${joins.length})${failed.length ? `, connect_failed ${failed.join(" ")}` : ""}`;
}

// ---------------------------------------------------------------------------------------------------
// One method, one size.

interface MethodResult {
  method: Method;
  pods: number;
  /** ms, or null on timeout. */
  formationMs: number | null;
  /** From the last node registered (not the last record published) to full mesh, ms. */
  formationFromBootMs: number | null;
  scaleOutMs: number | null;
  restartMs: number | null;
  partitionHealMs: number | null;
  /** How long the partition lasted (until every other node had dropped the pod), ms. */
  partitionMs: number | null;
  afterFormation: Rates;
  steady: Rates;
  /** erlmesh: counters from the agents' final log lines; article: none. */
  finalCounters?: Record<string, Counters>;
  /** Suspicious agent log lines (connect_failed, discovery_failed, local_down), first few. */
  notes: string[];
  durationS: number;
}

async function runMethod(method: Method, n: number, statsOk: boolean): Promise<MethodResult> {
  const t0 = Date.now();
  await using cluster = await createCluster({
    pods: n,
    kind: "statefulset",
    ready: false,
    nodeArgs: ["-kernel", "net_ticktime", String(TICKTIME)],
  });
  const agents = new Map<string, BenchAgent>();
  const svc = cluster.serviceFqdn;
  const log = (msg: string) =>
    console.error(`[${method} N=${n} +${round((Date.now() - t0) / 1000, 1)}s] ${msg}`);

  /** Starts the pod's node, injects the watcher (and the article's loop), returns when registered. */
  const boot = async (p: ClusterPod): Promise<number> => {
    const node = await cluster.startNode(p);
    const registered = Date.now();
    const w = await node.eval(WATCHER);
    if (w !== "ok") throw new Error(`Cannot start the watcher on ${p.name}: ${w}`);
    if (method === "article") {
      const a = await node.eval(articleSource(svc));
      if (a !== "ok") throw new Error(`Cannot start the article's loop on ${p.name}: ${a}`);
    }
    return registered;
  };
  /** Publishes the pod 0–2 s after `from` (readiness gating); resolves with the time it was published. */
  const publishLater = async (p: ClusterPod): Promise<number> => {
    await sleep(Math.random() * PUBLISH_DELAY_MAX_MS);
    await cluster.setReady(p, true);
    return Date.now();
  };
  const startAgentIn = async (p: ClusterPod) => {
    const a = startAgent(cluster, p, { args: ["--service", cluster.service, ...METRICS_ARGS] });
    agents.set(p.name, a);
    const end = Date.now() + 30_000;
    while (!a.events().some((e) => typeof e.message === "string" && e.message.includes("agent started"))) {
      if (Date.now() > end) throw new Error(`The agent in ${p.name} did not start:\n${a.log()}`);
      await sleep(100);
    }
  };

  const notes: string[] = [];
  let result: MethodResult | undefined;
  try {
    for (const p of cluster.pods) await countEpmdSyns(cluster, p);
    const original = [...cluster.pods];

    // 1. Formation: all pods start together; each is published 0–2 s after its node registered.
    if (method === "erlmesh") {
      await Promise.all(original.map((p) => startAgentIn(p)));
      log("agents started");
    }
    const registered: number[] = [];
    const published = await Promise.all(
      original.map((p) => boot(p).then((t) => (registered.push(t), publishLater(p)))),
    );
    const lastPublished = Math.max(...published);
    const lastRegistered = Math.max(...registered);
    log("all nodes started and published");
    const formation = await waitMeshed(original, lastPublished, agents);
    const fromBoot = formation
      ? meshedAt(
        (await Promise.all(original.map((p) => readTimeline(p.node)))).map((t) => t ?? []),
        n - 1,
        lastRegistered,
      )
      : undefined;
    const formationFromBootMs = fromBoot === undefined ? null : fromBoot - lastRegistered;
    log(
      `formation: ${
        formation ? formation.ms + " ms" : "timeout"
      }; from the last node registered: ${formationFromBootMs} ms`,
    );

    // 2. Load just after formation, then in steady state.
    const formedAt = Math.max(formation?.at ?? Date.now(), lastPublished);
    await sleep(Math.max(0, formedAt - Date.now()));
    const s0 = await snapshot(cluster, original, method, agents, statsOk);
    await sleep(WINDOW_MS);
    const s1 = await snapshot(cluster, original, method, agents, statsOk);
    const afterFormation = rates(s0, s1, n);
    let steady = afterFormation;
    if (method === "erlmesh") {
      await sleep(Math.max(0, formedAt + SETTLE_MS - Date.now()));
      const s2 = await snapshot(cluster, original, method, agents, statsOk);
      await sleep(WINDOW_MS);
      const s3 = await snapshot(cluster, original, method, agents, statsOk);
      steady = rates(s2, s3, n);
    }
    log(`steady state: ${JSON.stringify(steady)}`);

    // 3. Scale out: a new pod; its node registered → meshed with all.
    const np = await cluster.addPod({ ready: false });
    if (method === "erlmesh") await startAgentIn(np);
    const scaleEvent = await boot(np);
    const pub = publishLater(np);
    const scaleOut = await waitMeshed(cluster.pods, scaleEvent, agents);
    await pub;
    await sleep(1000);
    log(
      `scale out: ${scaleOut ? scaleOut.ms + " ms" : "timeout"}${agentDiag(agents.get(np.name), scaleEvent)}`,
    );

    // 4. Restart: one node stops and starts again (its pod stays published; erlmesh's agent keeps running).
    const rp = cluster.pods[1];
    await cluster.stopNode(rp);
    await sleep(500);
    const restartEvent = await boot(rp);
    const restart = await waitMeshed(cluster.pods, restartEvent, agents);
    await sleep(1000);
    log(
      `restart: ${restart ? restart.ms + " ms" : "timeout"}${agentDiag(agents.get(rp.name), restartEvent)}`,
    );

    // 5. Partition of one pod, until every other node has dropped it (net_ticktime 4 s), then heal.
    const cp = cluster.pods[Math.floor(n / 2)];
    const others = cluster.pods.filter((p) => p !== cp);
    const cutAt = Date.now();
    await cluster.network.partition(cp.name);
    let dropped = false;
    while (Date.now() < cutAt + SCENARIO_DEADLINE_MS) {
      const seen = await Promise.all(others.map((p) => p.node!.eval("nodes().", 3000).catch(() => "")));
      if (seen.every((s) => s !== "" && !s.includes(`'${cp.nodeName}'`))) {
        dropped = true;
        break;
      }
      await sleep(250);
    }
    const partitionMs = dropped ? Date.now() - cutAt : null;
    const healEvent = Date.now();
    await cluster.network.heal(cp.name);
    const heal = dropped ? await waitMeshed(cluster.pods, healEvent, agents) : undefined;
    log(`partition heal: ${heal ? heal.ms + " ms" : "timeout"} (partitioned ${partitionMs} ms)`);

    result = {
      method,
      pods: n,
      formationMs: formation?.ms ?? null,
      formationFromBootMs,
      scaleOutMs: scaleOut?.ms ?? null,
      restartMs: restart?.ms ?? null,
      partitionHealMs: heal?.ms ?? null,
      partitionMs,
      afterFormation,
      steady,
      notes,
      durationS: 0,
    };
  } finally {
    await Promise.all([...agents.values()].map((a) => a.stop().catch(() => {})));
    if (result && method === "erlmesh") {
      result.finalCounters = {};
      for (const [name, a] of agents) {
        const ev = a.events();
        const last = [...ev].reverse().find((e) => e.counters !== undefined);
        const c = numericCounters(last?.counters);
        if (c) result.finalCounters[name] = c;
        for (const e of ev) {
          if (["connect_failed", "discovery_failed", "local_down"].includes(String(e.event))) {
            if (notes.length < 40) {
              notes.push(
                `${name} ${e["@timestamp"]} ${e.event} ${e.node ?? ""} ${e.code ?? ""} ${e.reason ?? ""}`,
              );
            }
          }
        }
      }
    }
  }
  result!.durationS = round((Date.now() - t0) / 1000, 1);
  return result!;
}

// ---------------------------------------------------------------------------------------------------
// Table.

function secs(ms: number | null): string {
  return ms === null ? "timeout" : `${round(ms / 1000, 2).toFixed(2)} s`;
}

function ratio(erl: number | null | undefined, art: number | null | undefined, digits = 1): string {
  if (erl === null || erl === undefined || art === null || art === undefined) return "-";
  if (erl === 0) return art === 0 ? "=" : "∞";
  return `${round(art / erl, digits)}x`;
}

function num(x: number | undefined): string {
  return x === undefined ? "n/a" : String(x);
}

function printSize(e: MethodResult, a: MethodResult): void {
  const rows: (string | number)[][] = [
    [
      "formation (last record published → full mesh)",
      secs(e.formationMs),
      secs(a.formationMs),
      ratio(e.formationMs, a.formationMs),
    ],
    [
      "  formation (last node registered → full mesh)",
      secs(e.formationFromBootMs),
      secs(a.formationFromBootMs),
      ratio(e.formationFromBootMs, a.formationFromBootMs),
    ],
    [
      "scale out (new node registered → meshed)",
      secs(e.scaleOutMs),
      secs(a.scaleOutMs),
      ratio(e.scaleOutMs, a.scaleOutMs),
    ],
    [
      "restart (node re-registered → re-meshed)",
      secs(e.restartMs),
      secs(a.restartMs),
      ratio(e.restartMs, a.restartMs),
    ],
    [
      "partition heal (heal → re-meshed)",
      secs(e.partitionHealMs),
      secs(a.partitionHealMs),
      ratio(e.partitionHealMs, a.partitionHealMs),
    ],
    ["DNS/min/pod, steady (Unbound)", e.steady.dns, a.steady.dns, ratio(e.steady.dns, a.steady.dns)],
    [
      "EPMD/min/pod, steady (SYNs to 4369)",
      e.steady.epmd,
      a.steady.epmd,
      ratio(e.steady.epmd, a.steady.epmd),
    ],
    ["rpc/min/pod, steady", num(e.steady.rpc), num(a.steady.rpc), ratio(e.steady.rpc, a.steady.rpc)],
    ["  self-reported DNS/min/pod, steady", num(e.steady.selfDns), num(a.steady.selfDns), ""],
    ["  self-reported EPMD/min/pod, steady", num(e.steady.selfEpmd), num(a.steady.selfEpmd), ""],
    [
      "  DNS/min/pod, 20 s after formation",
      e.afterFormation.dns,
      a.afterFormation.dns,
      ratio(e.afterFormation.dns, a.afterFormation.dns),
    ],
    [
      "  EPMD/min/pod, 20 s after formation",
      e.afterFormation.epmd,
      a.afterFormation.epmd,
      ratio(e.afterFormation.epmd, a.afterFormation.epmd),
    ],
    [
      "  rpc/min/pod, 20 s after formation",
      num(e.afterFormation.rpc),
      num(a.afterFormation.rpc),
      ratio(e.afterFormation.rpc, a.afterFormation.rpc),
    ],
  ];
  printTable(
    `cluster: N = ${e.pods} pods`,
    ["figure", "erlmesh", "article", "ratio (article/erlmesh)"],
    rows,
  );
  console.log(
    `(partition lasted ${secs(e.partitionMs)} / ${
      secs(a.partitionMs)
    } until every other node dropped the pod;` +
      ` run took ${e.durationS} s / ${a.durationS} s)`,
  );
}

/**
 * Runs both methods for each size, one cluster at a time, prints one table per size, and returns all
 * figures.
 */
export async function benchCluster(sizes = [3, 10, 20]): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  const statsOk = true;
  console.log(
    `\nCluster formation and upkeep: erlmesh agent vs the article's method (inet_res SRV + net_adm:world_list` +
      ` every 5 s), OTP 25 nodes, net_ticktime ${TICKTIME}, DNS TTL 5 s, records published 0–2 s after each node starts`,
  );
  const out: Record<string, unknown> = { sizes, statsSupported: statsOk };
  const results: Record<string, { erlmesh: MethodResult; article: MethodResult }> = {};
  const only = Deno.env.get("BENCH_CLUSTER_ONLY"); // debugging: run one method only
  for (const n of sizes) {
    if (only === "article" || only === "erlmesh") {
      console.log(JSON.stringify(await runMethod(only, n, statsOk)));
      continue;
    }
    const erlmesh = await runMethod("erlmesh", n, statsOk);
    const article = await runMethod("article", n, statsOk);
    results[String(n)] = { erlmesh, article };
    printSize(erlmesh, article);
  }
  const totalS = round((Date.now() - t0) / 1000, 1);
  console.log(`
Notes:
- Times: from the event (Date.now() here) to the first moment every node's own nodeup/nodedown timeline shows all
  the others (watcher process per node). "timeout" = not within ${SCENARIO_DEADLINE_MS / 1000} s.
- Formation: nodes start together; each pod is published 0–2 s after its node registered. If the mesh was complete
  before the last record was published, the figure is 0 (a pod connects to the peers already listed before its own
  record appears); the row below it counts from the last node registered instead.
- DNS at N >= 10: an SRV answer that large is truncated over UDP and asked again over TCP (2 queries at Unbound).
- Scale out: the new pod is published 0–2 s after its node registered (the new node dials the listed peers itself in
  both methods). Restart: node halted, 0.5 s, started again; its record stays published; erlmesh's agent keeps running.
- Partition: every IP packet in or out of the pod is dropped (iptables in the pod; ARP stays up) until every other
  node has dropped it (net_ticktime ${TICKTIME}), then the rules go.
- DNS: queries that reached Unbound (all pods) / pods; EPMD: TCP SYNs to port 4369 counted by iptables in every pod
  (local and remote) / pods. rpc: erlmesh's agent counter 'rpcs' (/metrics erlmesh_rpcs_total${
    statsOk ? "" : "; NOT available in this tree: n/a"
  }); article:
  pings of other nodes answered pong. Self-reported: erlmesh's dnsQueries/epmdQueries; article's SRV lookups asked
  (upper bound: inet_res caches for the TTL) and hosts asked with NAMES.
- Steady state: 20 s windows, per minute. erlmesh's window starts ${
    SETTLE_MS / 1000
  } s after formation (after its 15 s
  "settle" phase, which polls every 500 ms); the article's is the 20 s right after formation (it has no such phase).
Total run time: ${totalS} s`);
  out.results = results;
  out.totalS = totalS;
  return out;
}

if (import.meta.main) {
  const sizes = Deno.args.map(Number).filter((x) => Number.isInteger(x) && x >= 2);
  const r = await benchCluster(sizes.length ? sizes : undefined);
  const path = Deno.env.get("BENCH_CLUSTER_JSON");
  if (path) await Deno.writeTextFile(path, JSON.stringify(r, null, 2));
}
