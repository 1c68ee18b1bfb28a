/**
 * A wrong cookie must not flood the node's log: erlmesh (agent and run) against a real OTP node that
 * refuses its cookie backs off (5 s, 10 s, 20 s, then every 30 s; `lib/cluster/local.ts`), says so once
 * as an error naming where the cookie came from (never the cookie), and meshes the node as soon as it is
 * restarted with erlmesh's cookie. Before the fix the node logged about 18 refused handshakes a second.
 */
import assert from "node:assert/strict";
import { childEnv, collectLines, DENO_FLAGS, entryArgs, runArgv } from "./_erlmesh.ts";
import { freePort, otpAvailability, randomCookie, randomId, startNode } from "./_harness/mod.ts";
import { tempPrefix } from "./_harness/prefix.ts";

const avail = otpAvailability("25");
if (!avail.available) console.warn(`SKIP the wrong-cookie backoff tests: ${avail.why}`);

/** How long erlmesh runs against the refusing node. */
const WINDOW_MS = 10_000;
/**
 * Refused handshakes allowed in the window: the schedule makes 2 (at 0 s and 5 s); one more for a
 * restart check that lands on the boundary. At most 4 in the first minute, 2 a minute after.
 */
const MAX_REFUSED_IN_WINDOW = 3;

const REJECTED = /\*\* Connection attempt from node '[^']*' rejected\. Invalid challenge reply\. \*\*/g;

