/**
 * Churn and soak (issue 14), measured as a user sees it, in the simulated StatefulSet of the cluster
 * benchmark (network namespaces as pods, real OTP 25 nodes, DNS answering as CoreDNS does).
 *
 * - **Churn**: one sequence of random events (a pod killed and relaunched, a pod partitioned until every
 *   other node dropped it and then healed, a pod added, the highest pod removed) run against the
 *   article's loop in the nodes and against erlmesh agents, the same seeded sequence for both; after
 *   each event, the time until an observer polling every node's `nodes()` sees a full mesh again.
 * - **Soak**: agents at N pods for some minutes while their nodes are killed and restarted under them
 *   and pods are partitioned and healed; every agent's RSS, open file descriptors and TCP connections,
 *   sampled between events: flat, and one connection (the link to the local node) once quiet.
 *
 * Figures, never assertions. Run: `deno task bench churn [--events=100] [--pods=20] [--soak-pods=10]
 * [--soak-minutes=10] [--seed=1]` (root, OTP 25, unbound, iproute2, iptables; under
 * `flock /tmp/erlmesh-heavy.lock` on shared machines).
 *
 * @module
 */
import { type Cluster, type ClusterPod, createCluster } from "../tests/_harness/mod.ts";
import { type Agent, launchAgent } from "../tests/_sim.ts";
import { startObserver } from "./_observer.ts";
import { articleSource, cut, heal, TICKTIME } from "./cluster.ts";
import { median, printTable, quantile, round } from "./_stats.ts";

type Method = "loop" | "agent";
type EventKind = "restart" | "partition" | "scale-out" | "scale-in";

const DEADLINE_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small seeded PRNG (mulberry32), so both methods see the same sequence of events. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The events of one run: kinds and the pod index (among the running pods) each acts on. */
function plan(events: number, seed: number): { kind: EventKind; pick: number }[] {
  const rnd = prng(seed);
  const kinds: EventKind[] = ["restart", "restart", "partition", "scale-out", "scale-in"];
  return Array.from(
    { length: events },
    () => ({ kind: kinds[Math.floor(rnd() * kinds.length)], pick: rnd() }),
  );
}

/** Runs pods of one cluster with one method: launch, kill, and the nodes the observer should see. */
class Pods {
  readonly agents = new Map<string, Agent>();
  constructor(readonly cluster: Cluster, readonly method: Method) {}
  async launch(p: ClusterPod): Promise<void> {
    const svc = this.cluster.serviceFqdn;
    if (this.method === "agent" && !this.agents.has(p.name)) {
      this.agents.set(
        p.name,
        launchAgent(this.cluster, p, {
          args: ["--log-format", "json"],
          env: {
            ERLANG_NODENAME: p.nodeName,
            K8S_HEADLESS_SVC: svc,
            CLUSTER_ERLANG_COOKIE: this.cluster.cookie,
          },
        }),
      );
    }
    await this.cluster.startNode(p, { args: this.method === "loop" ? ["-eval", articleSource(svc)] : [] });
  }
  /** Kills the node (and, unless `keepAgent`, its agent) as a container dies. */
  async kill(p: ClusterPod, keepAgent = false): Promise<void> {
    p.node?.kill("SIGKILL");
    await this.cluster.stopNode(p);
    const a = this.agents.get(p.name);
    if (a && !keepAgent) {
      try {
        Deno.kill(a.pid, "SIGKILL");
      } catch { /* gone */ }
      await a.stop();
      this.agents.delete(p.name);
    }
  }
  async stopAll(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.stop().catch(() => {})));
    this.agents.clear();
  }
  running(): ClusterPod[] {
    return this.cluster.pods.filter((p) => p.node && !p.node.exited);
  }
}

