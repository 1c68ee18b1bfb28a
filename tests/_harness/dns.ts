/**
 * Unbound as a kube-dns stand-in: an authoritative `cluster.local` zone served on the network's gateway
 * address, rewritten atomically (tmp + rename) and reloaded with `unbound-control auth_zone_reload`.
 * {@link renderService} produces what CoreDNS answers for a headless Service (kubernetes.md §5).
 *
 * @example
 * ```ts
 * await using net = await createNetwork();
 * await using dns = await startDns(net);
 * await dns.publish({ name: "app", kind: "statefulset", pods: [{ host: "app-0", ip: "10.244.7.10" }] });
 * ```
 *
 * @module
 */

import {
  hasProgram,
  type LineReader,
  readLines,
  run,
  statusWithin,
  TailBuffer,
  tryKill,
} from "./_process.ts";
import type { Network } from "./netns.ts";
import { tempPrefix } from "./prefix.ts";

/** Why DNS tests cannot run here, or undefined when they can. */
export function dnsUnavailableReason(): string | undefined {
  for (const p of ["unbound", "unbound-control"]) {
    if (!hasProgram(p)) return `'${p}' is not on PATH`;
  }
  return undefined;
}

/** One zone-file record. */
export interface ZoneRecord {
  /** Owner name relative to the zone (`app.default.svc`), `@`, or absolute with a trailing dot. */
  name: string;
  /** Record type, e.g. `A`, `AAAA`, `SRV`, `TXT`. */
  type: string;
  /** RDATA as written in a zone file, e.g. `0 50 4369 app-0.app.default.svc.cluster.local.` */
  data: string;
  /** TTL. @default the zone's `$TTL` */
  ttl?: number;
}

/** One endpoint of a Service. */
export interface ServicePod {
  /** Endpoint hostname (StatefulSet: the pod name, `app-0`). Ignored for Deployments (dashed IP). */
  host?: string;
  /** The pod IP (IPv4 or IPv6). */
  ip: string;
}

/** A headless Service with its ready endpoints. */
export interface ServiceSpec {
  /** Service name. */
  name: string;
  /** Namespace. @default "default" */
  namespace?: string;
  /** `statefulset`: targets are `<host>.<svc>...`; `deployment`: dashed-IP targets with their own A lines. */
  kind: "statefulset" | "deployment";
  /** Ready endpoints; none means no record at or below the Service name (NXDOMAIN). */
  pods: ServicePod[];
  /** TTL of the Service's records. @default the zone's `$TTL` */
  ttl?: number;
  /** Port number in the SRV records. @default 4369 */
  port?: number;
  /** Port name for the `_<name>._tcp` SRV records. @default "epmd" */
  portName?: string;
}

/** `10.244.0.7` → `10-244-0-7`; IPv6 `fd00:10:244::7` → `fd00-10-244--7`, `2001:db8::` → `2001-db8--0`. */
export function dashedIp(ip: string): string {
  if (!ip.includes(":")) return ip.replaceAll(".", "-");
  const d = ip.toLowerCase().replaceAll(":", "-");
  return d.endsWith("-") ? d + "0" : d;
}

/**
 * The zone records CoreDNS would answer for a headless Service (kubernetes.md §5 checklists): pod A (or
 * AAAA) records, Service A records, bare-name SRV and `_epmd._tcp` SRV with weight
 * `max(1, floor(100/N))` and absolute targets. Zero pods give no records.
 */
export function renderService(spec: ServiceSpec, zone = "cluster.local"): ZoneRecord[] {
  const ns = spec.namespace ?? "default";
  const svc = `${spec.name}.${ns}.svc`;
  const ttl = spec.ttl;
  const port = spec.port ?? 4369;
  const portName = spec.portName ?? "epmd";
  const records: ZoneRecord[] = [];
  const targets: string[] = [];
  const seenIps = new Set<string>();
  for (const pod of spec.pods) {
    const type = pod.ip.includes(":") ? "AAAA" : "A";
    let label: string;
    if (spec.kind === "statefulset") {
      if (!pod.host) {
        throw new Error(`Cannot render Service '${svc}': StatefulSet pod '${pod.ip}' has no host`);
      }
      label = pod.host;
    } else {
      label = dashedIp(pod.ip);
    }
    records.push({ name: `${label}.${svc}`, type, data: pod.ip, ttl });
    if (!targets.includes(label)) targets.push(label);
    seenIps.add(pod.ip);
  }
  for (const ip of seenIps) {
    records.push({ name: svc, type: ip.includes(":") ? "AAAA" : "A", data: ip, ttl });
  }
  const weight = Math.max(1, Math.floor(100 / spec.pods.length));
  for (const owner of [svc, `_${portName}._tcp.${svc}`]) {
    for (const label of targets) {
      records.push({ name: owner, type: "SRV", data: `0 ${weight} ${port} ${label}.${svc}.${zone}.`, ttl });
    }
  }
  return records;
}

