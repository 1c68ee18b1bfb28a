/**
 * `erlmesh run` as the entrypoint of real releases in a simulated cluster: a rebar3/relx release and a
 * mix release (built from `tests/fixtures`, see `_releases.ts`), each started by `erlmesh run` in every
 * pod with the environment Kubernetes would give it. Checks the full mesh, that erlmesh names an Elixir
 * release's node itself, where the cookie ends up, signal forwarding and exit codes. A shell script
 * standing in for a release proves the forwarding of each signal exactly.
 */
import assert from "node:assert/strict";
import {
  type Cluster,
  type ClusterPod,
  clusterUnavailableReason,
  createCluster,
  createNetwork,
  networkUnavailableReason,
} from "./_harness/mod.ts";
import { run } from "./_harness/_process.ts";
import { epmdNames, randomCookie } from "./_harness/otp.ts";
import { runArgv } from "./_erlmesh.ts";
import { tempPrefix } from "./_harness/prefix.ts";
import { cookieFile, type MeshJson, waitFullMesh } from "./_sim.ts";
import {
  buildElixirRelease,
  buildErlangRelease,
  ELIXIR_RELEASE_NAME,
  ERLANG_RELEASE_NAME,
  releaseToolsReason,
} from "./_releases.ts";

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const clusterWhy = clusterUnavailableReason(["25"]);
const erlangWhy = clusterWhy ?? releaseToolsReason("erlang");
const elixirWhy = clusterWhy ?? releaseToolsReason("elixir");
const scriptWhy = networkUnavailableReason();
if (erlangWhy) console.warn(`SKIP the rebar3 release under erlmesh run: ${erlangWhy}`);
if (elixirWhy) console.warn(`SKIP the mix release under erlmesh run: ${elixirWhy}`);
if (scriptWhy) console.warn(`SKIP signal forwarding to a script under erlmesh run: ${scriptWhy}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `erlmesh run -- CMD…` running in a pod, with its stdout and stderr (the release's too) collected. */
class RunInPod implements AsyncDisposable {
  readonly label: string;
  /** The per-pod scratch folder (HOME, generated vm.args, crash dumps). */
  readonly dir: string;
  readonly netns: string;
  #child: Deno.ChildProcess;
  #text = "";
  #pumps: Promise<void>;
  #exit: Promise<Deno.CommandStatus>;
  #exited = false;

  constructor(label: string, netns: string, dir: string, child: Deno.ChildProcess) {
    this.label = label;
    this.netns = netns;
    this.dir = dir;
    this.#child = child;
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) this.#text += dec.decode(chunk, { stream: true });
    };
    this.#pumps = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {});
    this.#exit = child.status.then((s) => {
      this.#exited = true;
      return s;
    });
  }

  /** erlmesh's pid (`ip netns exec`, `unshare`, `sh` and `env` all exec, so it is the spawned pid). */
  get pid(): number {
    return this.#child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** Everything erlmesh and the release printed so far. */
  output(): string {
    return this.#text;
  }

  /** Waits until the output matches `pattern`. */
  async waitFor(pattern: RegExp, timeoutMs = 30000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pattern.test(this.#text)) {
      if (this.#exited) {
        await this.#pumps;
        if (pattern.test(this.#text)) return;
        throw new Error(`${this.label}: exited before printing ${pattern}:\n${this.#text}`);
      }
      if (Date.now() > end) {
        throw new Error(`${this.label}: no ${pattern} after ${timeoutMs} ms:\n${this.#text}`);
      }
      await sleep(50);
    }
  }

  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** erlmesh's exit code; kills it and fails when it has not exited within `timeoutMs`. */
  async exitCode(timeoutMs = 30000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
    const s = await Promise.race([this.#exit, timeout]);
    clearTimeout(timer);
    if (s === "timeout") {
      this.#forceStop();
      throw new Error(`${this.label}: erlmesh run did not exit within ${timeoutMs} ms:\n${this.#text}`);
    }
    await this.#pumps;
    assert.equal(s.signal, null, `${this.label}: erlmesh itself died of ${s.signal}:\n${this.#text}`);
    return s.code;
  }

  /** The pid of the release's VM (`beam.smp`) in the pod. */
  async beamPid(timeoutMs = 10000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const r = await run(["ip", "netns", "pids", this.netns]);
      for (const pid of r.stdout.split(/\s+/).filter((s) => s).map(Number)) {
        const comm = await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "");
        if (comm.trim() === "beam.smp") return pid;
      }
      await sleep(100);
    }
    throw new Error(`${this.label}: no beam.smp process in '${this.netns}'`);
  }

  #forceStop(): void {
    if (this.#exited) return;
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
    // erlmesh's child outlives a SIGKILLed erlmesh: kill the whole pod's processes except its EPMD.
    run(["ip", "netns", "pids", this.netns]).then((r) => {
      for (const pid of r.stdout.split(/\s+/).filter((s) => s).map(Number)) {
        if (pid === Deno.pid) continue;
        try {
          if (Deno.readTextFileSync(`/proc/${pid}/comm`).trim() !== "epmd") Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
    }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#forceStop();
    await this.#exit.catch(() => {});
    await this.#pumps.catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Starts `erlmesh run ARGS -- COMMAND` in the pod with exactly `env` (plus PATH, Deno's cache and the
 * pod's downward-API variables), as a container runtime would: own hostname, default signal dispositions.
 */
function startRun(
  network: Cluster["network"],
  pod: { name: string; netns: string },
  dir: string,
  args: string[],
  command: string[],
  env: Record<string, string>,
): RunInPod {
  const cmd = network.command(pod.name, runArgv(args, command), pod.name);
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    clearEnv: true,
    env: {
      PATH,
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`,
      NO_COLOR: "1",
      LANG: "C.UTF-8",
      ERL_CRASH_DUMP: `${dir}/erl_crash.dump`,
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new RunInPod(pod.name, pod.netns, dir, child);
}

async function procStrings(pid: number, file: "cmdline" | "environ"): Promise<string[]> {
  return (await Deno.readTextFile(`/proc/${pid}/${file}`)).split("\0").filter((s) => s);
}

function describe(runs: Iterable<RunInPod>, mesh?: MeshJson): string {
  return `${JSON.stringify(mesh)}\n` + [...runs].map((r) => `--- ${r.label}\n${r.output()}`).join("\n");
}

/** One kind of release and how a pod starts it. */
interface ReleaseKind {
  name: string;
  /** The prefix of the release's own log lines. */
  app: "demo_app" | "demo_ex";
  build(): Promise<string>;
  command(root: string): string[];
  /** The pod's environment for the release (besides the downward API). */
  env(root: string, cluster: Cluster, pod: ClusterPod, dir: string): Promise<Record<string, string>>;
  /** The cookie file `erlmesh mesh` uses to look at the cluster. */
  cookie(root: string, cluster: Cluster): Promise<string>;
  /** The cookie source erlmesh run must log (`cookieSource` of its start line), when checked. */
  cookieSource?(root: string): string;
  /** Extra arguments of the observer's `erlmesh mesh` (how it reaches these nodes). */
  meshArgs?: string[];
}

const RELX: ReleaseKind = {
  name: "rebar3/relx",
  app: "demo_app",
  build: buildErlangRelease,
  command: (root) => [`${root}/bin/${ERLANG_RELEASE_NAME}`, "foreground"],
  async env(_root, cluster, pod, dir) {
    // The cookie only in $HOME/.erlang.cookie, which both OTP and erlmesh read; vm.args.src has no
    // -setcookie. The node name from NODE_NAME (vm.args.src) and ERLANG_NODENAME (erlmesh).
    await Deno.mkdir(`${dir}/home`, { recursive: true });
    await Deno.writeTextFile(`${dir}/home/.erlang.cookie`, cluster.cookie, { mode: 0o400 });
    return {
      HOME: `${dir}/home`,
      NODE_NAME: pod.nodeName,
      ERLANG_NODENAME: pod.nodeName,
      // relx writes the expanded vm.args here instead of into the (shared, read-only) release.
      RELX_OUT_FILE_PATH: dir,
    };
  },
  cookie: (_root, cluster) => cookieFile(cluster),
};

/** The relx release run without EPMD: its start script reads ERL_DIST_PORT, and so does erlmesh. */
const RELX_EPMDLESS: ReleaseKind = {
  ...RELX,
  name: "rebar3/relx without EPMD (ERL_DIST_PORT)",
  async env(root, cluster, pod, dir) {
    return { ...await RELX.env(root, cluster, pod, dir), ERL_DIST_PORT: String(EPMDLESS_PORT) };
  },
  meshArgs: ["--dist-port", "4370"],
};
const EPMDLESS_PORT = 4370;

function elixirKind(
  cookieSource: "RELEASE_COOKIE" | "releases/COOKIE" | "releases/COOKIE, another ~/.erlang.cookie",
): ReleaseKind {
  return {
    name: `mix (${cookieSource})`,
    app: "demo_ex",
    build: buildElixirRelease,
    command: (root) => [`${root}/bin/${ELIXIR_RELEASE_NAME}`, "start"],
    async env(_root, cluster, _pod, dir) {
      await Deno.mkdir(`${dir}/home`, { recursive: true });
      if (cookieSource.includes("~/.erlang.cookie")) {
        // A cookie the release never reads (its start script passes releases/COOKIE as --cookie).
        await Deno.writeTextFile(`${dir}/home/.erlang.cookie`, randomCookie(), { mode: 0o400 });
      }
      // RELEASE_DISTRIBUTION and RELEASE_NODE stay unset: erlmesh run fills them in.
      return {
        HOME: `${dir}/home`,
        RELEASE_TMP: `${dir}/tmp`,
        ...(cookieSource === "RELEASE_COOKIE" ? { RELEASE_COOKIE: cluster.cookie } : {}),
      };
    },
    cookie: async (root, cluster) =>
      cookieSource === "RELEASE_COOKIE"
        ? await cookieFile(cluster)
        : await ownerOnlyCopy(`${root}/releases/COOKIE`),
    cookieSource: (root) =>
      cookieSource === "RELEASE_COOKIE" ? "RELEASE_COOKIE" : `file ${root}/releases/COOKIE`,
  };
}

/**
 * A copy of `releases/COOKIE` (mode 0644 as mix writes it: the start script reads it, not the VM's auth)
 * that `erlmesh mesh --cookie-file` accepts: mode 0400, as OTP's rule for a cookie file wants.
 */
async function ownerOnlyCopy(path: string): Promise<string> {
  const copy = `${await Deno.makeTempDir({ prefix: tempPrefix("cookie") })}/cookie`;
  await Deno.writeFile(copy, await Deno.readFile(path), { mode: 0o400 });
  return copy;
}

/** Starts the release under `erlmesh run` in the pod. */
async function startRelease(
  kind: ReleaseKind,
  root: string,
  cluster: Cluster,
  pod: ClusterPod,
  extraEnv: Record<string, string> = {},
): Promise<RunInPod> {
  const dir = await Deno.makeTempDir({ prefix: tempPrefix(`rel-${pod.name}`) });
  try {
    const env = {
      POD_NAME: pod.name,
      POD_NAMESPACE: cluster.namespace,
      POD_IP: pod.ip,
      ...await kind.env(root, cluster, pod, dir),
      ...extraEnv,
    };
    const args = ["--service", cluster.service];
    if (cluster.kind === "deployment") args.push("--discovery", "a");
    return startRun(cluster.network, pod, dir, args, kind.command(root), env);
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** The release in every pod, meshed; signals and exit codes on the real VM. */
async function releaseScenario(
  t: Deno.TestContext,
  kind: ReleaseKind,
  options: { pods: number; workload: "statefulset" | "deployment"; lifecycle: boolean },
): Promise<void> {
  const t0 = performance.now();
  const root = await kind.build();
  console.log(`${kind.name} release ready in ${Math.round(performance.now() - t0)} ms: ${root}`);
  await using cluster = await createCluster({ pods: options.pods, kind: options.workload });
  const cookie = await kind.cookie(root, cluster);
  const runs = new Map<string, RunInPod>();
  try {
    for (const pod of cluster.pods) runs.set(pod.name, await startRelease(kind, root, cluster, pod));
    const nodes = cluster.pods.map((p) => p.nodeName).sort();

    await t.step(
      `${options.pods} pods, each 'erlmesh run -- ${kind.command("…").join(" ")}': full mesh`,
      async () => {
        const m = await waitFullMesh(cluster, cookie, nodes, 90000, kind.meshArgs);
        assert.ok(m?.fullMesh && m.nodes.length === nodes.length, describe(runs.values(), m));
        assert.deepEqual(m.nodes.map((n) => n.node), nodes);
      },
    );

    if (kind.meshArgs) {
      await t.step("no EPMD runs in any pod: the nodes and erlmesh went without it", async () => {
        for (const pod of cluster.pods) assert.equal(await epmdNames(4369, pod.netns), undefined, pod.name);
      });
    }

    if (kind.cookieSource) {
      await t.step(`erlmesh run logs the cookie source ${kind.cookieSource("…")}`, async () => {
        for (const r of runs.values()) {
          // Early lines wait in memory until the logger has loaded (after the first pass): wait for the line.
          await r.waitFor(/"event":"cookie"/, 10_000).catch(() => {});
          const start = r.output().split("\n").find((l) => l.includes('"event":"cookie"'));
          assert.ok(start, `${r.label}: no cookie line:\n${r.output()}`);
          assert.equal(JSON.parse(start).properties.cookieSource, kind.cookieSource!(root), start);
        }
      });
    }

    await t.step("the node has the pod's name; erlmesh adds no cookie to argv or environment", async () => {
      for (const pod of cluster.pods) {
        const r = runs.get(pod.name)!;
        const beam = await r.beamPid();
        const argv = await procStrings(beam, "cmdline");
        const environ = await procStrings(beam, "environ");
        const ours = await procStrings(r.pid, "cmdline");
        assert.ok(!ours.some((a) => a.includes(cluster.cookie)), `erlmesh's argv has the cookie: ${ours}`);
        if (kind.app === "demo_app") {
          // relx: -name comes from the vm.args it expanded from vm.args.src; no cookie on the VM's argv.
          const vmArgs = await Deno.readTextFile(`${r.dir}/vm.args`);
          assert.match(vmArgs, new RegExp(`^-name ${pod.nodeName.replaceAll(".", "\\.")}$`, "m"));
          assert.ok(!argv.some((a) => a.includes(cluster.cookie)), `the cookie is on the VM's argv: ${argv}`);
          assert.ok(!argv.includes("-setcookie"), `-setcookie is on the VM's argv: ${argv}`);
          assert.ok(
            !environ.some((e) => e.includes(cluster.cookie)),
            "the cookie is in the VM's environment",
          );
        } else {
          // Elixir: erlmesh filled in the long name from the pod's FQDN (StatefulSet) or IP (Deployment).
          assert.ok(environ.includes("RELEASE_DISTRIBUTION=name"), environ.join("\n"));
          assert.ok(environ.includes(`RELEASE_NODE=${pod.nodeName}`), environ.join("\n"));
          const i = argv.indexOf("-name");
          assert.equal(argv[i + 1], pod.nodeName, argv.join(" "));
          // Elixir 1.14's own bin/app start passes the cookie as `--cookie`, which becomes `-setcookie` on
          // the VM's argv (docs/releases.md); erlmesh adds nothing to that.
          const j = argv.indexOf("-setcookie");
          assert.ok(
            j >= 0,
            `Elixir's start script no longer puts -setcookie on argv: update docs/releases.md`,
          );
        }
      }
    });

    await t.step("SIGHUP and SIGUSR2 sent to erlmesh reach the VM, which keeps running", async () => {
      const r = runs.get(cluster.pods[0].name)!;
      await r.waitFor(new RegExp(`${kind.app}: started on`));
      for (const sig of ["SIGHUP", "SIGUSR2"] as const) {
        r.kill(sig);
        await r.waitFor(new RegExp(`${kind.app}: got signal ${sig.toLowerCase()}`), 10000);
      }
      // An observation window: the VM must still be running a moment after the signals.
      await sleep(300);
      assert.ok(!r.exited, r.output());
    });

    if (options.lifecycle) {
      const last = cluster.pods[cluster.pods.length - 1];

      await t.step("SIGKILL of the release's beam.smp: erlmesh run exits 137", async () => {
        const r = runs.get(last.name)!;
        Deno.kill(await r.beamPid(), "SIGKILL");
        assert.equal(await r.exitCode(), 137, r.output());
      });

      await t.step("a release that halts with code 3 by itself: erlmesh run exits 3", async () => {
        await runs.get(last.name)![Symbol.asyncDispose]();
        const r = await startRelease(kind, root, cluster, last, {
          DEMO_EXIT_AFTER_MS: "2000",
          DEMO_EXIT_CODE: "3",
        });
        runs.set(last.name, r);
        await r.waitFor(new RegExp(`${kind.app}: started on`));
        assert.equal(await r.exitCode(), 3, r.output());
        assert.match(r.output(), new RegExp(`${kind.app}: halting with exit code 3`));
      });
    }

    await t.step(
      "SIGTERM to erlmesh: the release stops cleanly (init:stop) and erlmesh exits 0",
      async () => {
        const live = [...runs.values()].filter((r) => !r.exited);
        assert.ok(live.length >= 1);
        for (const r of live) r.kill("SIGTERM");
        for (const r of live) {
          assert.equal(await r.exitCode(), 0, r.output());
          assert.match(r.output(), new RegExp(`${kind.app}: got signal sigterm`));
          assert.match(r.output(), new RegExp(`${kind.app}: stopping`));
        }
      },
    );
  } finally {
    for (const r of runs.values()) await r[Symbol.asyncDispose]();
    // The test's own cookie file sits in a temp folder of its own.
    await Deno.remove(cookie.slice(0, cookie.lastIndexOf("/")), { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "rebar3/relx release under erlmesh run, StatefulSet of 3: full mesh, signals, exit codes 0, 3, 137",
  ignore: erlangWhy !== undefined,
  fn: (t) => releaseScenario(t, RELX, { pods: 3, workload: "statefulset", lifecycle: true }),
});

Deno.test({
  name:
    "rebar3/relx release without EPMD (ERL_DIST_PORT) under erlmesh run, StatefulSet of 3: erlmesh reads " +
    "the port as the start script does, waits for the node on it and meshes it without EPMD",
  ignore: erlangWhy !== undefined,
  async fn(t) {
    await releaseScenario(t, RELX_EPMDLESS, { pods: 3, workload: "statefulset", lifecycle: false });
  },
});

Deno.test({
  name: "mix release under erlmesh run, StatefulSet of 3, RELEASE_COOKIE: node named from the pod FQDN, " +
    "full mesh, signals, exit codes 0, 3, 137",
  ignore: elixirWhy !== undefined,
  fn: (t) =>
    releaseScenario(t, elixirKind("RELEASE_COOKIE"), { pods: 3, workload: "statefulset", lifecycle: true }),
});

Deno.test({
  name:
    "mix release under erlmesh run, Deployment of 2, releases/COOKIE: node named from the pod IP, full mesh",
  ignore: elixirWhy !== undefined,
  fn: (t) =>
    releaseScenario(t, elixirKind("releases/COOKIE"), { pods: 2, workload: "deployment", lifecycle: false }),
});

Deno.test({
  name: "mix release under erlmesh run, Deployment of 2, releases/COOKIE and another ~/.erlang.cookie: " +
    "erlmesh takes releases/COOKIE, full mesh",
  ignore: elixirWhy !== undefined,
  fn: (t) =>
    releaseScenario(t, elixirKind("releases/COOKIE, another ~/.erlang.cookie"), {
      pods: 2,
      workload: "deployment",
      lifecycle: false,
    }),
});

Deno.test({
  name: "erlmesh run forwards SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2 and SIGTERM to a script release",
  ignore: scriptWhy !== undefined,
  async fn() {
    await using network = await createNetwork();
    const pod = await network.addPod("app-0");
    const dir = await Deno.makeTempDir({ prefix: tempPrefix("rel-script") });
    // Every signal but TERM is only reported; TERM ends the script with its own code, 42.
    const script = 'for s in HUP INT QUIT USR1 USR2; do trap "echo got-$s" "$s"; done; ' +
      "trap 'echo got-TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done";
    await using r = startRun(
      network,
      pod,
      dir,
      ["--node", `app@${pod.ip}`, "--discovery", "static", "--hosts", pod.ip, "--start-timeout", "1s"],
      ["sh", "-c", script],
      { HOME: dir, RELEASE_COOKIE: "releases-test-script-cookie" },
    );
    await r.waitFor(/^ready$/m);
    for (const sig of ["SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const) {
      r.kill(sig);
      await r.waitFor(new RegExp(`^got-${sig.slice(3)}$`, "m"), 10000);
      assert.ok(!r.exited, `erlmesh run exited after ${sig}:\n${r.output()}`);
    }
    r.kill("SIGTERM");
    assert.equal(await r.exitCode(), 42, r.output());
    assert.match(r.output(), /^got-TERM$/m);
    for (const sig of ["HUP", "INT", "QUIT", "USR1", "USR2", "TERM"]) {
      const n = r.output().split("\n").filter((l) => l === `got-${sig}`).length;
      assert.equal(n, 1, `SIG${sig} arrived ${n} times:\n${r.output()}`);
    }
  },
});