/** One churn run; returns each event's time to full mesh (null: not within the deadline). */
async function churnRun(
  method: Method,
  n: number,
  events: { kind: EventKind; pick: number }[],
  log: (m: string) => void,
): Promise<{ kind: EventKind; ms: number | null }[]> {
  const nodeArgs = ["-kernel", "net_ticktime", String(TICKTIME)];
  await using cluster = await createCluster({ pods: n, kind: "statefulset", ready: true, nodeArgs });
  await using obs = await startObserver(cluster, nodeArgs);
  const pods = new Pods(cluster, method);
  const out: { kind: EventKind; ms: number | null }[] = [];
  try {
    for (const p of cluster.pods) await obs.watch(p);
    const t0 = Date.now();
    await Promise.all(cluster.pods.map((p) => pods.launch(p)));
    log(`${method}: formed in ${await obs.waitFull(cluster.pods, t0, 60_000)} ms`);
    for (const [i, e] of events.entries()) {
      const running = pods.running();
      let kind = e.kind;
      if (kind === "scale-in" && running.length <= n - 3) kind = "scale-out";
      if (kind === "scale-out" && running.length >= n + 3) kind = "scale-in";
      const target = running[Math.floor(e.pick * running.length)];
      let from = Date.now();
      if (kind === "restart") {
        await pods.kill(target);
        await obs.waitDropped(target, running.filter((p) => p !== target), DEADLINE_MS);
        from = Date.now();
        await pods.launch(target);
      } else if (kind === "partition") {
        await cut(cluster, target);
        await obs.waitDropped(target, running.filter((p) => p !== target), DEADLINE_MS);
        from = Date.now();
        await heal(cluster, target);
      } else if (kind === "scale-out") {
        const p = await cluster.addPod({ ready: true });
        await cluster.publish();
        await obs.watch(p);
        from = Date.now();
        await pods.launch(p);
      } else {
        // The highest ordinal goes, as a StatefulSet scales in: its record first, then its containers.
        const last = running.reduce((a, b) => (a.index > b.index ? a : b));
        await cluster.setReady(last, false);
        from = Date.now();
        await pods.kill(last);
        await cluster.removePod(last);
      }
      const ms = await obs.waitFull(pods.running(), from, DEADLINE_MS);
      out.push({ kind, ms });
      if ((i + 1) % 10 === 0 || ms === null) log(`${method}: event ${i + 1} ${kind} → ${ms ?? "timeout"}`);
    }
  } finally {
    await pods.stopAll();
  }
  return out;
}

/** One agent's resources, from /proc and `ss` in its pod. */
async function resources(cluster: Cluster, pod: ClusterPod, pid: number) {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  let fds = 0;
  for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) fds++;
  const ss = await cluster.network.run(pod.name, ["ss", "-Htanp"]);
  const tcp = ss.stdout.split("\n").filter((l) => l.includes(`pid=${pid},`));
  return {
    rssMb: rssKb / 1024,
    fds,
    tcp: tcp.length,
    established: tcp.filter((l) => l.startsWith("ESTAB")).length,
  };
}

/** The soak: agents whose nodes are killed and restarted under them, and pods partitioned, for `minutes`. */
async function soakRun(n: number, minutes: number, seed: number, log: (m: string) => void) {
  const nodeArgs = ["-kernel", "net_ticktime", String(TICKTIME)];
  await using cluster = await createCluster({ pods: n, kind: "statefulset", ready: true, nodeArgs });
  await using obs = await startObserver(cluster, nodeArgs);
  const pods = new Pods(cluster, "agent");
  const rnd = prng(seed);
  const samples: { t: number; rssMb: number; fds: number; tcp: number; established: number }[][] = [];
  const timeouts: string[] = [];
  try {
    for (const p of cluster.pods) await obs.watch(p);
    const t0 = Date.now();
    await Promise.all(cluster.pods.map((p) => pods.launch(p)));
    log(`soak: formed in ${await obs.waitFull(cluster.pods, t0, 60_000)} ms`);
    const end = Date.now() + minutes * 60_000;
    let events = 0;
    while (Date.now() < end) {
      // A quiet moment first (nothing missing): sample every agent.
      await sleep(3000);
      const at = Date.now();
      samples.push(
        await Promise.all(cluster.pods.map(async (p) => ({
          t: at,
          ...await resources(cluster, p, pods.agents.get(p.name)!.pid),
        }))),
      );
      const target = cluster.pods[Math.floor(rnd() * cluster.pods.length)];
      let from = Date.now();
      if (rnd() < 0.6) {
        // The node dies under its running agent and comes back.
        await pods.kill(target, true);
        await obs.waitDropped(target, cluster.pods.filter((p) => p !== target), DEADLINE_MS);
        from = Date.now();
        await pods.launch(target);
      } else {
        await cut(cluster, target);
        await obs.waitDropped(target, cluster.pods.filter((p) => p !== target), DEADLINE_MS);
        from = Date.now();
        await heal(cluster, target);
      }
      events++;
      if ((await obs.waitFull(cluster.pods, from, DEADLINE_MS)) === null) timeouts.push(`event ${events}`);
    }
    log(`soak: ${events} events in ${minutes} min`);
    // Quiet at the end: every agent holds one connection, to its local node.
    await sleep(10_000);
    const final = await Promise.all(
      cluster.pods.map((p) => resources(cluster, p, pods.agents.get(p.name)!.pid)),
    );
    return { samples, final, events, timeouts };
  } finally {
    await pods.stopAll();
  }
}

