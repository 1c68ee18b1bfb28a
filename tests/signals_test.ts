/**
 * No signal opens a port. Deno 2.9.2 and later start a V8 inspector on 127.0.0.1:9229 when a `deno run`
 * process gets SIGUSR1 (denoland/deno#35738, no opt-out), and 2.8.3 and later honour `--inspect` in
 * NODE_OPTIONS: either would give anyone on the host a debugger into a process that holds the cookie.
 * These tests run erlmesh as a process (`agent` against a real OTP node, and `run` with a shell-script
 * release that traps every signal and survives it), send every signal `run` forwards, and compare the
 * process's listening sockets (from `/proc/<pid>/fd` and `/proc/<pid>/net/*`) before and after each.
 */
import assert from "node:assert/strict";
import {
  freePort,
  otpAvailability,
  type OtpNode,
  randomCookie,
  randomId,
  startNode,
  tempPrefix,
} from "./_harness/mod.ts";
import { delay, readLines, tryKill } from "./_harness/_process.ts";
import { childEnv, erlmeshArgv, runArgv } from "./_erlmesh.ts";
import { FORWARDED_SIGNALS } from "../lib/runtime/signals.ts";

// ---------------------------------------------------------------------------------------------------
// The Deno version (a cheap guard; the tests below check the behaviour itself).

/** The first Deno release that opens an inspector on SIGUSR1 under `deno run`. */
const FIRST_WITH_SIGUSR1_INSPECTOR = [2, 9, 2];

function versionParts(v: string): number[] {
  return v.split(/[.+-]/).slice(0, 3).map(Number);
}

function before(v: string, limit: number[]): boolean {
  const p = versionParts(v);
  for (let i = 0; i < 3; i++) if (p[i] !== limit[i]) return p[i] < limit[i];
  return false;
}

const ROOT = new URL("../", import.meta.url);

/** The Deno version each place pins: `.ci/run`, the Dockerfile, the README's install line. */
async function pinnedVersions(): Promise<Record<string, string | undefined>> {
  const read = (p: string) => Deno.readTextFile(new URL(p, ROOT));
  return {
    ".ci/run": /^DENO_VERSION=(\S+)$/m.exec(await read(".ci/run"))?.[1],
    "Dockerfile": /denoland\/deno:\S*?-(\d+\.\d+\.\d+)/.exec(await read("Dockerfile"))?.[1],
    "README.md": /npm install -g deno@(\d+\.\d+\.\d+)/.exec(await read("README.md"))?.[1],
  };
}

Deno.test("Deno is pinned below 2.9.2 (SIGUSR1 opens an inspector from 2.9.2 on) and the tests run on the pinned one", async () => {
  const pins = await pinnedVersions();
  for (const [where, v] of Object.entries(pins)) {
    assert.ok(v, `Cannot find the Deno version pinned in ${where}`);
    assert.ok(
      before(v, FIRST_WITH_SIGUSR1_INSPECTOR),
      `${where} pins Deno ${v}: Deno 2.9.2 and later open a V8 inspector on 127.0.0.1:9229 on SIGUSR1 ` +
        "(denoland/deno#35738); keep 2.9.1 until tests/signals_test.ts passes on the new version",
    );
  }
  assert.equal(
    new Set(Object.values(pins)).size,
    1,
    `Every place pins the same Deno: ${JSON.stringify(pins)}`,
  );
  assert.equal(
    Deno.version.deno,
    pins[".ci/run"],
    `These tests run on Deno ${Deno.version.deno}, but the project pins ${pins[".ci/run"]}`,
  );
});

// ---------------------------------------------------------------------------------------------------
// Listening sockets of a process.

const TABLES = ["tcp", "tcp6", "udp", "udp6"] as const;

/** `0100007F:2405` → `127.0.0.1:9221`; IPv6 addresses are four 32-bit words in host byte order. */
function procAddress(hex: string): string {
  const [ip, port] = hex.split(":");
  const bytes: number[] = [];
  for (let w = 0; w < ip.length; w += 8) {
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(ip.slice(w + b, w + b + 2), 16));
  }
  const host = bytes.length === 4
    ? bytes.join(".")
    : `[${
      Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16)).join(":")
    }]`;
  return `${host}:${parseInt(port, 16)}`;
}

