/** `erlmesh run` as a process, with shell-script children standing in for a release. */
import assert from "node:assert/strict";
import { hasProgram, isRoot } from "./_harness/_process.ts";
import { entryArgs } from "./_erlmesh.ts";

const ARGS = [
  "run",
  "--quiet",
  "--allow-all",
  ...entryArgs(),
  "run",
  "--node",
  "norelease@127.0.0.1",
  "--discovery",
  "static",
  "--hosts",
  "127.0.0.1",
  "--start-timeout",
  "200ms",
  "--log-format",
  "json",
  "--",
];
const ENV = { RELEASE_COOKIE: "run-test-cookie-value", NO_COLOR: "1" };

async function run(script: string, opts: { prefix?: string[]; timeoutMs?: number } = {}) {
  const cmd = [...(opts.prefix ?? []), Deno.execPath(), ...ARGS, "sh", "-c", script];
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env: ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30000),
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("run exits with the release's own exit code", async () => {
  for (const code of [0, 3, 42]) {
    const r = await run(`exit ${code}`);
    assert.equal(r.code, code, r.stderr);
  }
});

Deno.test("run exits with 128 + signal when the release is killed", async () => {
  assert.equal((await run("kill -9 $$")).code, 137);
  assert.equal((await run("kill -TERM $$")).code, 143);
});

Deno.test("run forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the release", async () => {
  for (const sig of ["TERM", "INT", "HUP", "QUIT", "USR1", "USR2"]) {
    // `env --default-signal` undoes an ignored SIGINT/SIGQUIT inherited from a background shell, which
    // sh could not trap otherwise.
    const child = new Deno.Command("env", {
      args: [
        "--default-signal",
        Deno.execPath(),
        ...ARGS,
        "sh",
        "-c",
        `trap 'echo got-${sig}; exit 7' ${sig}; echo ready; while :; do sleep 0.05; done`,
      ],
      env: ENV,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    let seen = "";
    const dec = new TextDecoder();
    while (!seen.includes("ready")) {
      const r = await reader.read();
      if (r.done) break;
      seen += dec.decode(r.value);
    }
    child.kill(`SIG${sig}` as Deno.Signal);
    const guard = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      reader.cancel().catch(() => {});
    }, 10000);
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      seen += dec.decode(r.value);
    }
    const status = await child.status;
    clearTimeout(guard);
    await child.stderr.cancel();
    assert.ok(seen.includes(`got-${sig}`), `SIG${sig} reached the release: ${seen}`);
    assert.equal(status.code, 7, `exit code of the release after SIG${sig}`);
  }
});

Deno.test("run says so when the node never registers, naming what it looked for, and keeps the release running", async () => {
  const r = await run("sleep 1; exit 0");
  assert.equal(r.code, 0);
  const events = r.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  const e = events.find((x) => x.properties?.event === "not_registered");
  assert.ok(e, r.stderr);
  assert.equal(e.properties.alive, "norelease");
  assert.match(e.message, /never registered with the local EPMD within .*200 ms.*: looked for 'norelease'/);
});

Deno.test("run never hands its cookie to the release", async () => {
  const r = await run("env; cat /proc/$$/cmdline");
  assert.equal(r.code, 0);
  // The variable the test itself set is the release's own (erlmesh adds nothing): check erlmesh added no other.
  const vars = r.stdout.split("\n").filter((l) => l.includes("run-test-cookie-value"));
  assert.deepEqual(vars, ["RELEASE_COOKIE=run-test-cookie-value"]);
  assert.ok(!r.stderr.includes("run-test-cookie-value"), "the cookie is not in erlmesh's logs");
});

Deno.test("run reaps orphaned processes (as a child subreaper)", async () => {
  // The release leaves an orphan that exits at once; erlmesh must wait for it.
  const script = `(sh -c 'sleep 0.1' &); sleep 1.5; ` +
    `z=0; for f in /proc/[0-9]*/stat; do set -- $(cat $f 2>/dev/null); [ "$3" = Z ] && [ "$4" = "$PPID" ] && z=$((z+1)); done; echo zombies=$z`;
  const r = await run(script);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /zombies=0/);
});

const pidns = isRoot() && hasProgram("unshare");
if (!pidns) console.warn("SKIP run as PID 1 in a PID namespace: needs root and unshare");

Deno.test({
  name: "run as PID 1 of a PID namespace reaps orphans and exits with the release's code",
  ignore: !pidns,
  async fn() {
    const script = `(sh -c 'sleep 0.1' &); sleep 1.5; ` +
      `z=0; for f in /proc/[0-9]*/stat; do set -- $(cat $f 2>/dev/null); [ "$3" = Z ] && z=$((z+1)); done; echo zombies=$z; echo parent=$PPID; exit 5`;
    const r = await run(script, { prefix: ["unshare", "--pid", "--fork", "--mount-proc"] });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /parent=1\b/);
    assert.match(r.stdout, /zombies=0/);
  },
});