function parse(args: string[]) {
  const num = (name: string, dflt: number) => {
    const a = args.find((x) => x.startsWith(`--${name}=`));
    const v = a === undefined ? dflt : Number(a.slice(name.length + 3));
    if (!Number.isFinite(v) || v < 0) throw new Error(`Invalid '--${name}' value '${a}': expected a number`);
    return v;
  };
  return {
    events: num("events", 100),
    pods: num("pods", 20),
    soakPods: num("soak-pods", 10),
    soakMinutes: num("soak-minutes", 10),
    seed: num("seed", 1),
  };
}

/** Runs the churn (loop and agent) and the soak, and prints their figures. */
export async function benchChurn(args: string[] = []): Promise<Record<string, unknown>> {
  const o = parse(args);
  const t0 = Date.now();
  const log = (m: string) => console.error(`[churn +${round((Date.now() - t0) / 1000, 1)}s] ${m}`);
  const events = plan(o.events, o.seed);
  const result: Record<string, unknown> = { options: o };
  if (o.events > 0) {
    const runs: Record<Method, { kind: EventKind; ms: number | null }[]> = { loop: [], agent: [] };
    for (const m of ["loop", "agent"] as Method[]) runs[m] = await churnRun(m, o.pods, events, log);
    const rows: string[][] = [];
    const row = (label: string, pick: (e: { kind: EventKind }) => boolean) => {
      const cell = (m: Method) => {
        const all = runs[m].filter(pick);
        const ok = all.map((e) => e.ms).filter((x): x is number => x !== null);
        if (!ok.length) return "-";
        const to = all.length - ok.length;
        return `${round(median(ok))} / ${round(quantile(ok, 0.95))} / ${Math.max(...ok)}${
          to ? ` +${to} timeout` : ""
        }`;
      };
      rows.push([label, String(runs.agent.filter(pick).length), cell("loop"), cell("agent")]);
    };
    row("every event", () => true);
    for (const k of ["restart", "partition", "scale-out", "scale-in"] as EventKind[]) {
      row(k, (e) => e.kind === k);
    }
    printTable(
      `churn: ${o.events} random events over a StatefulSet of ${o.pods} pods (seed ${o.seed}), time from the ` +
        "event to a full mesh seen by the observer, ms (median / p95 / max)",
      ["events", "count", "article's loop", "erlmesh agent"],
      rows,
    );
    result.churn = runs;
  }
  if (o.soakMinutes > 0) {
    const s = await soakRun(o.soakPods, o.soakMinutes, o.seed, log);
    const first = s.samples[0];
    const last = s.samples.at(-1)!;
    const stat = (xs: number[]) => `${round(Math.min(...xs), 1)}–${round(Math.max(...xs), 1)}`;
    const rows = [
      ["RSS, MB", stat(first.map((x) => x.rssMb)), stat(last.map((x) => x.rssMb))],
      ["open file descriptors", stat(first.map((x) => x.fds)), stat(last.map((x) => x.fds))],
      [
        "TCP sockets (established)",
        stat(first.map((x) => x.established)),
        stat(last.map((x) => x.established)),
      ],
    ];
    printTable(
      `soak: ${s.events} events (a node killed under its running agent and restarted, or a pod partitioned and ` +
        `healed) over ${o.soakMinutes} min at N = ${o.soakPods}; each agent, first and last sample (min–max over agents)`,
      ["resource", "first sample", "last sample"],
      rows,
    );
    console.log(
      `quiet at the end: TCP connections per agent ${stat(s.final.map((x) => x.tcp))} (established ${
        stat(s.final.map((x) => x.established))
      }); events not re-meshed within ${DEADLINE_MS / 1000} s: ${
        s.timeouts.length ? s.timeouts.join(", ") : "none"
      }`,
    );
    result.soak = s;
  }
  log(`done`);
  return result;
}

if (import.meta.main) {
  const r = await benchChurn(Deno.args);
  const path = Deno.env.get("BENCH_CHURN_JSON");
  if (path) await Deno.writeTextFile(path, JSON.stringify(r, null, 2));
}