/** A complete zone file for `zone` with the CoreDNS-like SOA; `ttl` is `$TTL` and the SOA minimum. */
/** Options of {@link unboundConfig}. */
export interface UnboundConfigOptions {
  /** The server's directory (pid file, zone file, control socket). */
  dir: string;
  /** `interface:` value, e.g. `10.244.7.1`, `127.0.0.1@5353` or (IPv6, then `do-ip6: yes`) `fd00:7:1::1`. */
  iface: string;
  /** The network allowed to ask, e.g. `10.244.7.0/24` or `fd00:7:1::/64`. */
  allow: string;
  /** The zone served from `<dir>/<zone>.zone`. @default "cluster.local" */
  zone?: string;
  /** `logfile:` value; `""` logs to stderr. @default "" */
  logfile?: string;
  /** Extra `server:` lines. @default [] */
  extra?: string[];
}

/**
 * Unbound as the kube-dns stand-in: one auth-zone served from a file the test rewrites, no
 * recursion (everything outside the zone is refused), a control socket for `auth_zone_reload`.
 */
export function unboundConfig(o: UnboundConfigOptions): string {
  const zone = o.zone ?? "cluster.local";
  const extra = (o.extra ?? []).map((l) => `    ${l}\n`).join("");
  return `server:
    interface: ${o.iface}
    access-control: ${o.allow} allow
    do-ip6: ${o.iface.includes(":") ? "yes" : "no"}
    num-threads: 1
${extra}    chroot: ""
    username: ""
    directory: "${o.dir}"
    pidfile: "${o.dir}/unbound.pid"
    use-syslog: no
    logfile: "${o.logfile ?? ""}"
    module-config: "iterator"
    do-not-query-localhost: yes
    local-zone: "." refuse
    local-zone: "${zone}." transparent
auth-zone:
    name: "${zone}."
    zonefile: "${o.dir}/${zone}.zone"
    for-downstream: yes
    for-upstream: no
    fallback-enabled: no
remote-control:
    control-enable: yes
    control-interface: ${o.dir}/unbound.sock
    control-use-cert: no
`;
}

export function renderZone(
  records: ZoneRecord[],
  options: { zone?: string; ttl?: number; serial?: number } = {},
) {
  const zone = options.zone ?? "cluster.local";
  const ttl = options.ttl ?? 5;
  const lines = [
    `$ORIGIN ${zone}.`,
    `$TTL ${ttl}`,
    `@ IN SOA ns.dns.${zone}. hostmaster.${zone}. ${options.serial ?? 1} 7200 1800 86400 ${ttl}`,
  ];
  for (const r of records) {
    if (!/^[A-Za-z0-9_.@*-]+$/.test(r.name) || /[\n;]/.test(r.data) || !/^[A-Z0-9]+$/.test(r.type)) {
      throw new Error(`Cannot render zone record: bad record ${JSON.stringify(r)}`);
    }
    lines.push(`${r.name}${r.ttl !== undefined ? ` ${r.ttl}` : ""} IN ${r.type} ${r.data}`);
  }
  return lines.join("\n") + "\n";
}

/** Options of {@link startDns}. */
export interface DnsOptions {
  /** Cluster domain. @default "cluster.local" */
  zone?: string;
  /** `$TTL` and SOA minimum (the CoreDNS plugin `ttl`). @default 5 */
  ttl?: number;
}

/** A running Unbound serving the cluster zone; see {@link startDns}. */
export class Dns implements AsyncDisposable {
  /** The address it listens on (the network's gateway). */
  readonly address: string;
  /** The zone it serves. */
  readonly zone: string;
  /** The zone's default TTL. */
  readonly ttl: number;
  /** Its temp directory (config, zone file, control socket). */
  readonly dir: string;
  #network: Network;
  #child: Deno.ChildProcess | undefined;
  #stderr: LineReader | undefined;
  #log = new TailBuffer();
  #services = new Map<string, ServiceSpec>();
  #extra: ZoneRecord[] = [];
  #serial = 1;
  #stopped: Promise<void> | undefined;
  #lock: Promise<unknown> = Promise.resolve();

