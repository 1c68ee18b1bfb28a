/**
 * A simulated Kubernetes node network made of Linux network namespaces (needs root).
 *
 * One "node" namespace holds a bridge `br0` with the gateway address `10.244.X.1/24` (X random per
 * network), or with `ipFamily: 6` an IPv6-only network: the gateway `fd00:X:Y::1/64` (a random ULA /64) and
 * pods with IPv6 addresses only (added `nodad`, usable at once); every pod is its own namespace with `eth0` on a veth pair whose other end sits on the bridge.
 * All interfaces live inside the namespaces the harness creates, so the host's network is untouched and
 * test traffic never leaves them (pods have no default route). Each pod gets `/etc/netns/<ns>/resolv.conf`
 * (kubelet-style, nameserver = gateway) and `/etc/netns/<ns>/hosts` (the kubelet line), which
 * `ip netns exec` binds over `/etc`.
 *
 * @example
 * ```ts
 * await using net = await createNetwork();
 * const pod = await net.addPod("app-0", { fqdn: "app-0.app.default.svc.cluster.local" });
 * const out = await net.run("app-0", ["ip", "-4", "addr", "show", "eth0"]);
 * ```
 *
 * @module
 */

import { hasProgram, isRoot, pidAlive, run, runOk, type RunResult } from "./_process.ts";
import { cleanupStaleTempDirs, HARNESS_PREFIX, newPrefix } from "./prefix.ts";

/** Directory with one state file per live network (`<prefix>.json`), used to clean up crashed runs. */
export const STATE_DIR = "/run/erlmesh-harness";

/** Why network tests cannot run here, or undefined when they can. */
export function networkUnavailableReason(): string | undefined {
  if (!isRoot()) return "network namespaces need root";
  for (const p of ["ip", "unshare", "sh"]) {
    if (!hasProgram(p)) return `'${p}' is not on PATH`;
  }
  return undefined;
}

/** One simulated pod. */
export interface Pod {
  /** Pod name, e.g. `app-0`. */
  readonly name: string;
  /** Its network namespace (`<prefix>-<name>`). */
  readonly netns: string;
  /** Its address on `eth0`: IPv4, or IPv6 (canonical form) in an IPv6-only network. */
  readonly ip: string;
  /** Its hostname (the pod name unless given). */
  readonly hostname: string;
  /** The FQDN in its hosts file, if any (`app-0.app.default.svc.cluster.local`). */
  readonly fqdn?: string;
  /** The bridge-side veth name inside the node namespace. */
  readonly veth: string;
  /** Whether {@link Network.partition} cut it off. */
  readonly partitioned: boolean;
}

/** Options of {@link Network.addPod}. */
export interface AddPodOptions {
  /** Address in the network's subnet. @default the next free `.10`, `.11`, ... (IPv6: `::a`, `::b`, ...) */
  ip?: string;
  /** FQDN for the kubelet hosts line (`IP FQDN HOSTNAME`). @default none (`IP HOSTNAME`) */
  fqdn?: string;
  /** Hostname for the hosts line. @default the pod name */
  hostname?: string;
  /** Pod namespace used for the resolv.conf search list. @default "default" */
  namespace?: string;
  /** Cluster domain. @default "cluster.local" */
  zone?: string;
}

/** Options of {@link Network.exec}. */
export interface ExecOptions {
  /** Own UTS hostname for the process (`unshare --uts`). @default the host's */
  hostname?: string;
  /** Extra environment. @default {} */
  env?: Record<string, string>;
  /** @default "null" */
  stdin?: "piped" | "inherit" | "null";
  /** @default "piped" */
  stdout?: "piped" | "inherit" | "null";
  /** @default "piped" */
  stderr?: "piped" | "inherit" | "null";
}

