import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { freePort, otpAvailability, randomCookie, randomId, startNode } from "./_harness/mod.ts";

const avail = otpAvailability("25");
if (!avail.available) console.warn(`SKIP CLI tests against a real node: ${avail.why}`);

function assertNoCookie(secret: string, ...results: { stdout: string; stderr: string; argv: string[] }[]) {
  for (const r of results) {
    assert.ok(!r.stdout.includes(secret), `cookie leaked to stdout: ${r.stdout}`);
    assert.ok(!r.stderr.includes(secret), `cookie leaked to stderr: ${r.stderr}`);
    assert.ok(!r.argv.some((a) => a.includes(secret)), "cookie leaked to argv");
  }
}

Deno.test({
  name: "CLI: names, ping and nodes against a real node, as text and JSON",
  ignore: !avail.available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const secret = randomCookie();
    const epmdPort = freePort();
    const alive = `cli${randomId(4)}`;
    const name = `${alive}@127.0.0.1`;
    await using node = await startNode({ name, cookie: secret, epmdPort });
    const home = await Deno.makeTempDir({ prefix: "erlmesh-cli-home-" });
    await Deno.writeTextFile(`${home}/.erlang.cookie`, secret, { mode: 0o400 });
    const env = { HOME: home, ERL_EPMD_PORT: String(epmdPort) };
    const all: { stdout: string; stderr: string; argv: string[] }[] = [];
    const cli = async (args: string[], e: Record<string, string> = env) => {
      const r = await erlmesh(args, e);
      all.push(r);
      return r;
    };
    try {
      await t.step("names lists the node with its port (ERL_EPMD_PORT honoured)", async () => {
        const text = await cli(["names"]);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, new RegExp(`^${alive}\\s+\\d+$`, "m"));
        const json = JSON.parse((await cli(["names", "127.0.0.1", "--output", "json"])).stdout);
        assert.equal(json.epmdPort, epmdPort);
        assert.ok(json.nodes.some((n: { name: string; port: number }) => n.name === alive && n.port > 0));
      });

      await t.step("ping answers pong with times, exit 0", async () => {
        const r = await cli(["ping", name]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`pong\\s+${name.replace(/\./g, "\\.")}\\s+[\\d.]+ ms`));
        const j = JSON.parse((await cli(["ping", name, "-o", "json"])).stdout);
        assert.equal(j.results[0].result, "pong");
        assert.equal(typeof j.results[0].rttMs, "number");
      });

      await t.step("ping with one missing node answers pang for it and exits 1", async () => {
        const r = await cli(["ping", name, "ghost@127.0.0.1", "-o", "json"]);
        assert.equal(r.code, 1);
        const j = JSON.parse(r.stdout);
        assert.deepEqual(j.results.map((x: { result: string }) => x.result), ["pong", "pang"]);
        assert.equal(j.results[1].error.code, "NOT_REGISTERED");
      });

      await t.step("nodes shows visible and hidden connections, without erlmesh's own link", async () => {
        const j = JSON.parse((await cli(["nodes", name, "--output", "json"])).stdout);
        assert.deepEqual(j, { node: name, visible: [], hidden: [] });
        // A second, visible node joins: it shows up.
        const peer = `${alive}b@127.0.0.1`;
        await using other = await startNode({ name: peer, cookie: secret, epmdPort });
        assert.equal(await other.eval(`net_adm:ping('${name}').`), "pong");
        const r = await cli(["nodes", name]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`visible\\s+${peer.replace(/\./g, "\\.")}`));
        assert.equal(await node.eval("length(nodes())."), "1");
      });

      await t.step("a wrong cookie is named as the cause, never shown, exit 1", async () => {
        const wrong = `W${randomCookie()}`;
        for (
          const args of [["ping", name], ["nodes", name], ["nodes", name, "--verbose"], [
            "ping",
            name,
            "-o",
            "json",
          ]]
        ) {
          const r = await cli(args, { ...env, RELEASE_COOKIE: wrong });
          assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout} ${r.stderr}`);
          assert.match(r.stdout + r.stderr, /refused our cookie/);
          assert.match(r.stdout + r.stderr, /RELEASE_COOKIE/);
          assertNoCookie(wrong, r);
        }
      });

      await t.step("runtime failures exit 1 with the cause chain under --verbose", async () => {
        const r = await cli(["nodes", "ghost@127.0.0.1", "--verbose"]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /EPMD on 127.0.0.1 has no node named 'ghost'/);
        assert.match(r.stderr, /caused by EpmdError/);
        const down = await cli(["names", "127.0.0.1", "--epmd-port", String(freePort())]);
        assert.equal(down.code, 1);
        assert.match(down.stderr, /EPMD/);
      });
    } finally {
      assertNoCookie(secret, ...all);
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test("CLI: bad arguments name what was wrong and what was expected, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["ping"], /Missing NODE for 'erlmesh ping'/],
    [["ping", "a@b@c"], /more than one '@'/],
    [["nodes", "app@"], /host part after '@' is empty/],
    [["names", "--output", "xml"], /Invalid --output 'xml': expected 'text' or 'json'/],
    [["names", "--timeout", "soon"], /Invalid --timeout 'soon': expected a duration from 1ms to 1h/],
    [
      ["names", "--epmd-port", "70000"],
      /Invalid epmdPort '70000' from flag --epmd-port: expected a whole number/,
    ],
    [["frobnicate"], /Unknown command 'frobnicate': expected one of run, agent/],
    [["staus"], /Unknown command 'staus': did you mean 'status'\?/],
    [["help", "nosuch"], /Unknown command 'nosuch'/],
    [
      ["ping", "x@127.0.0.1", "--cookie", "abc"],
      /Unknown option '--cookie' for 'erlmesh ping': did you mean '--cookie-file'\?/,
    ],
    [["ping", "x@127.0.0.1", "--interval", "1s"], /Unknown option '--interval' for 'erlmesh ping'/],
    [
      ["probe", "readiness", "--probe-timeout", "2m"],
      /Invalid --probe-timeout '2m': expected a duration from 1ms to 1m/,
    ],
    [["discover", "--service", "app", "--hosts", "h"], /Conflicting --service and --hosts/],
    [
      ["discover", "--discovery", "static", "--hosts", "h", "--service", "app"],
      /Conflicting --service and discovery 'static'/,
    ],
    [["mesh", "--dot", "-o", "json"], /Conflicting options --dot and --output json/],
    [["mesh", "--nodes", "a@h", "--hosts", "h"], /Conflicting options --nodes and --hosts/],
    [["agent", "--once", "--http", ":9090"], /Conflicting options --once and --http/],
    [["run"], /Missing CMD for 'erlmesh run'/],
    [
      ["wait", "--epmd", "--hosts", "h", "--discovery", "static", "--dist-port", "4370"],
      /Cannot wait for --epmd with distPort 4370 \(from flag --dist-port\): the nodes run without EPMD/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await erlmesh(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    // With --output json the error is the JSON on stdout.
    assert.match(args.includes("json") ? JSON.parse(r.stdout).error.message : r.stderr, re, args.join(" "));
  }
});

Deno.test("CLI: no cookie anywhere lists where it looked, exit 2", async () => {
  const home = await Deno.makeTempDir({ prefix: "erlmesh-cli-nocookie-" });
  try {
    const r = await erlmesh(["ping", "app@127.0.0.1"], { HOME: home });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /Cannot find the Erlang cookie: looked at --cookie-file, RELEASE_COOKIE, ERLANG_COOKIE, CLUSTER_ERLANG_COOKIE/,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("CLI: a bad ERL_EPMD_PORT is a usage error", async () => {
  const r = await erlmesh(["names"], { ERL_EPMD_PORT: "nope" });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /ERL_EPMD_PORT/);
});