  /** @internal use {@link startDns} */
  constructor(network: Network, dir: string, options: DnsOptions) {
    this.#network = network;
    this.address = network.gateway;
    this.zone = options.zone ?? "cluster.local";
    this.ttl = options.ttl ?? 5;
    this.dir = dir;
  }

  get #conf(): string {
    return `${this.dir}/unbound.conf`;
  }

  /** Whether the server is running (false while paused or after stop). */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Unbound's log (stderr). */
  output(): string {
    return this.#log.toString();
  }

  /** @internal */
  async writeConfig(): Promise<void> {
    const d = this.dir;
    const conf = unboundConfig({
      dir: d,
      iface: this.address,
      allow: this.#network.subnet,
      zone: this.zone,
    });
    await Deno.writeTextFile(this.#conf, conf);
    await this.#writeZone();
  }

  #records(): ZoneRecord[] {
    const out: ZoneRecord[] = [];
    for (const spec of this.#services.values()) out.push(...renderService(spec, this.zone));
    out.push(...this.#extra);
    return out;
  }

  async #writeZone(): Promise<void> {
    const text = renderZone(this.#records(), { zone: this.zone, ttl: this.ttl, serial: this.#serial++ });
    const file = `${this.dir}/${this.zone}.zone`;
    await Deno.writeTextFile(file + ".tmp", text);
    await Deno.rename(file + ".tmp", file);
  }

  /** The zone file as currently written. */
  zoneText(): Promise<string> {
    return Deno.readTextFile(`${this.dir}/${this.zone}.zone`);
  }

  async #apply(): Promise<void> {
    await this.#writeZone();
    if (!this.#child) return; // paused: resume() loads the file
    const r = await run(["unbound-control", "-c", this.#conf, "auth_zone_reload", this.zone], {
      timeoutMs: 10_000,
    });
    if (!r.success || r.stdout.trim() !== "ok") {
      throw new Error(
        `Cannot reload zone '${this.zone}': unbound-control answered '${(r.stdout + r.stderr).trim()}'`,
      );
    }
  }

  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#lock.then(fn);
    this.#lock = p.catch(() => {});
    return p;
  }

  /** Replaces the extra (non-Service) records and reloads. Services published with {@link publish} stay. */
  setZone(records: ZoneRecord[]): Promise<void> {
    return this.#serialize(async () => {
      this.#extra = [...records];
      await this.#apply();
    });
  }

  /** Publishes (or replaces) a Service with its ready endpoints and reloads the zone. */
  publish(service: ServiceSpec): Promise<void> {
    return this.#serialize(async () => {
      renderService(service, this.zone); // validate before storing
      this.#services.set(`${service.name}.${service.namespace ?? "default"}`, structuredClone(service));
      await this.#apply();
    });
  }

  /** Removes a Service from the zone (as if it had been deleted) and reloads. */
  unpublish(name: string, namespace = "default"): Promise<void> {
    return this.#serialize(async () => {
      this.#services.delete(`${name}.${namespace}`);
      await this.#apply();
    });
  }

  /** @internal starts the server and waits until it answers. */
  async launch(): Promise<void> {
    const cmd = this.#network.command("node", ["unbound", "-d", "-c", this.#conf]);
    const child = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    const out = readLines(child.stdout, (l) => this.#log.push(l + "\n"));
    const err = readLines(child.stderr, (l) => this.#log.push(l + "\n"));
    this.#stderr = {
      done: Promise.all([out.done, err.done]).then(() => {}),
      cancel: async () => {
        await Promise.all([out.cancel(), err.cancel()]);
      },
    };
    const deadline = Date.now() + 10_000;
    while (true) {
      const exited = await statusWithin(child, 0);
      if (exited) {
        await this.#reap();
        throw new Error(`Cannot start unbound: it exited (code ${exited.code}): ${this.output().trim()}`);
      }
      const r = await run(["unbound-control", "-c", this.#conf, "status"], { timeoutMs: 5000 });
      if (r.success) return;
      if (Date.now() > deadline) {
        await this.#kill();
        throw new Error(`Cannot start unbound: no answer within 10 s: ${this.output().trim()}`);
      }
      await new Promise((res) => setTimeout(res, 30));
    }
  }

  async #reap(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    await child.status;
    await Promise.race([this.#stderr?.done, new Promise((r) => setTimeout(r, 1000))]);
    await this.#stderr?.cancel();
    this.#child = undefined;
    this.#stderr = undefined;
  }

  async #kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    tryKill(child, "SIGTERM");
    if (!(await statusWithin(child, 3000))) tryKill(child, "SIGKILL");
    await this.#reap();
  }

  /** Stops the server (DNS outage); the zone is kept. Idempotent. */
  pause(): Promise<void> {
    return this.#serialize(() => this.#kill());
  }

  /** Restarts the server on the same address with the current zone. Idempotent. */
  resume(): Promise<void> {
    return this.#serialize(async () => {
      if (!this.#child) await this.launch();
    });
  }

  /** Stops the server and removes its directory. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#serialize(async () => {
      await this.#kill();
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    });
    return this.#stopped;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** Starts Unbound in the network's node namespace on its gateway address, with an empty zone (SOA only). */
export async function startDns(network: Network, options: DnsOptions = {}): Promise<Dns> {
  const why = dnsUnavailableReason();
  if (why) throw new Error(`Cannot start DNS: ${why}`);
  const dir = await Deno.makeTempDir({ prefix: tempPrefix(`dns-${network.prefix}`) });
  const dns = new Dns(network, dir, options);
  try {
    await dns.writeConfig();
    await dns.launch();
  } catch (e) {
    await dns.stop();
    throw e;
  }
  return dns;
}

/** Reads Unbound's `total.num.queries` (queries it answered since start) through its control socket. */
export async function unboundQueryCount(conf: string): Promise<number> {
  const r = await run(["unbound-control", "-c", conf, "stats_noreset"], { timeoutMs: 10_000 });
  const m = /^total\.num\.queries=(\d+)$/m.exec(r.stdout);
  if (!m) {
    throw new Error(
      `Cannot read Unbound's counters: unbound-control answered '${(r.stdout + r.stderr).trim()}'`,
    );
  }
  return Number(m[1]);
}

/** Options of {@link cachingUnboundConfig}. */
export interface CachingUnboundConfigOptions {
  /** The resolver's directory (pid file, control socket). */
  dir: string;
  /** `interface:` value, e.g. `10.244.7.2`. */
  iface: string;
  /** The network allowed to ask, e.g. `10.244.7.0/24`. */
  allow: string;
  /** The zone forwarded upstream. @default "cluster.local" */
  zone?: string;
  /** The authoritative server it forwards to, `ADDR` or `ADDR@PORT`. */
  upstream: string;
  /** `cache-min-ttl`: positive answers are kept at least this long, s. */
  minTtl: number;
  /** `cache-max-negative-ttl`: negative answers are kept at most this long, s. */
  maxNegativeTtl: number;
}

/**
 * A caching resolver in front of the kube-dns stand-in, as older kubeadm Corefiles (`ttl 30` +
 * `cache 30`) or NodeLocal DNSCache serve cluster DNS: it forwards the zone upstream and keeps answers
 * at least `minTtl` seconds (negative ones at most `maxNegativeTtl`); everything else is refused.
 */
export function cachingUnboundConfig(o: CachingUnboundConfigOptions): string {
  const zone = o.zone ?? "cluster.local";
  return `server:
    interface: ${o.iface}
    access-control: ${o.allow} allow
    do-ip6: no
    num-threads: 1
    chroot: ""
    username: ""
    directory: "${o.dir}"
    pidfile: "${o.dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    module-config: "iterator"
    qname-minimisation: no
    cache-min-ttl: ${o.minTtl}
    cache-max-negative-ttl: ${o.maxNegativeTtl}
    local-zone: "." refuse
    local-zone: "${zone}." transparent
forward-zone:
    name: "${zone}."
    forward-addr: ${o.upstream}
remote-control:
    control-enable: yes
    control-interface: ${o.dir}/unbound.sock
    control-use-cert: no
`;
}

/** Options of {@link startCachingDns}. */
export interface CachingDnsOptions {
  /** Last octet of its address in the network's /24 (pods start at `.10`). @default 2 */
  host?: number;
  /** `cache-min-ttl`, s. @default 30 */
  minTtl?: number;
  /** `cache-max-negative-ttl`, s. @default 30 */
  maxNegativeTtl?: number;
}

/** A caching Unbound in front of a {@link Dns}; see {@link startCachingDns}. */
export class CachingDns implements AsyncDisposable {
  /** The address it listens on (a second address on the bridge). */
  readonly address: string;
  /** Its temp directory (config, control socket). */
  readonly dir: string;
  #network: Network;
  #child: Deno.ChildProcess | undefined;
  #readers: LineReader[] = [];
  #log = new TailBuffer();
  #stopped: Promise<void> | undefined;

  /** @internal use {@link startCachingDns} */
  constructor(network: Network, dir: string, address: string) {
    this.#network = network;
    this.dir = dir;
    this.address = address;
  }

  /** Its configuration file. */
  get conf(): string {
    return `${this.dir}/unbound.conf`;
  }

  /** Unbound's log (stderr). */
  output(): string {
    return this.#log.toString();
  }

  /** @internal starts it and waits until it answers its control socket. */
  async launch(): Promise<void> {
    const cmd = this.#network.command("node", ["unbound", "-d", "-c", this.conf]);
    const child = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#readers = [
      readLines(child.stdout, (l) => this.#log.push(l + "\n")),
      readLines(child.stderr, (l) => this.#log.push(l + "\n")),
    ];
    const deadline = Date.now() + 10_000;
    while (true) {
      const exited = await statusWithin(child, 0);
      if (exited) {
        throw new Error(
          `Cannot start the caching unbound: it exited (code ${exited.code}): ${this.output().trim()}`,
        );
      }
      const r = await run(["unbound-control", "-c", this.conf, "status"], { timeoutMs: 5000 });
      if (r.success) return;
      if (Date.now() > deadline) {
        throw new Error(`Cannot start the caching unbound: no answer within 10 s: ${this.output().trim()}`);
      }
      await new Promise((res) => setTimeout(res, 30));
    }
  }

  /** Points the pod's resolv.conf (`/etc/netns/<netns>/resolv.conf`) at this resolver. */
  async servePod(netns: string): Promise<void> {
    const file = `/etc/netns/${netns}/resolv.conf`;
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file + ".tmp", text.replace(/^nameserver .*$/m, `nameserver ${this.address}`));
    await Deno.rename(file + ".tmp", file);
  }

  /** Queries it answered since it started (from the cache or upstream). */
  queries(): Promise<number> {
    return unboundQueryCount(this.conf);
  }

  /** Empties its cache (`unbound-control flush_zone`). */
  async flush(zone = "cluster.local"): Promise<void> {
    const r = await run(["unbound-control", "-c", this.conf, "flush_zone", zone], { timeoutMs: 10_000 });
    if (!r.success) throw new Error(`Cannot flush the cache of '${zone}': ${(r.stdout + r.stderr).trim()}`);
  }

  /** Stops it, removes its address from the bridge and its directory. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      const child = this.#child;
      if (child) {
        tryKill(child, "SIGTERM");
        if (!(await statusWithin(child, 3000))) tryKill(child, "SIGKILL");
        await child.status;
        await Promise.race([
          Promise.all(this.#readers.map((r) => r.done)),
          new Promise((r) => setTimeout(r, 1000)),
        ]);
        await Promise.all(this.#readers.map((r) => r.cancel()));
      }
      await this.#network.run("node", ["ip", "addr", "del", `${this.address}/24`, "dev", "br0"]).catch(
        () => {},
      );
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
    return this.#stopped;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Starts a caching Unbound in the network's node namespace on a second bridge address (`.2` unless
 * told), forwarding the zone to `upstream`. Pods keep asking `upstream` until {@link CachingDns.servePod}
 * points them at the cache.
 */
export async function startCachingDns(
  network: Network,
  upstream: Dns,
  options: CachingDnsOptions = {},
): Promise<CachingDns> {
  const why = dnsUnavailableReason();
  if (why) throw new Error(`Cannot start DNS: ${why}`);
  const host = options.host ?? 2;
  const address = network.gateway.replace(/\.\d+$/, `.${host}`);
  const dir = await Deno.makeTempDir({ prefix: tempPrefix(`dnscache-${network.prefix}`) });
  const cache = new CachingDns(network, dir, address);
  try {
    const add = await network.run("node", ["ip", "addr", "add", `${address}/24`, "dev", "br0"]);
    if (!add.success) throw new Error(`Cannot add address '${address}' to the bridge: ${add.stderr.trim()}`);
    await Deno.writeTextFile(
      cache.conf,
      cachingUnboundConfig({
        dir,
        iface: address,
        allow: network.subnet,
        zone: upstream.zone,
        upstream: upstream.address,
        minTtl: options.minTtl ?? 30,
        maxNegativeTtl: options.maxNegativeTtl ?? 30,
      }),
    );
    await cache.launch();
  } catch (e) {
    await cache.stop();
    throw e;
  }
  return cache;
}