/** Options of {@link createNetwork}. */
export interface NetworkOptions {
  /** Name prefix of every namespace; at most 8 characters. @default a new `em` + 4 random characters */
  prefix?: string;
  /** Third octet X of the pod subnet `10.244.X.0/24` (IPv6: the bridge MAC's byte). @default random */
  subnet?: number;
  /** 4: pods on `10.244.X.0/24`; 6: IPv6-only pods on a ULA `fd00:X:Y::/64`. @default 4 */
  ipFamily?: 4 | 6;
}

/** Why an IPv6-only network cannot be made here, or undefined when it can. */
export function ipv6UnavailableReason(): string | undefined {
  const why = networkUnavailableReason();
  if (why) return why;
  if (!hasProgram("ip6tables")) return "'ip6tables' is not on PATH";
  try {
    if (Deno.readTextFileSync("/proc/sys/net/ipv6/conf/default/disable_ipv6").trim() !== "0") {
      return "IPv6 is disabled (net.ipv6.conf.default.disable_ipv6 is not 0)";
    }
  } catch {
    return "the kernel has no IPv6 (no /proc/sys/net/ipv6)";
  }
  return undefined;
}

interface PodState extends Pod {
  partitioned: boolean;
}

/** A simulated node network; see {@link createNetwork}. */
export class Network implements AsyncDisposable {
  /** Name prefix of this network's namespaces. */
  readonly prefix: string;
  /** The "node" namespace holding the bridge (and the DNS server). */
  readonly nodeNetns: string;
  /** Gateway/DNS address on the bridge, `10.244.X.1` (IPv6: `fd00:X:Y::1`). */
  readonly gateway: string;
  /** The pod subnet, `10.244.X.0/24` (IPv6: `fd00:X:Y::/64`). */
  readonly subnet: string;
  /** The pods' address family. */
  readonly family: 4 | 6;
  #base: string;
  #x: number;
  #pods = new Map<string, PodState>();
  #nextHost = 10;
  #nextVeth = 0;
  #destroyed: Promise<void> | undefined;

  /** @internal use {@link createNetwork} */
  constructor(prefix: string, x: number, family: 4 | 6 = 4) {
    this.prefix = prefix;
    this.nodeNetns = `${prefix}-node`;
    this.family = family;
    this.#x = x;
    if (family === 6) {
      // Two random non-zero groups: the addresses are then already in canonical (RFC 5952) form.
      const [g1, g2] = crypto.getRandomValues(new Uint16Array(2)).map((g) => g || 1);
      this.#base = `fd00:${g1.toString(16)}:${g2.toString(16)}:`;
      this.subnet = `${this.#base}:/64`;
    } else {
      this.#base = `10.244.${x}`;
      this.subnet = `${this.#base}.0/24`;
    }
    this.gateway = this.#host(1);
  }