/** An erlmesh process with its output collected line by line. */
class Erlmesh implements AsyncDisposable {
  readonly lines: string[] = [];
  #child: Deno.ChildProcess;
  #pumps: Promise<unknown>;
  constructor(argv: string[], env: Record<string, string>) {
    this.#child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      env: childEnv(env),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#pumps = Promise.all([
      collectLines(this.#child.stdout, this.lines),
      collectLines(this.#child.stderr, this.lines),
    ]);
  }
  get text(): string {
    return this.lines.join("\n");
  }
  /** erlmesh's own JSON log records. */
  records(): { level: string; message: string; properties?: Record<string, unknown> }[] {
    return this.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  }
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pattern.test(this.text)) {
      if (Date.now() > end) throw new Error(`No ${pattern} within ${timeoutMs} ms:\n${this.text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#pumps;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

function refusedRecords(e: Erlmesh) {
  return e.records().filter((r) => r.properties?.event === "local_refused");
}

function assertOneRefusalLine(e: Erlmesh, cookieFile: string, secrets: string[]): void {
  const refused = refusedRecords(e);
  assert.equal(refused.length, 1, e.text);
  assert.equal(refused[0].level, "ERROR");
  assert.match(refused[0].message, /refused erlmesh's cookie, which came from file /);
  assert.ok(refused[0].message.includes(cookieFile), refused[0].message);
  for (const s of secrets) assert.ok(!e.text.includes(s), "a cookie is in erlmesh's output");
}

// Only for the observation windows (WINDOW_MS): the refused handshakes are counted over a fixed time.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "agent with a wrong cookie: a few refused handshakes in the node's log, one error, " +
    "meshed at once when the node restarts with erlmesh's cookie",
  ignore: !avail.available,
  async fn() {
    const nodeCookie = randomCookie();
    const ourCookie = randomCookie();
    const epmdPort = freePort();
    const name = `flood${randomId(4)}@127.0.0.1`;
    const dir = await Deno.makeTempDir({ prefix: tempPrefix("flood") });
    const cookieFile = `${dir}/cookie`;
    await Deno.writeTextFile(cookieFile, ourCookie, { mode: 0o400 });
    let node = await startNode({ name, cookie: nodeCookie, epmdPort });
    try {
      await using agent = new Erlmesh(
        [
          Deno.execPath(),
          ...DENO_FLAGS,
          ...entryArgs(),
          "agent",
          "--log-format",
          "json",
          "--node",
          name,
          "--hosts",
          "127.0.0.1",
          "--cookie-file",
          cookieFile,
        ],
        { ERL_EPMD_PORT: String(epmdPort) },
      );
      await agent.waitFor(/"event":"local_refused"/, 30_000);
      await sleep(WINDOW_MS);
      const rejected = node.output().match(REJECTED) ?? [];
      assert.ok(rejected.length >= 1, `the node logged no refused handshake:\n${node.output()}`);
      assert.ok(
        rejected.length <= MAX_REFUSED_IN_WINDOW,
        `${rejected.length} refused handshakes in ${WINDOW_MS} ms:\n${node.output()}`,
      );
      assertOneRefusalLine(agent, cookieFile, [nodeCookie, ourCookie]);

      // The node restarts with erlmesh's cookie: it leaves EPMD, so the next attempt is at once,
      // not after the 30 s backoff.
      await node.stop();
      node = await startNode({ name, cookie: ourCookie, epmdPort });
      await agent.waitFor(/"event":"local_up"/, 5_000);
      assert.equal(refusedRecords(agent).length, 1, agent.text);
    } finally {
      await node.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "run with a wrong cookie: a few refused handshakes in the release's log and one error",
  ignore: !avail.available,
  async fn() {
    const nodeCookie = randomCookie();
    const ourCookie = randomCookie();
    const epmdPort = freePort();
    const alive = `floodrun${randomId(4)}`;
    const name = `${alive}@127.0.0.1`;
    const dir = await Deno.makeTempDir({ prefix: tempPrefix("flood-run") });
    // The "release": erl with its own cookie in its HOME, an EPMD of the test's own.
    await Deno.mkdir(`${dir}/home`);
    await Deno.writeTextFile(`${dir}/home/.erlang.cookie`, nodeCookie, { mode: 0o400 });
    const cookieFile = `${dir}/cookie`;
    await Deno.writeTextFile(cookieFile, ourCookie, { mode: 0o400 });
    const epmd = new Deno.Command("epmd", { args: ["-port", String(epmdPort)], stdin: "null" }).spawn();
    try {
      const script = `HOME='${dir}/home' exec erl -noshell -name ${name} -eval 'timer:sleep(infinity).'`;
      await using run = new Erlmesh(
        runArgv(["--node", name, "--hosts", "127.0.0.1", "--cookie-file", cookieFile], ["sh", "-c", script]),
        { ERL_EPMD_PORT: String(epmdPort), ERL_CRASH_DUMP: `${dir}/erl_crash.dump` },
      );
      await run.waitFor(/"event":"local_refused"/, 60_000);
      await sleep(WINDOW_MS);
      const rejected = run.text.match(REJECTED) ?? [];
      assert.ok(rejected.length >= 1, run.text);
      assert.ok(
        rejected.length <= MAX_REFUSED_IN_WINDOW,
        `${rejected.length} refused handshakes:\n${run.text}`,
      );
      assertOneRefusalLine(run, cookieFile, [nodeCookie, ourCookie]);
    } finally {
      try {
        epmd.kill("SIGKILL");
      } catch { /* gone */ }
      await epmd.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "agent with a peer that runs with another cookie: a few refused handshakes in the peer's log",
  ignore: !avail.available,
  async fn() {
    const cookie = randomCookie();
    const peerCookie = randomCookie();
    const epmdPort = freePort();
    const id = randomId(4);
    const dir = await Deno.makeTempDir({ prefix: tempPrefix("flood-peer") });
    const cookieFile = `${dir}/cookie`;
    await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
    await using a = await startNode({ name: `fp${id}a@127.0.0.1`, cookie, epmdPort });
    await using b = await startNode({ name: `fp${id}b@127.0.0.1`, cookie: peerCookie, epmdPort });
    try {
      await using agent = new Erlmesh(
        [
          Deno.execPath(),
          ...DENO_FLAGS,
          ...entryArgs(),
          "agent",
          "--log-format",
          "json",
          "--node",
          a.name,
          "--basename",
          `fp${id}*`,
          "--hosts",
          "127.0.0.1",
          "--cookie-file",
          cookieFile,
        ],
        { ERL_EPMD_PORT: String(epmdPort) },
      );
      await agent.waitFor(/"code":"COOKIE_REJECTED"/, 30_000);
      await sleep(WINDOW_MS);
      const rejected = b.output().match(REJECTED) ?? [];
      assert.ok(rejected.length >= 1, `the peer logged no refused handshake:\n${b.output()}`);
      // At 0 s the local node's connect_node and erlmesh's diagnosis, at 5 s connect_node only.
      assert.ok(
        rejected.length <= MAX_REFUSED_IN_WINDOW + 1,
        `${rejected.length} in the peer's log:\n${b.output()}`,
      );
      assert.equal(agent.text.split('"code":"COOKIE_REJECTED"').length - 1, 1, agent.text);
      for (const s of [cookie, peerCookie]) {
        assert.ok(!agent.text.includes(s), "a cookie in erlmesh's output");
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
