/**
 * Runs `deploy/compose/compose.yaml` in the simulated network as Docker Compose would, with the image as the
 * repository's Dockerfile defines it (no Docker engine here): one network namespace per service on the
 * Compose network, the service names resolvable by every service (Docker's DNS, here as hosts lines),
 * `depends_on: service_completed_successfully` run first, named volumes, `tmpfs`, file secrets under
 * `/run/secrets/<name>`, `user`, `environment`, the image's `ENTRYPOINT`/`ENV`/`USER` (or the service's
 * `entrypoint`), the `healthcheck` with its interval, timeout and retries, and `docker compose stop` as
 * SIGTERM, then SIGKILL after `stop_grace_period`.
 *
 * @module
 */

import { parse } from "yaml";
import { createNetwork, type Network } from "./_harness/netns.ts";
import { tempPrefix } from "./_harness/prefix.ts";
import { childEnv, erlmeshArgv } from "./_erlmesh.ts";
import {
  IMAGE_PATH,
  imageCommand,
  imageName,
  type ImageSpec,
  type K8sObject,
  type Proc,
  sharedDenoDir,
  sleep,
  spawnContainer,
  stopProc,
} from "./_kubelet.ts";

/** The repository's compose file. */
export const COMPOSE_FILE: string = new URL("../deploy/compose/compose.yaml", import.meta.url).pathname;
/** The repository's Dockerfile. */
export const DOCKERFILE: string = new URL("../Dockerfile", import.meta.url).pathname;

/** One stage of a Dockerfile: `FROM base AS name` and its instructions (continuations joined). */
export interface DockerStage {
  from: string;
  name?: string;
  instructions: { op: string; args: string }[];
}