  /** The address of host number `n` in the subnet (`10.244.X.n`, `fd00:X:Y::<n in hex>`). */
  #host(n: number): string {
    return this.family === 6 ? `${this.#base}:${n.toString(16)}` : `${this.#base}.${n}`;
  }

  /** The prefix length of the subnet. */
  get #bits(): number {
    return this.family === 6 ? 64 : 24;
  }

  /** The iptables command for the family (`ip6tables` in an IPv6-only network). */
  get iptables(): "iptables" | "ip6tables" {
    return this.family === 6 ? "ip6tables" : "iptables";
  }

  /** The pods currently present. */
  get pods(): Pod[] {
    return [...this.#pods.values()];
  }

  /** The pod named `name`; throws when there is none. */
  pod(name: string): Pod {
    return this.#state(name);
  }

  #state(name: string): PodState {
    const p = this.#pods.get(name);
    if (!p) throw new Error(`Cannot find pod '${name}' in network '${this.prefix}'`);
    return p;
  }

  /** @internal */
  async init(): Promise<void> {
    await this.#saveState();
    const n = this.nodeNetns;
    await runOk(["ip", "netns", "add", n]);
    await ipBatch(n, [
      "link set lo up",
      // An address of its own: a bridge without one takes the lowest MAC of its ports, so a pod that
      // joins could change it, and pods that cached the old one (ARP, ~30 s) lose DNS meanwhile.
      `link add br0 address ${this.#bridgeMac()} type bridge`,
      `addr add ${this.gateway}/${this.#bits} dev br0${this.family === 6 ? " nodad" : ""}`,
      "link set br0 up",
    ]);
  }

  /** A locally administered unicast MAC for the bridge, from the network's subnet byte. */
  #bridgeMac(): string {
    const x = this.#x;
    return `02:00:0a:f4:${x.toString(16).padStart(2, "0")}:01`;
  }

  /** Creates a pod namespace attached to the bridge, with its resolv.conf and hosts files. */
  async addPod(name: string, options: AddPodOptions = {}): Promise<Pod> {
    if (this.#pods.has(name)) throw new Error(`Cannot add pod '${name}': it exists`);
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(name)) {
      throw new Error(`Cannot add pod '${name}': not a DNS-1123 name`);
    }
    const ip = options.ip ?? this.#allocateIp();
    if (!ip.startsWith(this.#host(0).slice(0, -1))) {
      throw new Error(`Cannot add pod '${name}': IP '${ip}' is outside '${this.subnet}'`);
    }
    if ([...this.#pods.values()].some((p) => p.ip === ip)) {
      throw new Error(`Cannot add pod '${name}': IP '${ip}' is taken`);
    }
    const netns = `${this.prefix}-${name}`;
    const veth = `v${this.#nextVeth++}`;
    const hostname = options.hostname ?? name;
    const pod: PodState = { name, netns, ip, hostname, fqdn: options.fqdn, veth, partitioned: false };
    this.#pods.set(name, pod);
    await this.#saveState();
    const dir = `/etc/netns/${netns}`;
    await Deno.mkdir(dir, { recursive: true });
    const ns = options.namespace ?? "default";
    const zone = options.zone ?? "cluster.local";
    await Deno.writeTextFile(
      `${dir}/resolv.conf`,
      `nameserver ${this.gateway}\nsearch ${ns}.svc.${zone} svc.${zone} ${zone}\noptions ndots:5\n`,
    );
    await Deno.writeTextFile(
      `${dir}/hosts`,
      "# Kubernetes-managed hosts file (erlmesh test harness).\n127.0.0.1\tlocalhost\n" +
        `::1\tlocalhost ip6-localhost ip6-loopback\n${ip}\t${
          options.fqdn ? options.fqdn + "\t" : ""
        }${hostname}\n`,
    );
    await runOk(["ip", "netns", "add", netns]);
    await ipBatch(this.nodeNetns, [
      `link add ${veth} type veth peer name eth0 netns ${netns}`,
      `link set ${veth} master br0 up`,
    ]);
    await ipBatch(netns, [
      "link set lo up",
      `addr add ${ip}/${this.#bits} dev eth0${this.family === 6 ? " nodad" : ""}`,
      "link set eth0 up",
    ]);
    return pod;
  }

  /** Kills the pod's processes and deletes its namespace and files. */
  async removePod(name: string): Promise<void> {
    const pod = this.pod(name);
    await destroyNetns(pod.netns);
    this.#pods.delete(name);
    await this.#saveState();
  }

  /**
   * Cuts the pod off at the IP level, as a network partition does: every IP packet in or out of its
   * eth0 is dropped (iptables in the pod's namespace), while the link and ARP stay up, so the heal
   * is not delayed by neighbour discovery the way a downed link would be. IPv6: ip6tables, and ICMPv6
   * (neighbour discovery, IPv6's ARP) passes for the same reason.
   */
  async partition(name: string): Promise<void> {
    const pod = this.#state(name);
    for (const rule of this.#cutRules("-I")) await runOk(this.command(name, rule));
    pod.partitioned = true;
  }

  /** Undoes {@link partition}. */
  async heal(name: string): Promise<void> {
    const pod = this.#state(name);
    for (const rule of this.#cutRules("-D")) await runOk(this.command(name, rule));
    pod.partitioned = false;
  }

  #cutRules(op: "-I" | "-D"): string[][] {
    const nd = this.family === 6 ? ["!", "-p", "icmpv6"] : [];
    return [
      [this.iptables, "-w", op, "INPUT", "-i", "eth0", ...nd, "-j", "DROP"],
      [this.iptables, "-w", op, "OUTPUT", "-o", "eth0", ...nd, "-j", "DROP"],
    ];
  }

  /** Command line that runs `cmd` inside the pod (or the node namespace for `"node"`). */
  command(pod: string, cmd: string[], hostname?: string): string[] {
    const netns = pod === "node" ? this.nodeNetns : this.pod(pod).netns;
    const uts = hostname
      ? ["unshare", "--uts", "sh", "-c", 'hostname "$1" && shift && exec "$@"', "em", hostname]
      : [];
    return ["ip", "netns", "exec", netns, ...uts, ...cmd];
  }

  /**
   * Spawns `cmd` inside the pod (`"node"` = the node namespace). The caller owns the child: await its
   * `status` and consume or cancel its piped streams.
   */
  exec(pod: string, cmd: string[], options: ExecOptions = {}): Deno.ChildProcess {
    const full = this.command(pod, cmd, options.hostname);
    return new Deno.Command(full[0], {
      args: full.slice(1),
      env: options.env,
      stdin: options.stdin ?? "null",
      stdout: options.stdout ?? "piped",
      stderr: options.stderr ?? "piped",
    }).spawn();
  }

  /** Runs `cmd` inside the pod to completion and returns its output (never throws on exit codes). */
  run(
    pod: string,
    cmd: string[],
    options: { hostname?: string; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    return run(this.command(pod, cmd, options.hostname), { timeoutMs: options.timeoutMs });
  }

  /** Kills every process in every namespace of this network and deletes namespaces and files. Idempotent. */
  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      const errors: unknown[] = [];
      for (const pod of this.#pods.values()) {
        await destroyNetns(pod.netns).catch((e) => errors.push(e));
      }
      this.#pods.clear();
      await destroyNetns(this.nodeNetns).catch((e) => errors.push(e));
      await Deno.remove(`${STATE_DIR}/${this.prefix}.json`).catch(() => {});
      if (errors.length) throw new AggregateError(errors, `Cannot destroy network '${this.prefix}'`);
    })();
    return this.#destroyed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  #allocateIp(): string {
    const used = new Set([...this.#pods.values()].map((p) => p.ip));
    while (this.#nextHost < 255) {
      const ip = this.#host(this.#nextHost++);
      if (!used.has(ip)) return ip;
    }
    throw new Error(`Cannot allocate an IP: '${this.subnet}' is full`);
  }

  #saving: Promise<void> = Promise.resolve();

  /** Writes the state file, one write at a time (concurrent pod changes share one temp file). */
  #saveState(): Promise<void> {
    const next = this.#saving.then(() => this.#writeState());
    this.#saving = next.catch(() => {});
    return next;
  }

  async #writeState(): Promise<void> {
    await Deno.mkdir(STATE_DIR, { recursive: true });
    const state = {
      pid: Deno.pid,
      created: new Date().toISOString(),
      namespaces: [this.nodeNetns, ...[...this.#pods.values()].map((p) => p.netns)],
    };
    const file = `${STATE_DIR}/${this.prefix}.json`;
    await Deno.writeTextFile(file + ".tmp", JSON.stringify(state));
    await Deno.rename(file + ".tmp", file);
  }
}

async function ipBatch(netns: string, lines: string[]): Promise<void> {
  await runOk(["ip", "-n", netns, "-batch", "-"], { stdin: lines.join("\n") + "\n" });
}

async function netnsPids(netns: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", netns]);
  if (!r.success) return [];
  return r.stdout.split(/\s+/).filter((s) => s).map(Number).filter((n) => n > 1 && n !== Deno.pid);
}

/** Kills all processes of a namespace, deletes it and its `/etc/netns` directory. */
export async function destroyNetns(netns: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = await netnsPids(netns);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 40));
  }
  const r = await run(["ip", "netns", "del", netns]);
  if (!r.success && !/No such file|not found|Invalid/i.test(r.stderr)) {
    throw new Error(`Cannot delete netns '${netns}': ${r.stderr.trim()}`);
  }
  await Deno.remove(`/etc/netns/${netns}`, { recursive: true }).catch(() => {});
}

