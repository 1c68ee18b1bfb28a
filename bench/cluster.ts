/**
 * Cluster benchmark: formation as a user experiences it, erlmesh's agent side by side with the article's
 * loop in the same run, in a simulated StatefulSet (network namespaces as pods, Unbound as kube-dns with
 * TTL 5 s, one real OTP 25 node per pod, net_ticktime 4 s).
 *
 * - The article's loop runs inside each node from boot (`-eval`): 100 ms after boot, then every 5 s, it
 *   resolves `_epmd._tcp.<svc>` with `inet_res:getbyname/2` and calls `net_adm:world_list/1` on the targets.
 * - erlmesh: one `erlmesh agent` per pod, configured only by the article's variables (`ERLANG_NODENAME`,
 *   `K8S_HEADLESS_SVC`, `CLUSTER_ERLANG_COOKIE`), run from the bundle (`deno task bundle`, bench/_entry.ts) with `deno run`; also with every agent
 *   under 100 millicores (a cgroup v1 `cpu.cfs_quota_us`, as a sidecar's `limits.cpu: 100m`).
 * - Node and agent are launched at the same instant, as a pod's containers are; the clock starts there.
 * - "Meshed" is read by an observer (bench/_observer.ts): a hidden node on the bridge polling every node's
 *   `nodes()` every 100 ms; the first poll at which every node lists all the others.
 * - A partition drops every packet of the pod, DNS included (iptables in the pod), but lets the observer's
 *   own traffic through, so a heal does not also time the observer's reconnect.
 * - After formation, DNS queries (Unbound's counter) and EPMD connections (TCP SYNs to 4369 counted by
 *   iptables in every pod) per pod and minute, from 5 s to 35 s after formation.
 * - Variants: a caching resolver in front (a second Unbound, cache-min-ttl 30, cache-max-negative-ttl 30,
 *   as older kubeadm Corefiles or NodeLocal DNSCache), `connect_all false` on the nodes, TLS
 *   distribution (`-proto_dist inet_tls` nodes, agents with the TLS files), and an IPv6-only cluster
 *   (`ipv6`: pods with IPv6 addresses only, AAAA records, `-proto_dist inet6_tcp` nodes, agents told
 *   `ERLMESH_PROTO_DIST=inet6_tcp`, partitions with ip6tables; the article's loop needs one line more there,
 *   see {@link articleSource}), and EPMD-less nodes (`epmdless`: no EPMD in any pod, every node on distribution
 *   port {@link EPMDLESS_PORT}, agents told `ERLMESH_DIST_PORT`, an observer that dials that port; agent only, as
 *   the article's loop asks EPMD through `net_adm:world_list`).
 *
 * Figures, never assertions: each is the median and range of the runs; the issue's goals are printed
 * beside them as met / NOT MET.
 *
 * Run: `deno task bench cluster [--quick] [--runs=K] [N…]` (default N = 3 and 10, 3 runs; `--quick`: N = 3,
 * 1 run; add `20` for N = 20). Root, OTP 25, unbound, iproute2, iptables, cgroup v1 `cpu`. Run it under
 * `flock /tmp/erlmesh-heavy.lock` on shared machines.
 *
 * @module
 */
import { type Cluster, type ClusterPod, createCluster, tempPrefix } from "../tests/_harness/mod.ts";
import { type CachingDns, startCachingDns, unboundQueryCount } from "../tests/_harness/dns.ts";
import { type CpuLimit, cpuLimitUnavailableReason, createCpuLimit } from "../tests/_harness/cgroup.ts";
import { type Agent, launchAgent, tlsEnv } from "../tests/_sim.ts";
import { makePki, type NodeTls, nodeTlsArgs, podCert } from "../tests/_harness/tls.ts";
import { type Observer, startObserver } from "./_observer.ts";
import { type KubeApiControl, startKubeApiIn } from "../tests/_kubeapi.ts";
import { median, printTable, round } from "./_stats.ts";
import { commitLine, withBundle } from "./_entry.ts";

/** net_ticktime of the benchmark's nodes, s: a partition drops a link after about this long. */
export const TICKTIME = 4;
const DEBUG = Deno.env.get("BENCH_CLUSTER_DEBUG") === "1";
/** Where each dump is written whole (BENCH_CLUSTER_DUMP_DIR), besides its first 80 lines on stderr. */
const DUMP_DIR = Deno.env.get("BENCH_CLUSTER_DUMP_DIR");
const AGENT_LOG_LEVEL = Deno.env.get("BENCH_CLUSTER_AGENT_LOG_LEVEL");
const DEADLINE_MS = 30_000;
const WINDOW_FROM_MS = 5_000;
const WINDOW_MS = Number(Deno.env.get("BENCH_CLUSTER_WINDOW_MS") ?? 30_000);
const PUBLISH_DELAY_MAX_MS = 2000;
const AGENT_MILLICORES = 100;

/** Who meshes the nodes. */
export type Method = "loop" | "agent" | "agent100m";
/** The DNS and node set-up. */
export type Variant = "base" | "cache" | "noconnectall" | "kubernetes" | "tls" | "ipv6" | "epmdless";

/** The distribution port of every node in the `epmdless` variant (no EPMD anywhere in the pods). */
export const EPMDLESS_PORT = 4370;

