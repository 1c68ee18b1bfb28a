/**
 * The CLI as a process: help, JSON output of errors, the one duration syntax, cause chains and a closed
 * stdout. No node is needed: EPMD is asked on a loopback port where nothing listens.
 */
import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { childEnv, DENO_FLAGS, entryArgs } from "./_erlmesh.ts";

/** A loopback port nobody listens on (bound, then released). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("CLI: --help lists every command with its arguments; a command's help shows only its options", async () => {
  const top = await erlmesh(["--help"]);
  assert.equal(top.code, 0);
  for (
    const usage of [
      "erlmesh ping [options] NODE...",
      "erlmesh run [options] -- CMD ARGS...",
      "erlmesh names [options] [HOST]",
    ]
  ) {
    assert.ok(top.stdout.includes(usage), `${usage} in:\n${top.stdout}`);
  }
  const ping = await erlmesh(["ping", "--help"]);
  assert.equal(ping.code, 0);
  assert.match(ping.stdout, /^Usage: erlmesh ping \[options\] NODE\.\.\./);
  assert.match(ping.stdout, /--cookie-file <path>/);
  assert.match(ping.stdout, /--timeout <duration>/);
  for (const foreign of ["--interval", "--service", "--http", "--readiness", "--log-level"]) {
    assert.ok(!ping.stdout.includes(foreign), `${foreign} is not an option of ping`);
  }
  // Its own options only: the timeout, the cookie, and how nodes are reached (EPMD or a fixed port, TLS).
  assert.match(ping.stdout, /--tls-cert-file <path>/);
  assert.ok(ping.stdout.split("\n").length < 45, `ping --help is short:\n${ping.stdout}`);
  const agent = await erlmesh(["help", "agent"]);
  assert.equal(agent.code, 0);
  assert.match(agent.stdout, /--interval <duration>/);
  assert.match(agent.stdout, /--once/);
});

Deno.test("CLI: --output json prints errors as JSON on stdout, for every command", async () => {
  const port = String(closedPort());
  const env = { ERL_EPMD_PORT: port, RELEASE_COOKIE: "cli-output-test-cookie" };
  for (
    const args of [["names"], ["nodes", "x@127.0.0.1"], [
      "status",
      "--node",
      "x@127.0.0.1",
      "--hosts",
      "127.0.0.1",
    ]]
  ) {
    const r = await erlmesh([...args, "-o", "json"], env);
    assert.equal(r.stderr, "", `${args[0]}: nothing on stderr`);
    const out = JSON.parse(r.stdout);
    assert.ok(r.code === 1, `${args[0]} exit ${r.code}: ${r.stdout}`);
    if (args[0] !== "status") {
      assert.equal(out.error.exitCode, 1);
      assert.match(out.error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    }
    assert.ok(!r.stdout.includes("cli-output-test-cookie"));
  }
  // A usage error too: exit 2, and the JSON says so.
  const bad = await erlmesh(["names", "-o", "json", "--bogus"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "");
  assert.equal(JSON.parse(bad.stdout).error.code, "USAGE");
  // ping keeps its per-node results.
  const ping = await erlmesh(["ping", "x@127.0.0.1", "-o", "json", "--timeout", "2s"], env);
  assert.equal(ping.code, 1);
  assert.equal(JSON.parse(ping.stdout).results[0].result, "pang");
});

Deno.test("CLI: every timeout takes the same duration syntax", async () => {
  const port = String(closedPort());
  for (
    const args of [["names", "--timeout", "5s"], ["ping", "x@127.0.0.1", "--timeout", "1500ms"], [
      "nodes",
      "x@127.0.0.1",
      "--timeout",
      "2000",
    ]]
  ) {
    const r = await erlmesh(args, { ERL_EPMD_PORT: port, RELEASE_COOKIE: "cli-output-test-cookie" });
    assert.equal(r.code, 1, `${args.join(" ")} is accepted and fails at run time: ${r.stderr}`);
  }
  const probe = await erlmesh(["probe", "liveness", "--probe-timeout", "1s", "--node", "x@127.0.0.1"], {
    ERL_EPMD_PORT: port,
    RELEASE_COOKIE: "cli-output-test-cookie",
  });
  assert.equal(probe.code, 1, probe.stderr);
  assert.match(probe.stdout, /^liveness: fail: /);
});

Deno.test("CLI: --verbose adds a cause chain only where there is one, and only then is it suggested", async () => {
  const port = String(closedPort());
  const plain = await erlmesh(["names"], { ERL_EPMD_PORT: port });
  assert.equal(plain.code, 1);
  const verbose = await erlmesh(["names", "--verbose"], { ERL_EPMD_PORT: port });
  const first = plain.stderr.split("\n")[0];
  assert.equal(verbose.stderr.split("\n")[0], first);
  if (/caused by/.test(verbose.stderr)) {
    assert.match(plain.stderr, /run with --verbose for the cause chain/);
    for (const line of verbose.stderr.split("\n").filter((l) => l.includes("caused by"))) {
      const said = line.replace(/^ +caused by \w+: /, "");
      assert.ok(!first.includes(said), `a cause repeats the message: ${line}`);
    }
  } else {
    assert.doesNotMatch(plain.stderr, /--verbose/);
  }
  // A usage error has no cause: no hint.
  const usage = await erlmesh(["names", "--timeout", "soon"]);
  assert.doesNotMatch(usage.stderr, /--verbose/);
  assert.equal(usage.stderr.trim().split("\n").length, 1);
});

Deno.test("CLI: a reader that closes stdout ends erlmesh quietly (exit 141, nothing on stderr)", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...DENO_FLAGS, ...entryArgs(), "--help"],
    env: childEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await child.stdout.cancel(); // the reader goes away before erlmesh writes
  const [status, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
  assert.equal(err, "");
  assert.equal(status.code, 141);
});

Deno.test("CLI: probe --http at an address where nothing listens says so, not 'fetch failed'", async () => {
  const port = closedPort();
  const r = await erlmesh(["probe", "readiness", "--http", `127.0.0.1:${port}`]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      `^readiness: fail: nothing listens on http://127\\.0\\.0\\.1:${port}: is 'erlmesh agent' or 'erlmesh run' running with --http`,
    ),
  );
});