/**
 * Removes namespaces left by crashed runs: those listed in a state file whose process is dead, and
 * harness-named namespaces (`em????-*`) without a state file that are older than `maxAgeMs`. Namespaces of
 * live runs are never touched. Returns the namespaces removed.
 */
export async function cleanupStale(maxAgeMs = 60 * 60 * 1000): Promise<string[]> {
  if (!isRoot()) return [];
  await cleanupStaleTempDirs([Deno.env.get("TMPDIR") || "/tmp"]);
  const removed: string[] = [];
  const known = new Set<string>();
  const livePrefixes = new Set<string>();
  try {
    for await (const e of Deno.readDir(STATE_DIR)) {
      if (!e.name.endsWith(".json")) continue;
      const prefix = e.name.slice(0, -5);
      const file = `${STATE_DIR}/${e.name}`;
      let state: { pid: number; namespaces: string[] };
      try {
        state = JSON.parse(await Deno.readTextFile(file));
      } catch {
        continue;
      }
      if (pidAlive(state.pid)) {
        livePrefixes.add(prefix);
        continue;
      }
      for (const ns of state.namespaces) {
        known.add(ns);
        await destroyNetns(ns).catch(() => {});
        removed.push(ns);
      }
      await Deno.remove(file).catch(() => {});
    }
  } catch { /* no state dir */ }
  const pattern = new RegExp(`^(${HARNESS_PREFIX}[a-z0-9]{4})-`);
  try {
    for await (const e of Deno.readDir("/run/netns")) {
      const m = pattern.exec(e.name);
      if (!m || livePrefixes.has(m[1]) || known.has(e.name)) continue;
      try {
        const st = await Deno.stat(`${STATE_DIR}/${m[1]}.json`).catch(() => undefined);
        if (st) continue; // a state file appeared meanwhile: a live run
        const mtime = (await Deno.stat(`/run/netns/${e.name}`)).mtime?.getTime() ?? Date.now();
        if (Date.now() - mtime < maxAgeMs) continue;
        await destroyNetns(e.name);
        removed.push(e.name);
      } catch { /* raced with its owner */ }
    }
  } catch { /* no /run/netns */ }
  return removed;
}

/** Creates a simulated node network; see {@link Network}. Needs root. */
export async function createNetwork(options: NetworkOptions = {}): Promise<Network> {
  const why = networkUnavailableReason();
  if (why) throw new Error(`Cannot create network: ${why}`);
  await cleanupStale();
  let prefix = options.prefix;
  if (prefix === undefined) {
    const existing = new Set(
      (await run(["ip", "netns", "list"])).stdout.split("\n").map((l) => l.split(" ")[0].split("-")[0]),
    );
    do prefix = newPrefix(); while (existing.has(prefix));
  }
  if (!/^[a-z0-9]{1,8}$/.test(prefix)) throw new Error(`Cannot create network: bad prefix '${prefix}'`);
  if (options.ipFamily === 6) {
    const why6 = ipv6UnavailableReason();
    if (why6) throw new Error(`Cannot create an IPv6-only network: ${why6}`);
  }
  const x = options.subnet ?? crypto.getRandomValues(new Uint8Array(1))[0];
  const net = new Network(prefix, x, options.ipFamily ?? 4);
  try {
    await net.init();
  } catch (e) {
    await net.destroy().catch(() => {});
    throw e;
  }
  return net;
}