const METHOD_LABEL: Record<Method, string> = {
  loop: "article's loop",
  agent: "erlmesh agent",
  agent100m: "agent, 100m",
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU time (user + system, ms) a process has used so far, from `/proc/<pid>/stat`; null once it is gone. */
export async function cpuMsOf(pid: number): Promise<number | null> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces), counted from field 3: utime is 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/**
 * The article's loop, passed to each node as `-eval` so it starts at boot, inside the node. With `inet6`
 * (an IPv6-only cluster) it first sets the resolver option `inet6` (what `{inet6, true}` in an inetrc file
 * does): `net_adm:world_list/1` asks EPMD at `inet:gethostbyname/1` of each host, which looks up A records
 * only without it, and an IPv6-only cluster has none (`{error,nxdomain}`, so the loop would find nobody).
 */
export function articleSource(svc: string, options: { inet6?: boolean } = {}): string {
  return `
begin${options.inet6 ? "\n  ok = inet_db:res_option(inet6, true)," : ""}
  Svc = "_epmd._tcp.${svc}",
  Pass = fun() ->
    Hosts = case inet_res:getbyname(Svc, srv) of
      {ok, {hostent, _, _, srv, _, Recs}} -> [H || {_, _, _, H} <- Recs];
      _ -> []
    end,
    net_adm:world_list([list_to_atom(H) || H <- Hosts])
  end,
  Loop = fun L() -> catch Pass(), timer:sleep(5000), L() end,
  spawn(fun() -> timer:sleep(100), Loop() end),
  ok
end.`;
}

// ---------------------------------------------------------------------------------------------------
// Counting load.

/**
 * Counts TCP SYNs to 4369 in the pod: all of them (`bench-epmd`), and those not from loopback
 * (`bench-epmd-peer`: another pod's, or this pod's agent asking its node's host, which is the pod's IP, not
 * the loopback address an EPMD-less node tries once at boot to register at).
 */
async function addEpmdCounter(cluster: Cluster, pod: ClusterPod): Promise<void> {
  const lo = cluster.network.family === 6 ? "::1/128" : "127.0.0.0/8";
  for (const [comment, match] of [["bench-epmd", []], ["bench-epmd-peer", ["!", "-s", lo]]] as const) {
    const r = await cluster.network.run(pod.name, [
      cluster.network.iptables,
      "-w",
      "-A",
      "INPUT",
      "-p",
      "tcp",
      "--dport",
      "4369",
      "--syn",
      ...match,
      "-m",
      "comment",
      "--comment",
      comment,
    ]);
    if (r.code !== 0) {
      throw new Error(`Cannot add the EPMD counting rule in '${pod.name}': ${r.stderr.trim()}`);
    }
  }
}