/**
 * The sockets `pid` listens on, e.g. `tcp 127.0.0.1:9229`: its socket inodes (`/proc/PID/fd`) found in
 * its network namespace's tables as TCP in LISTEN or UDP bound and not connected.
 */
async function listeningSockets(pid: number): Promise<string[]> {
  const inodes = new Set<string>();
  for await (const e of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(await Deno.readLink(`/proc/${pid}/fd/${e.name}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const out: string[] = [];
  for (const table of TABLES) {
    const text = await Deno.readTextFile(`/proc/${pid}/net/${table}`);
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9])) continue;
      const listening = table.startsWith("tcp") ? f[3] === "0A" : /^0+:0000$/.test(f[2]);
      if (listening) out.push(`${table} ${procAddress(f[1])}`);
    }
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------------
// An erlmesh process with its output.

/** A spawned erlmesh process; its stdout and stderr lines, and waits for a line. */
class Proc implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  /** The signals sent so far. */
  readonly sent: Deno.Signal[] = [];
  #waiters = new Set<() => void>();
  #readers;
  constructor(argv: string[], env: Record<string, string>, clearEnv = true) {
    this.child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      env,
      clearEnv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const onLine = (l: string) => {
      this.lines.push(l);
      for (const w of this.#waiters) w();
    };
    this.#readers = [readLines(this.child.stdout, onLine), readLines(this.child.stderr, onLine)];
  }

  get pid(): number {
    return this.child.pid;
  }

  /** The JSON log events so far, with their properties at the top level. */
  events(): Record<string, unknown>[] {
    return this.lines.flatMap((l) => {
      try {
        const r = JSON.parse(l);
        return [{ ...r, ...(r.properties ?? {}) }];
      } catch {
        return [];
      }
    });
  }

  /** Resolves once `test` holds for the lines seen (checked on every new line); rejects after 20 s. */
  until(what: string, test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      const check = () => {
        if (test()) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`Cannot see ${what} within 20 s; output:\n${this.lines.join("\n")}`));
      }, 20_000);
      this.#waiters.add(check);
      this.child.status.then(() => {
        if (this.#waiters.has(check)) {
          done();
          reject(new Error(`Cannot see ${what}: erlmesh exited; output:\n${this.lines.join("\n")}`));
        }
      });
    });
  }

  /** Resolves once a log event matches `props`. */
  event(props: Record<string, unknown>, what = JSON.stringify(props)): Promise<void> {
    return this.until(
      what,
      () => this.events().some((e) => Object.entries(props).every(([k, v]) => e[k] === v)),
    );
  }

  /** Lines that tell of a debugger, for failure messages. */
  debuggerLines(): string {
    return this.lines.filter((l) => /debugger|inspect/i.test(l)).join("\n") ||
      "(no line mentions a debugger)";
  }

  async [Symbol.asyncDispose](): Promise<void> {
    tryKill(this.child, "SIGKILL");
    await this.child.status;
    // cancel, not wait: a release that outlived erlmesh may still hold the pipes.
    await Promise.all(this.#readers.map((r) => r.cancel()));
  }
}

/**
 * Deno arms its own SIGUSR1 handling some 500 ms after the process starts; a signal earlier than that
 * tests nothing. There is no event to await for it, so this waits out the grace period after `ready`
 * (which itself comes after Deno started the worker).
 */
const DENO_SIGNAL_GRACE_MS = 700;

/**
 * Sends `sig`, awaits `ack` (the process saw it), and asserts that the listening sockets are still
 * `expected`. A runtime may open its listener a moment after the process saw the signal, so a failure
 * names every signal sent so far (`p.sent`).
 */
async function sendAndCheck(
  p: Proc,
  sig: Deno.Signal,
  ack: () => Promise<void>,
  expected: string[],
): Promise<void> {
  p.child.kill(sig);
  p.sent.push(sig);
  await ack();
  assert.deepEqual(
    await listeningSockets(p.pid),
    expected,
    `erlmesh (pid ${p.pid}, Deno ${Deno.version.deno}) listens on other sockets after ${
      p.sent.join(", ")
    }; ` +
      `lines that mention a debugger:\n${p.debuggerLines()}`,
  );
}

/** A real OTP 25 node on 127.0.0.1 with its own EPMD port and cookie. */
async function testNode(): Promise<{ node: OtpNode; cookie: string; epmdPort: number }> {
  const cookie = randomCookie();
  const epmdPort = freePort();
  const node = await startNode({ name: `sig${randomId(4)}@127.0.0.1`, cookie, epmdPort });
  return { node, cookie, epmdPort };
}

function agentArgs(node: OtpNode, epmdPort: number, extra: string[] = []): string[] {
  return [
    "agent",
    "--node",
    node.name,
    "--discovery",
    "static",
    "--hosts",
    "127.0.0.1",
    "--epmd-port",
    String(epmdPort),
    "--log-format",
    "json",
    ...extra,
  ];
}

/** The signals `run` forwards that do not stop the agent, then the ones that do. */
const NOT_STOPPING = FORWARDED_SIGNALS.filter((s) => s !== "SIGTERM" && s !== "SIGINT");

const erl = otpAvailability("25");
if (!erl.available) console.warn(`SKIPPED signal tests: ${erl.why}`);
const procTables = (() => {
  try {
    Deno.statSync("/proc/self/net/tcp");
    return true;
  } catch {
    return false;
  }
})();
if (!procTables) console.warn("SKIPPED signal tests: no /proc/self/net/tcp (not Linux)");

// ---------------------------------------------------------------------------------------------------

Deno.test({
  name:
    "erlmesh agent listens on nothing, before and after SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2; SIGTERM stops it with its counters",
  ignore: !erl.available || !procTables,
  async fn() {
    const { node, cookie, epmdPort } = await testNode();
    await using _node = node;
    await using agent = new Proc(
      erlmeshArgv(agentArgs(node, epmdPort)),
      childEnv({ RELEASE_COOKIE: cookie }),
    );
    await agent.event({ event: "local_up", node: node.name }, "the agent connected to its node");
    await delay(DENO_SIGNAL_GRACE_MS);
    const expected: string[] = [];
    assert.deepEqual(
      await listeningSockets(agent.pid),
      expected,
      "erlmesh agent without --http listens on nothing",
    );
    for (const sig of NOT_STOPPING) {
      await sendAndCheck(agent, sig, () => agent.event({ event: "signal_ignored", signal: sig }), expected);
    }
    assert.ok(!agent.events().some((e) => e.event === "stopped"), "the agent kept running");
    agent.child.kill("SIGTERM");
    const status = await agent.child.status;
    assert.equal(status.code, 0, agent.lines.join("\n"));
    const stopped = agent.events().find((e) => e.event === "stopped");
    const counters = stopped?.counters as Record<string, number> | undefined;
    assert.ok(
      counters && counters.cycles > 0 && counters.rpcs > 0,
      `The stopped line carries the counters: ${JSON.stringify(stopped)}`,
    );
  },
});

Deno.test({
  name:
    "erlmesh agent --http listens on that address only, before and after SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2; SIGINT stops it",
  ignore: !erl.available || !procTables,
  async fn() {
    const { node, cookie, epmdPort } = await testNode();
    await using _node = node;
    const port = freePort();
    await using agent = new Proc(
      erlmeshArgv(agentArgs(node, epmdPort, ["--http", `127.0.0.1:${port}`])),
      childEnv({ RELEASE_COOKIE: cookie }),
    );
    await agent.event({ event: "local_up", node: node.name }, "the agent connected to its node");
    await delay(DENO_SIGNAL_GRACE_MS);
    const expected = [`tcp 127.0.0.1:${port}`];
    assert.deepEqual(
      await listeningSockets(agent.pid),
      expected,
      "erlmesh agent --http listens on its address only",
    );
    for (const sig of NOT_STOPPING) {
      await sendAndCheck(agent, sig, () => agent.event({ event: "signal_ignored", signal: sig }), expected);
    }
    // One more round trip through the process before the last look: the counters are on /metrics.
    const metrics =
      await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) }))
        .text();
    assert.match(metrics, /^erlmesh_cycles_total [1-9]/m);
    assert.deepEqual(
      await listeningSockets(agent.pid),
      expected,
      `Debugger lines:\n${agent.debuggerLines()}`,
    );
    agent.child.kill("SIGINT");
    assert.equal((await agent.child.status).code, 0, agent.lines.join("\n"));
  },
});

Deno.test({
  name:
    "erlmesh run --http passes SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGINT and SIGTERM to the release and listens on its address only",
  ignore: !erl.available || !procTables,
  async fn() {
    // The node stands in for the release's own node; the release is a script that traps every signal
    // and ends when the stop file appears (or erlmesh is gone).
    const { node, cookie, epmdPort } = await testNode();
    await using _node = node;
    const dir = await Deno.makeTempDir({ prefix: tempPrefix("signals") });
    try {
      const stopFile = `${dir}/stop`;
      const script = FORWARDED_SIGNALS.map((s) => `trap 'echo got-${s}' ${s.slice(3)}; `).join("") +
        'echo ready; while [ ! -e "$1" ] && kill -0 "$PPID" 2>/dev/null; do sleep 0.05; done; echo bye';
      const port = freePort();
      await using run = new Proc(
        runArgv([
          "--node",
          node.name,
          "--discovery",
          "static",
          "--hosts",
          "127.0.0.1",
          "--epmd-port",
          String(epmdPort),
          "--http",
          `127.0.0.1:${port}`,
        ], ["sh", "-c", script, "release", stopFile]),
        childEnv({ RELEASE_COOKIE: cookie }),
      );
      await run.until("the release's 'ready'", () => run.lines.includes("ready"));
      await run.event({ event: "local_up", node: node.name }, "erlmesh run connected to the node");
      await delay(DENO_SIGNAL_GRACE_MS);
      const expected = [`tcp 127.0.0.1:${port}`];
      assert.deepEqual(
        await listeningSockets(run.pid),
        expected,
        "erlmesh run --http listens on its address only",
      );
      for (const sig of [...NOT_STOPPING, "SIGINT", "SIGTERM"] as const) {
        await sendAndCheck(
          run,
          sig,
          () => run.until(`the release's got-${sig}`, () => run.lines.includes(`got-${sig}`)),
          expected,
        );
      }
      await fetch(`http://127.0.0.1:${port}/livez`, { signal: AbortSignal.timeout(5000) }).then((r) =>
        r.body?.cancel()
      );
      assert.deepEqual(await listeningSockets(run.pid), expected, `Debugger lines:\n${run.debuggerLines()}`);
      await Deno.writeTextFile(stopFile, "");
      assert.equal((await run.child.status).code, 0, run.lines.join("\n"));
      assert.ok(run.lines.includes("bye"), run.lines.join("\n"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "erlmeshArgv keeps NODE_OPTIONS=--inspect-brk of the spawner's environment away from erlmesh",
  async fn() {
    // With --inspect-brk honoured, Deno would listen and wait for a debugger before running erlmesh
    // (`--quiet` hides its "Debugger listening" line): `names` would never report the closed EPMD port
    // and the deadline would kill it.
    const argv = erlmeshArgv(["names", "--epmd-port", String(freePort())]);
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      // No clearEnv: the spawner's own environment is passed on, with NODE_OPTIONS in it.
      env: { ...childEnv(), NODE_OPTIONS: `--inspect-brk=127.0.0.1:${freePort()}` },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, `erlmesh names ran to its end (signal ${out.signal}): ${stderr}`);
    assert.match(
      stderr,
      /Cannot list nodes on 127\.0\.0\.1:\d+/,
      "erlmesh names reported the closed EPMD port",
    );
  },
});