/** The stages of a Dockerfile, in order. */
export function parseDockerfile(text: string): DockerStage[] {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) =>
    l && !l.startsWith("#")
  );
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Cannot parse Dockerfile line '${line}'`);
    const op = m[1].toUpperCase();
    const args = m[2].trim();
    if (op === "FROM") {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Cannot parse FROM '${args}'`);
      stages.push({ from: f[1], name: f[2], instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Cannot parse Dockerfile: '${op}' before FROM`);
      stages.at(-1)!.instructions.push({ op, args });
    }
  }
  return stages;
}

/** What a stage's image runs with: exec-form ENTRYPOINT and CMD, ENV, USER (the last of each). */
export function stageConfig(stage: DockerStage): {
  entrypoint?: string[];
  cmd?: string[];
  env: Record<string, string>;
  user?: string;
} {
  const out: { entrypoint?: string[]; cmd?: string[]; env: Record<string, string>; user?: string } = {
    env: {},
  };
  for (const { op, args } of stage.instructions) {
    if (op === "ENTRYPOINT" || op === "CMD") {
      if (!args.startsWith("[")) throw new Error(`Cannot use shell-form ${op} '${args}': expected exec form`);
      const v = JSON.parse(args) as string[];
      if (op === "ENTRYPOINT") out.entrypoint = v;
      else out.cmd = v;
    } else if (op === "ENV") {
      for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) out.env[m[1]] = m[2];
    } else if (op === "USER") {
      out.user = args;
    }
  }
  return out;
}

/** The parsed compose file (YAML merge keys `<<:` applied). */
export function parseCompose(text: string): K8sObject {
  return parse(text, { merge: true }) as K8sObject;
}

/** `30s`, `2s`, `1m30s`, `500ms` → milliseconds. */
export function composeDuration(text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  let ms = 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let rest = String(text);
  for (const m of String(text).matchAll(re)) {
    ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
    rest = rest.replace(m[0], "");
  }
  if (rest !== "") throw new Error(`Cannot parse Compose duration '${text}'`);
  return ms;
}

/** A service's container in the simulation. */
export class ComposeContainer {
  readonly name: string;
  readonly spec: K8sObject;
  proc?: Proc;
  health: "none" | "starting" | "healthy" | "unhealthy" = "none";
  readonly output: string[] = [];
  stopHealth = new AbortController();
  /** How its last start mapped paths, and its environment and image. */
  context?: { map: (s: string) => string; env: Record<string, string>; image: ImageSpec };
  constructor(name: string, spec: K8sObject) {
    this.name = name;
    this.spec = spec;
  }
  log(): string {
    return [...this.output, ...(this.proc?.lines ?? [])].join("\n");
  }
}

/** Options of {@link composeUp}. */
export interface ComposeOptions {
  /** The parsed compose file. */
  compose: K8sObject;
  /** The images by name (without tag), with what runs when the service gives no entrypoint. */
  images: Record<string, ImageSpec & { entrypoint?: string[]; cmd?: string[] }>;
  /** The root of the test release the images' release path maps to. */
  releaseRoot: string;
  /** The folder that holds the compose file's relative paths (secrets' `file:`). */
  projectDir: string;
}

/** A Compose project running in the simulated network; see {@link composeUp}. */
export class ComposeProject implements AsyncDisposable {
  readonly network: Network;
  readonly dir: string;
  readonly denoDir: string;
  readonly containers = new Map<string, ComposeContainer>();
  readonly ips = new Map<string, string>();
  #o: ComposeOptions;
  #destroyed?: Promise<void>;

  /** @internal */
  constructor(network: Network, dir: string, denoDir: string, o: ComposeOptions) {
    this.network = network;
    this.dir = dir;
    this.denoDir = denoDir;
    this.#o = o;
    for (const [name, spec] of Object.entries(o.compose.services as Record<string, K8sObject>)) {
      this.containers.set(name, new ComposeContainer(name, spec));
    }
  }

  /** @internal creates the network's members, the volumes, and the hosts lines of Docker's DNS. */
  async init(): Promise<void> {
    for (const name of Object.keys(this.#o.compose.volumes ?? {})) {
      await Deno.mkdir(`${this.dir}/volume-${name}`, { mode: 0o755 });
    }
    for (const [name, c] of this.containers) {
      if (c.spec.network_mode === "none") continue;
      const pod = await this.network.addPod(name, { hostname: c.spec.hostname ?? name });
      this.ips.set(name, pod.ip);
      // Docker's DNS answers the service name and the aliases on each network.
      const nets = Array.isArray(c.spec.networks) ? {} : c.spec.networks ?? {};
      for (const n of Object.values(nets as Record<string, K8sObject | null>)) {
        for (const alias of n?.aliases ?? []) this.ips.set(alias, pod.ip);
      }
    }
    await this.addWatcher("watcher");
  }

  /** Adds a pod on the network that resolves the service names (to look from, as `docker run --network`). */
  async addWatcher(name: string): Promise<void> {
    await this.network.addPod(name);
    await this.#writeHosts();
  }

  async #writeHosts(): Promise<void> {
    const lines = [...this.ips].map(([name, ip]) => `${ip}\t${name}\n`).join("");
    for (const pod of this.network.pods) {
      await Deno.writeTextFile(
        `/etc/netns/${pod.netns}/hosts`,
        `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${lines}`,
      );
      await Deno.writeTextFile(`/etc/netns/${pod.netns}/resolv.conf`, "options ndots:0\n");
    }
  }

  /** `docker compose up`: services in `depends_on` order; one-shot dependencies must exit 0 first. */
  async up(): Promise<void> {
    const started = new Set<string>();
    const start = async (name: string): Promise<void> => {
      if (started.has(name)) return;
      started.add(name);
      const c = this.containers.get(name)!;
      for (const [dep, cond] of Object.entries((c.spec.depends_on ?? {}) as Record<string, K8sObject>)) {
        await start(dep);
        if (cond?.condition === "service_completed_successfully") {
          const s = await this.containers.get(dep)!.proc!.status;
          if (!s.success) throw new Error(`Cannot start '${name}': '${dep}' exited with ${s.code}`);
        }
      }
      this.start(name);
    };
    for (const name of this.containers.keys()) await start(name);
  }

  /** Starts one service's container (`docker compose start`). */
  start(name: string): void {
    const c = this.containers.get(name)!;
    if (c.proc && !c.proc.exited) throw new Error(`Cannot start '${name}': it is running`);
    if (c.proc) c.output.push(...c.proc.lines);
    const spec = c.spec;
    const image = this.#o.images[imageName(spec.image)];
    if (!image) throw new Error(`Cannot run '${name}': unknown image '${spec.image}'`);
    const mounts: { path: string; host: string }[] = [];
    for (const v of spec.volumes ?? []) {
      const [src, path] = String(v).split(":");
      mounts.push({ path, host: `${this.dir}/volume-${src}` });
    }
    for (const t of spec.tmpfs ?? []) {
      const host = Deno.makeTempDirSync({ dir: this.dir, prefix: `${name}-tmpfs-` });
      Deno.chmodSync(host, 0o1777);
      mounts.push({ path: String(t), host });
    }
    for (const s of spec.secrets ?? []) {
      const secret = this.#o.compose.secrets[typeof s === "string" ? s : s.source];
      mounts.push({
        path: `/run/secrets/${typeof s === "string" ? s : s.target ?? s.source}`,
        host: `${this.#o.projectDir}/${secret.file}`,
      });
    }
    mounts.sort((a, b) => b.path.length - a.path.length);
    const map = (s: string): string => {
      for (const m of mounts) {
        if (s === m.path || s.startsWith(m.path + "/")) return m.host + s.slice(m.path.length);
      }
      if (image.releasePath && (s === image.releasePath || s.startsWith(image.releasePath + "/"))) {
        return this.#o.releaseRoot + s.slice(image.releasePath.length);
      }
      return s;
    };
    const env: Record<string, string> = {
      PATH: IMAGE_PATH,
      HOSTNAME: spec.hostname ?? name,
      ...(image.env ?? {}),
    };
    const given = Array.isArray(spec.environment)
      ? Object.fromEntries(
        spec.environment.map((e: string) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
      )
      : spec.environment ?? {};
    for (const [k, v] of Object.entries(given)) env[k] = String(v);
    c.context = { map, env, image };
    const entrypoint: string[] = spec.entrypoint ?? image.entrypoint ?? [];
    const argv = [...entrypoint, ...(spec.command ?? (spec.entrypoint ? [] : image.cmd ?? []))];
    const cmd = imageCommand(name, spec.image, image, argv, map);
    const [u, g] = String(spec.user ?? image.user ?? 0).split(":");
    const uid = Number(u);
    c.proc = spawnContainer({
      network: spec.network_mode === "none" ? undefined : this.network,
      pod: name,
      hostname: spec.hostname ?? name,
      uid,
      gid: Number(g ?? u),
      groups: [],
      dropCapabilities: (spec.cap_drop ?? []).includes("ALL") || uid !== 0,
      env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, map(v)])),
      denoDir: this.denoDir,
      cmd,
    });
    c.stopHealth = new AbortController();
    if (spec.healthcheck) this.#healthLoop(c, map, env, image).catch(() => {});
  }

  async #healthLoop(
    c: ComposeContainer,
    map: (s: string) => string,
    env: Record<string, string>,
    image: ImageSpec,
  ): Promise<void> {
    const h = c.spec.healthcheck;
    const interval = composeDuration(h.interval, 30_000);
    const timeout = composeDuration(h.timeout, 30_000);
    const startPeriod = composeDuration(h.start_period, 0);
    const retries = h.retries ?? 3;
    const test: string[] = h.test;
    if (test[0] !== "CMD") throw new Error(`Cannot simulate healthcheck '${JSON.stringify(test)}': only CMD`);
    const t0 = Date.now();
    let fails = 0;
    c.health = "starting";
    const signal = c.stopHealth.signal;
    while (!signal.aborted) {
      await sleep(interval, signal); // Docker's first check comes one interval after the start
      if (signal.aborted) return;
      const [u, g] = String(c.spec.user ?? image.user ?? 0).split(":");
      const proc = spawnContainer({
        network: this.network,
        pod: c.name,
        hostname: c.spec.hostname ?? c.name,
        uid: Number(u),
        gid: Number(g ?? u),
        groups: [],
        dropCapabilities: true,
        env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, map(v)])),
        denoDir: this.denoDir,
        cmd: imageCommand(c.name, c.spec.image, image, test.slice(1), map),
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const s = await Promise.race([
        proc.status,
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeout)),
      ]);
      clearTimeout(timer);
      if (s === "timeout") {
        proc.killGroup("SIGKILL");
        await proc.status;
      }
      if (s !== "timeout" && s.success) {
        fails = 0;
        c.health = "healthy";
      } else if (Date.now() - t0 > startPeriod && ++fails >= retries) {
        c.health = "unhealthy";
      }
    }
  }

  /** `docker compose exec NAME ARGV…`: the service's image, user and environment; exit code and output. */
  async exec(name: string, argv: string[], timeoutMs = 30_000): Promise<{ code: number; output: string }> {
    const c = this.containers.get(name)!;
    if (!c.context) throw new Error(`Cannot exec in '${name}': it was never started`);
    const { map, env, image } = c.context;
    const [u, g] = String(c.spec.user ?? image.user ?? 0).split(":");
    const proc = spawnContainer({
      network: this.network,
      pod: name,
      hostname: c.spec.hostname ?? name,
      uid: Number(u),
      gid: Number(g ?? u),
      groups: [],
      dropCapabilities: true,
      env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, map(v)])),
      denoDir: this.denoDir,
      cmd: imageCommand(name, c.spec.image, image, argv, map),
    });
    return await proc.completion(timeoutMs, `'${argv.join(" ")}' in '${name}'`);
  }

  /** `docker compose stop NAME`: SIGTERM, SIGKILL after `stop_grace_period` (10 s by default). */
  async stop(name: string): Promise<Deno.CommandStatus | undefined> {
    const c = this.containers.get(name)!;
    c.stopHealth.abort();
    c.health = "none";
    if (!c.proc) return undefined;
    return await stopProc(c.proc, composeDuration(c.spec.stop_grace_period, 10_000) / 1000);
  }

  /** Runs `erlmesh mesh -o json --nodes …` from the watcher pod. */
  async mesh(
    cookieFile: string,
    nodes: string[],
  ): Promise<{ code: number; json?: K8sObject; stderr: string }> {
    const r = await this.network.run("watcher", [
      "env",
      "-i",
      ...Object.entries(childEnv({ HOME: Deno.env.get("HOME") ?? "/root" })).map(([k, v]) => `${k}=${v}`),
      ...erlmeshArgv(["mesh", "-o", "json", "--cookie-file", cookieFile, "--nodes", nodes.join(",")]),
    ], { timeoutMs: 30_000 });
    let json: K8sObject | undefined;
    try {
      json = JSON.parse(r.stdout);
    } catch { /* undefined */ }
    return { code: r.code, json, stderr: r.stderr };
  }

  /** Stops every container (SIGKILL) and removes the network and the folder. Idempotent. */
  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      for (const c of this.containers.values()) {
        c.stopHealth.abort();
        c.proc?.killGroup("SIGKILL");
      }
      await this.network.destroy().catch(() => {});
      await Promise.all([...this.containers.values()].map((c) => c.proc?.status.catch(() => {})));
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
    return this.#destroyed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}

/** Creates the project's network, volumes and name resolution; {@link ComposeProject.up} starts it. */
export async function composeUp(o: ComposeOptions): Promise<ComposeProject> {
  const network = await createNetwork();
  let dir: string | undefined;
  try {
    dir = await Deno.makeTempDir({ prefix: tempPrefix("compose") });
    await Deno.chmod(dir, 0o755);
    const p = new ComposeProject(network, dir, await sharedDenoDir(dir), o);
    await p.init();
    return p;
  } catch (e) {
    await network.destroy().catch(() => {});
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}