/** The SYNs counted by the rule `comment` of {@link addEpmdCounter} in the pods. */
async function epmdSyns(cluster: Cluster, pods: ClusterPod[], comment = "bench-epmd"): Promise<number> {
  const counts = await Promise.all(pods.map(async (p) => {
    const r = await cluster.network.run(p.name, [
      cluster.network.iptables,
      "-w",
      "-L",
      "INPUT",
      "-v",
      "-n",
      "-x",
    ]);
    const line = r.stdout.split("\n").find((l) => l.includes(`/* ${comment} */`));
    if (!line) throw new Error(`Cannot read the EPMD counting rule in '${p.name}': ${r.stdout}${r.stderr}`);
    return Number(line.trim().split(/\s+/)[0]);
  }));
  return counts.reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------------------------------------------
// Partitions that cut DNS too, but not the observer.

async function iptablesRestore(cluster: Cluster, pod: ClusterPod, rules: string): Promise<void> {
  const cmd = cluster.network.command(pod.name, [`${cluster.network.iptables}-restore`, "-w", "-n"]);
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(rules));
  await w.close();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  const out = await child.output();
  clearTimeout(timer);
  if (!out.success) {
    throw new Error(
      `Cannot apply iptables rules in '${pod.name}': ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/**
 * Drops every packet of the pod, DNS included, except the observer's (on the gateway, not port 53); IPv6:
 * ip6tables, and ICMPv6 (neighbour discovery, IPv6's ARP, which iptables never sees) passes.
 */
export async function cut(cluster: Cluster, pod: ClusterPod): Promise<void> {
  const v6 = cluster.network.family === 6;
  const gw = `${cluster.network.gateway}/${v6 ? 128 : 32}`;
  const nd = (chain: string) => v6 ? `-A ${chain} -p icmpv6 -j RETURN\n` : "";
  await iptablesRestore(
    cluster,
    pod,
    `*filter
:EMCUT_IN - [0:0]
:EMCUT_OUT - [0:0]
-A EMCUT_IN -p udp --sport 53 -j DROP
-A EMCUT_IN -p tcp --sport 53 -j DROP
-A EMCUT_IN -s ${gw} -j RETURN
${nd("EMCUT_IN")}-A EMCUT_IN -i eth0 -j DROP
-A EMCUT_OUT -p udp --dport 53 -j DROP
-A EMCUT_OUT -p tcp --dport 53 -j DROP
-A EMCUT_OUT -d ${gw} -j RETURN
${nd("EMCUT_OUT")}-A EMCUT_OUT -o eth0 -j DROP
-I INPUT 1 -j EMCUT_IN
-I OUTPUT 1 -j EMCUT_OUT
COMMIT
`,
  );
}

/** Undoes {@link cut} in one transaction. */
export async function heal(cluster: Cluster, pod: ClusterPod): Promise<void> {
  await iptablesRestore(cluster, pod, `*filter\n-D INPUT -j EMCUT_IN\n-D OUTPUT -j EMCUT_OUT\nCOMMIT\n`);
}

// ---------------------------------------------------------------------------------------------------
// One cluster: one method, one variant, one size, one run.

/** The figures of one cluster, ms (or per pod and minute); null = not within the deadline. */
type Figures = Record<string, number | null>;

export interface Run {
  figures: Figures;
  /** Rolling restart: each restarted pod's "node registered → meshed", ms. */
  rolling: (number | null)[];
  /** agent100m: groups that were throttled / groups. */
  throttled?: [number, number];
}

/**
 * One run of one method and variant at size `n`. With `formationOnly`, it stops after "all pods launched →
 * full mesh" (for profiling that figure alone).
 */
export async function runCluster(
  method: Method,
  variant: Variant,
  n: number,
  runNo: number,
  formationOnly = false,
): Promise<Run> {
  const t0 = Date.now();
  const tag = `${METHOD_LABEL[method]} ${variant} N=${n} run ${runNo}`;
  const log = (msg: string) => console.error(`[${tag} +${round((Date.now() - t0) / 1000, 1)}s] ${msg}`);
  const nodeArgs = ["-kernel", "net_ticktime", String(TICKTIME)];
  if (variant === "noconnectall") nodeArgs.push("-kernel", "connect_all", "false");
  // TLS distribution: every node inet_tls (verify_peer both ways), a certificate per pod; the agents and
  // the observer have certificates of the same CA.
  await using pki = variant === "tls" ? await makePki() : undefined;
  await using cluster = await createCluster({
    pods: n,
    kind: "statefulset",
    ready: true,
    nodeArgs,
    tls: pki ? { pki } : undefined,
    ipFamily: variant === "ipv6" ? 6 : 4,
    distPort: variant === "epmdless" ? EPMDLESS_PORT : undefined,
  });
  const svc = cluster.serviceFqdn;
  const agents = new Map<string, Agent>();
  const limits = new Map<string, CpuLimit>();
  const throttled: [number, number] = [0, 0];
  let cache: CachingDns | undefined;
  let obs: Observer | undefined;
  let obsTls: NodeTls | undefined;
  /** The Kubernetes API (variant `kubernetes`): EndpointSlices follow the DNS records. */
  let api: KubeApiControl | undefined;
  let saDir: string | undefined;
  // The pods whose DNS records are published: the API never runs ahead of DNS here (publishing several
  // pods at once, one pod's `ready` flag is set before its records are), since a name looked up too
  // early would be cached as NXDOMAIN for 30 s.
  const inDns = new Set<string>();
  const syncApi = () =>
    api?.setPods(
      cluster.service,
      cluster.pods.filter((p) => inDns.has(p.name)).map((p) => ({
        name: p.name,
        hostname: p.name,
        ip: p.ip,
        ready: true,
      })),
    );
  /** Publishes the ready pods in DNS and then, with the API, as EndpointSlices. */
  const publish = async () => {
    const ready = cluster.pods.filter((p) => p.ready).map((p) => p.name);
    await cluster.publish();
    inDns.clear();
    for (const n of ready) inDns.add(n);
    await syncApi();
  };
  const setReady = async (p: ClusterPod, ready: boolean) => {
    await cluster.setReady(p, ready);
    if (ready) inDns.add(p.name);
    else inDns.delete(p.name);
    await syncApi();
  };
  const out: Run = { figures: {}, rolling: [] };
  const fig = async (k: string, v: number | null, from?: number) => {
    out.figures[k] = v;
    log(`${k}: ${v === null ? "timeout" : v}`);
    if (from !== undefined && (v === null || DEBUG)) await dump(k, from);
  };
  /**
   * On a timeout (or with BENCH_CLUSTER_DEBUG=1): from 1 s before `from`, every change the observer saw and
   * the agents' events, in ms relative to `from`, on stderr.
   */
  const dump = async (what: string, from: number) => {
    const lines: [number, string][] = [];
    for (const s of await obs?.seen().catch(() => []) ?? []) {
      if (s.t < from - 1000) continue;
      lines.push([
        s.t - from,
        `observer: ${short(s.node)} nodes() = ${s.peers ? s.peers.map(short).join(" ") : "down"}`,
      ]);
    }
    for (const [name, a] of agents) {
      for (const e of a.events()) {
        const t = Date.parse(String(e["@timestamp"])) - from;
        if (!(t >= -1000) || e.event === undefined) continue;
        lines.push([
          t,
          e.event === "cycle"
            ? `${name} agent: cycle ${e.ok ? "" : `FAILED ${e.error} `}missing [${
              (e.missingPeers as string[] ?? []).map(short).join(", ")
            }] attempted [${
              (e.attemptedPeers as string[] ?? []).map(short).join(", ")
            }] in ${e.durationMs} ms`
            : `${name} agent: ${e.event} ${short(String(e.node ?? ""))} ${e.code ?? ""} ${e.reason ?? ""}`,
        ]);
      }
    }
    for (const [t, l] of sampled ?? []) lines.push([t - from, l]);
    if (DUMP_DIR) {
      // How each pod's resolver answers now: the name of the first pod and the Service's SRV.
      for (const p of cluster.pods) {
        for (
          const cmd of [["getent", "hosts", cluster.pods[0].fqdn], [
            "dig",
            "+time=1",
            "+tries=1",
            "SRV",
            `_epmd._tcp.${svc}`,
          ]]
        ) {
          const s = Date.now();
          const r = await cluster.network.run(p.name, cmd).catch((e) => ({
            success: false,
            stdout: String(e),
          }));
          lines.push([
            Date.now() - from,
            `probe from ${p.name}: ${cmd[0]} ${r.success ? "ok" : "FAILED"} in ${Date.now() - s} ms ${
              cmd[0] === "dig" ? (r.stdout.match(/status: \w+|SERVER: \S+/g) ?? []).join(" ") : ""
            }`,
          ]);
        }
      }
    }
    lines.sort((a, b) => a[0] - b[0]);
    const text = lines.map(([t, l]) => `  ${String(t).padStart(7)} ms  ${l}`);
    log(
      `${what}:\n${text.slice(0, 80).join("\n")}${text.length > 80 ? `\n  … ${text.length - 80} more` : ""}`,
    );
    if (DUMP_DIR) {
      const file = `${DUMP_DIR}/${tag.replaceAll(/[^\w=-]+/g, "_")}_${what.replaceAll(/[^\w-]+/g, "_")}.txt`;
      await Deno.writeTextFile(file, text.join("\n") + "\n");
      log(`(all ${text.length} lines in ${file})`);
    }
  };
  /** Debugging (BENCH_CLUSTER_DUMP_DIR): every 250 ms, a slow or failed SRV lookup from any pod. */
  let sampled: [number, string][] | undefined;
  const sampleDns = () => {
    const out: [number, string][] = [];
    let on = true;
    const loop = (async () => {
      while (on) {
        await Promise.all(cluster.pods.map(async (p) => {
          const s = Date.now();
          const r = await cluster.network.run(p.name, [
            "dig",
            "+time=1",
            "+tries=1",
            "SRV",
            `_epmd._tcp.${svc}`,
          ])
            .catch(() => undefined);
          const took = Date.now() - s;
          if (!r?.success || took > 200) {
            out.push([s, `dig from ${p.name}: ${r?.success ? "ok" : "FAILED"} in ${took} ms`]);
          }
        }));
        await sleep(250);
      }
    })();
    return {
      stop: async () => {
        on = false;
        await loop;
        return out;
      },
    };
  };
  const short = (node: string) => node.replace(/^[^@]*@/, "").replace(`.${svc}`, "");

  const prepare = async (p: ClusterPod) => {
    await addEpmdCounter(cluster, p);
    if (cache) await cache.servePod(p.netns);
    await obs!.watch(p);
  };
  /** Creates the pod's CPU limit ahead of the launch instant. */
  const limitFor = async (p: ClusterPod) => {
    if (method === "agent100m") limits.set(p.name, await createCpuLimit(`agent-${p.name}`, AGENT_MILLICORES));
  };
  /** Launches node and agent together; resolves with the time the node was registered. */
  const launch = async (p: ClusterPod): Promise<number> => {
    if (method !== "loop") {
      const limit = limits.get(p.name);
      agents.set(
        p.name,
        launchAgent(cluster, p, {
          args: [
            "--log-format",
            "json",
            ...(AGENT_LOG_LEVEL ? ["--log-level", AGENT_LOG_LEVEL] : []),
            ...(api
              ? ["--discovery", "kubernetes", "--service", cluster.service, "--service-account-dir", saDir!]
              : []),
          ],
          env: {
            ERLANG_NODENAME: p.nodeName,
            K8S_HEADLESS_SVC: svc,
            CLUSTER_ERLANG_COOKIE: cluster.cookie,
            ...tlsEnv(cluster),
            ...(variant === "ipv6" ? { ERLMESH_PROTO_DIST: "inet6_tcp" } : {}),
            ...(variant === "epmdless" ? { ERLMESH_DIST_PORT: String(EPMDLESS_PORT) } : {}),
            ...(api
              ? {
                KUBERNETES_SERVICE_HOST: cluster.network.gateway,
                KUBERNETES_SERVICE_PORT: new URL(api.url).port,
              }
              : {}),
          },
          wrap: limit ? (cmd) => limit.wrap(cmd) : undefined,
        }),
      );
    }
    const loop = articleSource(svc, { inet6: variant === "ipv6" });
    await cluster.startNode(p, { args: method === "loop" ? ["-eval", loop] : [] });
    return Date.now();
  };
  /** Kills node and agent (SIGKILL), as a pod's containers die, and removes the agent's CPU limit. */
  const kill = async (p: ClusterPod) => {
    p.node?.kill("SIGKILL");
    const a = agents.get(p.name);
    if (a) {
      try {
        Deno.kill(a.pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await cluster.stopNode(p);
    await a?.stop();
    agents.delete(p.name);
    await retireLimit(p);
  };
  const retireLimit = async (p: ClusterPod) => {
    const l = limits.get(p.name);
    if (!l) return;
    limits.delete(p.name);
    const st = await l.stat().catch(() => undefined);
    throttled[1]++;
    if (st && st.nrThrottled > 0) throttled[0]++;
    await l.remove();
  };
  const dnsQueries = () => cache ? cache.queries() : unboundQueryCount(`${cluster.dns.dir}/unbound.conf`);

  try {
    if (variant === "cache" || variant === "kubernetes") {
      cache = await startCachingDns(cluster.network, cluster.dns);
    }
    if (variant === "kubernetes") {
      api = await startKubeApiIn(cluster.network, "node", {
        hostname: cluster.network.gateway,
        namespace: cluster.namespace,
        tokens: ["token-1"],
        bookmarkMs: 2000,
      });
      saDir = await Deno.makeTempDir({ prefix: tempPrefix("bench-sa") });
      await Deno.copyFile(api.caFile, `${saDir}/ca.crt`);
      await Deno.writeTextFile(`${saDir}/token`, "token-1");
      await publish();
    }
    obsTls = pki &&
      await nodeTlsArgs(pki, "25", {
        node: await podCert(pki, { name: "observer", fqdn: "observer.invalid", ip: cluster.network.gateway }),
      });
    // EPMD-less: the observer dials every node on the distribution port without asking EPMD (OTP 25's flag).
    const obsDist = variant === "epmdless" ? ["-erl_epmd_port", String(EPMDLESS_PORT)] : [];
    obs = await startObserver(cluster, [...obsTls?.args ?? [], ...obsDist, ...nodeArgs]);
    for (const p of cluster.pods) await prepare(p);
    const original = [...cluster.pods];

    // All pods launched → full mesh (records published from the start, publishNotReadyAddresses).
    {
      for (const p of original) await limitFor(p);
      const at = Date.now();
      await Promise.all(original.map(launch));
      await fig("allPods", await obs.waitFull(original, at, DEADLINE_MS), at);
      // Where the CPU of the two shared cores went until then: each pod's node and agent.
      const cpu = async (pids: (number | undefined)[]) => {
        const ms = (await Promise.all(pids.map((p) => p === undefined ? null : cpuMsOf(p))))
          .filter((x): x is number => x !== null);
        return ms.length ? median(ms) : null;
      };
      await fig("nodeCpuMs", await cpu(original.map((p) => p.node?.pid)));
      if (method !== "loop") await fig("agentCpuMs", await cpu(original.map((p) => agents.get(p.name)?.pid)));
    }
    if (formationOnly) return out;
    const formedAt = Date.now();

    // Load after formation, from 5 s to 35 s.
    if (variant === "kubernetes") {
      await sleep(Math.max(0, formedAt + WINDOW_FROM_MS - Date.now()));
      const requests = async () => {
        const st = await api!.stats();
        return st.lists + st.watches;
      };
      const [r0, a] = [await requests(), Date.now()];
      await sleep(WINDOW_MS);
      const [r1, b] = [await requests(), Date.now()];
      await fig("api", round((r1 - r0) / n / ((b - a) / 60_000), 1));
    }
    if (variant === "base" && method !== "agent100m") {
      await sleep(Math.max(0, formedAt + WINDOW_FROM_MS - Date.now()));
      const [d0, e0, a] = [await dnsQueries(), await epmdSyns(cluster, original), Date.now()];
      await sleep(WINDOW_MS);
      const [d1, e1, b] = [await dnsQueries(), await epmdSyns(cluster, original), Date.now()];
      const perPodMin = (x: number) => round(x / n / ((b - a) / 60_000), 1);
      await fig("dns", perPodMin(d1 - d0));
      await fig("epmd", perPodMin(e1 - e0));
      // Above the goal: what the observer and the agents saw in the window (a link dropped and restored?).
      if (method !== "loop" && (perPodMin(d1 - d0) > 12 || e1 > e0)) await dump("quiet window", a);
    }

    // New pod launched → meshed (its record appears with the pod).
    {
      const np = await cluster.addPod({ ready: true });
      await publish();
      await prepare(np);
      await limitFor(np);
      const at = Date.now();
      await launch(np);
      await fig("join", await obs.waitFull(cluster.pods, at, DEADLINE_MS), at);
    }

    // Killed pod relaunched (its containers restart; the record stays) → re-meshed.
    if (variant !== "noconnectall") {
      const rp = cluster.pods[1];
      await kill(rp);
      const others = cluster.pods.filter((p) => p !== rp);
      if (!(await obs.waitDropped(rp, others, DEADLINE_MS))) log("restart: the killed node was not dropped");
      await limitFor(rp);
      const at = Date.now();
      const sampler = DUMP_DIR ? sampleDns() : undefined;
      await launch(rp);
      const ms = await obs.waitFull(cluster.pods, at, DEADLINE_MS);
      sampled = await sampler?.stop();
      await fig("restart", ms, at);
      sampled = undefined;
    }

    // Partition (DNS cut too) until every other node dropped the pod → healed → re-meshed.
    if (["base", "tls", "ipv6", "epmdless"].includes(variant) && method !== "agent100m") {
      const cp = cluster.pods[Math.floor(n / 2)];
      const others = cluster.pods.filter((p) => p !== cp);
      const cutAt = Date.now();
      await cut(cluster, cp);
      const dropped = await obs.waitDropped(cp, others, DEADLINE_MS);
      log(`partition lasted ${Date.now() - cutAt} ms${dropped ? "" : " (not dropped by all)"}`);
      const at = Date.now();
      await heal(cluster, cp);
      await fig("heal", dropped ? await obs.waitFull(cluster.pods, at, DEADLINE_MS) : null, at);
    }
    // EPMD-less: the TCP SYNs to 4369 in all pods over the whole run (nothing listens there to answer them),
    // not counting each node's one attempt at boot to register at its loopback EPMD before it goes without.
    if (variant === "epmdless") {
      await fig("epmdRun", await epmdSyns(cluster, cluster.pods, "bench-epmd-peer"));
      await fig("epmdBoot", await epmdSyns(cluster, cluster.pods));
    }

    // Rolling restart of the StatefulSet, highest ordinal first: pod deleted (record gone), recreated
    // (record back), next one once meshed. Each pod's "node registered → meshed".
    if ((variant === "cache" || variant === "kubernetes") && method !== "agent100m") {
      for (const p of [...cluster.pods].reverse()) {
        await kill(p);
        await setReady(p, false);
        const others = cluster.pods.filter((o) => o !== p);
        await obs.waitDropped(p, others, DEADLINE_MS);
        await setReady(p, true);
        await limitFor(p);
        const registered = await launch(p);
        const ms = await obs.waitFull(cluster.pods, registered, DEADLINE_MS);
        out.rolling.push(ms);
        if (ms === null || ms > 1000 || DEBUG) {
          await dump(`rolling restart of ${p.name}: ${ms ?? "timeout"}`, registered);
        }
      }
      const ok = out.rolling.filter((x): x is number => x !== null);
      await fig("rollingMax", ok.length === out.rolling.length ? Math.max(...ok) : null);
      await fig("rollingMedian", ok.length ? median(ok) : null);
    }

    // Readiness-gated start: every pod restarted, none published until its node registered and 0–2 s
    // passed (readiness probe period) → from the last record published to full mesh.
    if (!["noconnectall", "ipv6", "epmdless"].includes(variant) && method !== "agent100m") {
      for (const p of cluster.pods) await kill(p);
      for (const p of cluster.pods) p.ready = false;
      await publish();
      if (cache) await cache.flush(cluster.zone);
      const published: number[] = [];
      await Promise.all(cluster.pods.map(async (p) => {
        await launch(p);
        await sleep(Math.random() * PUBLISH_DELAY_MAX_MS);
        await setReady(p, true);
        published.push(Date.now());
      }));
      const last = Math.max(...published);
      // A 30 s negative cache can hold the empty answer that long: a longer deadline gives a figure.
      await fig("gated", await obs.waitFull(cluster.pods, last, cache ? 3 * DEADLINE_MS : DEADLINE_MS), last);
    }
  } finally {
    await Promise.all([...agents.values()].map((a) => a.stop().catch(() => {})));
    for (const p of [...limits.keys()]) await retireLimit(cluster.pod(p)).catch((e) => log(String(e)));
    await obs?.stop().catch(() => {});
    await obsTls?.remove();
    await cache?.stop().catch(() => {});
    await api?.close().catch(() => {});
    if (saDir) await Deno.remove(saDir, { recursive: true }).catch(() => {});
  }
  if (method === "agent100m") out.throttled = throttled;
  log(`done in ${round((Date.now() - t0) / 1000, 1)} s`);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Report.

/** results[variant][method] = runs. */
type SizeResults = Partial<Record<Variant, Partial<Record<Method, Run[]>>>>;

function values(runs: Run[] | undefined, key: string): (number | null)[] {
  return (runs ?? []).map((r) => r.figures[key]).filter((v) => v !== undefined) as (number | null)[];
}

/** The median of the runs, or null when any run timed out or there is none. */
function med(runs: Run[] | undefined, key: string): number | null {
  const v = values(runs, key);
  if (v.length === 0 || v.some((x) => x === null)) return null;
  return median(v as number[]);
}

function cell(runs: Run[] | undefined, key: string, unit = ""): string {
  const v = values(runs, key);
  if (v.length === 0) return "-";
  const ok = v.filter((x): x is number => x !== null);
  const to = v.length - ok.length;
  if (ok.length === 0) return `timeout ×${to}`;
  const m = median(ok);
  const lo = Math.min(...ok);
  const hi = Math.max(...ok);
  const range = ok.length > 1 ? ` (${lo}–${hi})` : "";
  return `${m}${unit}${range}${to ? ` +${to} timeout` : ""}`;
}

const verdict = (ok: boolean | undefined) => ok === undefined ? "n/a" : ok ? "met" : "NOT MET";

function printSize(n: number, r: SizeResults, runs: number): void {
  const base = r.base ?? {};
  const cache = r.cache ?? {};
  const nca = r.noconnectall ?? {};
  const k8s = r.kubernetes ?? {};
  const tls = r.tls ?? {};
  const ipv6 = r.ipv6 ?? {};
  const epmdless = r.epmdless ?? {};
  const rows: string[][] = [];
  const launchRow = (label: string, v: Partial<Record<Method, Run[]>>, key: string, withGoal: boolean) => {
    const loop = med(v.loop, key);
    const agent = med(v.agent, key);
    const lim = med(v.agent100m, key);
    let goal = "", met = "";
    if (withGoal) {
      if (n === 20) {
        goal = "≤ loop";
        met = verdict(loop === null || agent === null ? undefined : agent <= loop);
      } else {
        goal = "agent ≤ loop +10%; 100m ≤ loop +300";
        const a = loop === null || agent === null ? undefined : agent <= loop * 1.1;
        const b = loop === null || lim === null ? undefined : lim <= loop + 300;
        met = `${verdict(a)}; ${v.agent100m ? verdict(b) : "n/a"}`;
      }
    }
    rows.push([label, cell(v.loop, key), cell(v.agent, key), cell(v.agent100m, key), goal, met]);
  };
  const capRow = (
    label: string,
    v: Partial<Record<Method, Run[]>>,
    key: string,
    cap: number,
    goal: string,
  ) => {
    const agent = med(v.agent, key);
    const loop = med(v.loop, key);
    const ok = n === 20
      ? (agent === null || loop === null ? undefined : agent <= loop)
      : (agent === null ? false : agent <= cap);
    rows.push([label, cell(v.loop, key), cell(v.agent, key), "", n === 20 ? "≤ loop" : goal, verdict(ok)]);
  };
  launchRow("all pods launched → full mesh, ms", base, "allPods", true);
  launchRow("  CPU per node until then (beam.smp), ms", base, "nodeCpuMs", false);
  launchRow("  CPU per agent until then, ms", base, "agentCpuMs", false);
  launchRow("new pod launched → meshed, ms", base, "join", true);
  launchRow("killed pod relaunched → re-meshed, ms", base, "restart", true);
  capRow("partition (DNS cut too) healed → re-meshed, ms", base, "heal", 200, "≤ 200");
  capRow("readiness-gated: last record → mesh, ms", base, "gated", 300, "≤ 300");
  capRow("DNS queries / pod / min, 5–35 s after formation", base, "dns", 12, "≤ 12");
  capRow("EPMD connections / pod / min, 5–35 s after", base, "epmd", 0, "0");
  launchRow("30 s DNS cache: all pods launched → full mesh", cache, "allPods", false);
  launchRow("30 s DNS cache: new pod launched → meshed", cache, "join", false);
  launchRow("30 s DNS cache: killed pod relaunched → re-meshed", cache, "restart", false);
  {
    const all = (cache.agent ?? []).flatMap((x) => x.rolling);
    const ok = all.length > 0 && all.every((x) => x !== null && x <= 1000);
    rows.push([
      "30 s DNS cache: rolling restart, each pod registered → meshed (max)",
      cell(cache.loop, "rollingMax"),
      cell(cache.agent, "rollingMax"),
      "",
      "every pod ≤ 1000",
      verdict(all.length ? ok : undefined),
    ]);
    rows.push([
      "  (median pod)",
      cell(cache.loop, "rollingMedian"),
      cell(cache.agent, "rollingMedian"),
      "",
      "",
      "",
    ]);
  }
  launchRow("30 s DNS cache: readiness-gated, last record → mesh", cache, "gated", false);
  launchRow(
    "Kubernetes API source (30 s DNS cache for the nodes): all pods → full mesh",
    k8s,
    "allPods",
    false,
  );
  launchRow("Kubernetes API source: new pod launched → meshed", k8s, "join", false);
  launchRow("Kubernetes API source: killed pod relaunched → re-meshed", k8s, "restart", false);
  rows.push([
    "Kubernetes API source: rolling restart, each pod registered → meshed (max)",
    "",
    cell(k8s.agent, "rollingMax"),
    "",
    "",
    "",
  ]);
  launchRow("Kubernetes API source: readiness-gated, last Ready → mesh", k8s, "gated", false);
  rows.push(["Kubernetes API requests / pod / min, 5–35 s after", "", cell(k8s.agent, "api"), "", "", ""]);
  launchRow("TLS distribution: all pods launched → full mesh", tls, "allPods", false);
  launchRow("TLS distribution: new pod launched → meshed", tls, "join", false);
  launchRow("TLS distribution: killed pod relaunched → re-meshed", tls, "restart", false);
  launchRow("TLS distribution: partition healed → re-meshed", tls, "heal", false);
  launchRow("TLS distribution: readiness-gated, last record → mesh", tls, "gated", false);
  launchRow("IPv6-only (inet6_tcp): all pods launched → full mesh", ipv6, "allPods", false);
  launchRow("IPv6-only: new pod launched → meshed", ipv6, "join", false);
  launchRow("IPv6-only: killed pod relaunched → re-meshed", ipv6, "restart", false);
  launchRow("IPv6-only: partition (DNS cut too) healed → re-meshed", ipv6, "heal", false);
  launchRow("EPMD-less (agent only): all pods launched → full mesh", epmdless, "allPods", false);
  launchRow("EPMD-less: new pod launched → meshed", epmdless, "join", false);
  launchRow("EPMD-less: killed pod relaunched → re-meshed", epmdless, "restart", false);
  launchRow("EPMD-less: partition (DNS cut too) healed → re-meshed", epmdless, "heal", false);
  {
    const syns = med(epmdless.agent, "epmdRun");
    rows.push([
      "EPMD-less: EPMD connection attempts in all pods over the run (not from loopback)",
      "",
      cell(epmdless.agent, "epmdRun"),
      "",
      "0",
      epmdless.agent ? verdict(syns === 0) : "n/a",
    ]);
    rows.push(["  (all, with each node's at boot)", "", cell(epmdless.agent, "epmdBoot"), "", "", ""]);
  }
  launchRow("connect_all false: all pods launched → full mesh", nca, "allPods", false);
  launchRow("connect_all false: new pod launched → meshed", nca, "join", false);
  const thr = (base.agent100m ?? []).concat(cache.agent100m ?? [], nca.agent100m ?? []).map((x) =>
    x.throttled ?? [0, 0]
  );
  const t = thr.reduce((a, b) => [a[0] + b[0], a[1] + b[1]], [0, 0]);
  printTable(
    `cluster: N = ${n} pods, median (min–max) of ${runs} run${runs > 1 ? "s" : ""}`,
    ["figure", METHOD_LABEL.loop, METHOD_LABEL.agent, METHOD_LABEL.agent100m, "goal (agent)", "met?"],
    rows,
  );
  console.log(
    `(100 millicore agents: cpu.stat nr_throttled > 0 in ${t[0]} of ${t[1]} cgroups, so the limit applied` +
      `${t[0] === t[1] ? "" : " NOT everywhere"})`,
  );
}

/** Parses `[--quick] [--runs=K] [N…]`. */
export function parseArgs(args: string[]): { sizes: number[]; runs: number; quick: boolean } {
  const quick = args.includes("--quick");
  const runsArg = args.find((a) => a.startsWith("--runs="));
  const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number).filter((x) => x >= 2);
  const runs = runsArg ? Number(runsArg.slice(7)) : quick ? 1 : 3;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`Invalid '--runs' value '${runsArg}': expected a positive integer`);
  }
  return { sizes: sizes.length ? sizes : quick ? [3] : [3, 10], runs, quick };
}

/**
 * Runs every variant and method for each size, `runs` times (methods interleaved within a run), and
 * prints one table per size; returns all figures.
 */
export async function benchCluster(args: string[] = []): Promise<Record<string, unknown>> {
  const { sizes, runs } = parseArgs(args);
  const t0 = Date.now();
  const cgWhy = cpuLimitUnavailableReason();
  console.log(
    `\nCluster formation as a user sees it: erlmesh agent vs the article's loop (inet_res SRV + net_adm:world_list` +
      ` every 5 s, in the node), OTP 25, net_ticktime ${TICKTIME}, DNS TTL 5 s; N = ${
        sizes.join(", ")
      }, ${runs} run(s)`,
  );
  if (cgWhy) console.log(`(agents under ${AGENT_MILLICORES} millicores: skipped, ${cgWhy})`);
  const plan: [Variant, Method[]][] = [
    ["base", cgWhy ? ["loop", "agent"] : ["loop", "agent", "agent100m"]],
    ["cache", ["loop", "agent"]],
    ["noconnectall", ["loop", "agent"]],
    ["kubernetes", ["agent"]],
    ["tls", ["loop", "agent"]],
    ["ipv6", ["loop", "agent"]],
    ["epmdless", ["agent"]],
  ];
  return await withBundle(async () => {
    console.log(`(agents run from the bundle, built now at ${await commitLine()})`);
    return await benchSizes(sizes, runs, plan, t0);
  });
}

async function benchSizes(
  sizes: number[],
  runs: number,
  plan: [Variant, Method[]][],
  t0: number,
): Promise<Record<string, unknown>> {
  const results: Record<string, SizeResults> = {};
  const only = Deno.env.get("BENCH_CLUSTER_ONLY")?.split(","); // debugging: e.g. "base:agent,cache:loop"
  for (const n of sizes) {
    const r: SizeResults = {};
    results[n] = r;
    for (let k = 1; k <= runs; k++) {
      for (const [variant, methods] of plan) {
        for (const m of methods) {
          if (only && !only.includes(`${variant}:${m}`)) continue;
          let run: Run;
          try {
            run = await runCluster(m, variant, n, k);
          } catch (e) {
            console.error(`[${m} ${variant} N=${n} run ${k}] failed: ${e instanceof Error ? e.stack : e}`);
            run = { figures: {}, rolling: [] };
          }
          ((r[variant] ??= {})[m] ??= []).push(run);
        }
      }
    }
    printSize(n, r, runs);
  }
  const totalS = round((Date.now() - t0) / 1000, 1);
  console.log(`
Notes:
- The clock starts when the pod's containers are launched (node and agent at the same instant; the loop starts in
  the node at boot), or at the heal, or when the last record was published; it stops at the first 100 ms poll of
  an observer (a hidden node on the bridge) at which every node's nodes() lists all the others.
- CPU until the full mesh: utime + stime of each pod's beam.smp and agent (/proc/PID/stat) when all pods are
  meshed, the median over pods. All pods share the machine's cores, so the agents' CPU is time the booting nodes
  wait for: (CPU per agent × N) / cores is about what the agents add to "all pods launched".
- Records are published from the pod's creation (publishNotReadyAddresses) except in the readiness-gated start,
  where each pod is published 0–2 s after its node registered. A killed pod keeps its record and its IP.
- Partition: every packet of the pod is dropped, DNS included, until the observer sees it dropped by every other
  node (net_ticktime ${TICKTIME}); the observer's own traffic passes.
- DNS: queries that reached Unbound from all pods, per pod and minute; EPMD: TCP SYNs to port 4369 in every pod.
- 30 s DNS cache: a second Unbound (cache-min-ttl 30, cache-max-negative-ttl 30) that every pod asks; cold at the
  start and before the readiness-gated start. Rolling restart: highest ordinal first, each pod killed and its
  record removed, then relaunched with its record back, the next once it meshed; same IP.
- Kubernetes API source: agents with --discovery kubernetes against the test API server (tests/_kubeapi.ts),
  whose EndpointSlices follow the DNS records; the nodes still resolve names through the 30 s cache.
- TLS distribution: every node -proto_dist inet_tls with verify_peer and fail_if_no_peer_cert (an ssl_dist_optfile),
  a certificate of a test CA per pod for its FQDN and IP; the agents (tlsCaFile, tlsCertFile, tlsKeyFile) and the
  observer have certificates of the same CA. The loop is unchanged: its net_adm:world_list dials over TLS.
- EPMD-less: no EPMD in any pod; every node -start_epmd false on port ${EPMDLESS_PORT} (OTP 25 -erl_epmd_port), the
  agents with ERLMESH_DIST_PORT=${EPMDLESS_PORT}, the observer dialling that port. Agent only: the article's loop
  cannot run there, as net_adm:world_list asks each host's EPMD for its nodes and there is none. Its EPMD
  figure counts SYNs to 4369 in every pod over the whole run, except from loopback: each node tries once at boot
  to register at 127.0.0.1:4369 before it goes without (the row below it counts those too).
- 100 millicores: each agent in its own cgroup (cpu.cfs_quota_us 10000 per 100000); the nodes are not limited.
- Goals (issue 10): on medians; at N = 20 every figure no worse than the loop's.
Total run time: ${totalS} s`);
  return { sizes, runs, results, totalS };
}

if (import.meta.main) {
  const r = await benchCluster(Deno.args);
  const path = Deno.env.get("BENCH_CLUSTER_JSON");
  if (path) await Deno.writeTextFile(path, JSON.stringify(r, null, 2));
}
