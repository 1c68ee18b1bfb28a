/**
 * `status`, `probe readiness`, `agent --once` and `mesh` as processes against real OTP nodes: a verdict
 * is never "meshed" when nothing was checked, and never claims what was not observed (issue 8 items
 * 5, 6 and 7). Three unconnected nodes a, b, c share one EPMD on loopback.
 */
import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { freePort, otpAvailability, randomCookie, randomId, startNode } from "./_harness/mod.ts";

const avail = otpAvailability("25");
if (!avail.available) console.warn(`SKIP CLI verdicts against real nodes: ${avail.why}`);

Deno.test({
  name: "CLI verdicts: nothing checked is never meshed, nothing observed is never claimed",
  ignore: !avail.available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const secret = randomCookie();
    const epmdPort = freePort();
    const id = randomId(4);
    const [a, b, c] = ["a", "b", "c"].map((n) => `${n}${id}@127.0.0.1`);
    await using _a = await startNode({ name: a, cookie: secret, epmdPort });
    await using _b = await startNode({ name: b, cookie: secret, epmdPort });
    await using _c = await startNode({ name: c, cookie: secret, epmdPort });
    const dir = await Deno.makeTempDir({ prefix: "erlmesh-verdicts-" });
    const cookieFile = `${dir}/cookie`;
    const wrongFile = `${dir}/wrong`;
    await Deno.writeTextFile(cookieFile, secret, { mode: 0o400 });
    await Deno.writeTextFile(wrongFile, `${secret}X`, { mode: 0o400 });
    const env = { ERL_EPMD_PORT: String(epmdPort) };
    const outputs: string[] = [];
    const cli = async (args: string[]) => {
      const r = await erlmesh(args, env);
      outputs.push(r.stdout, r.stderr);
      return r;
    };
    try {
      await t.step(
        "status with no peer matching the basename: not meshed, names what EPMD lists",
        async () => {
          const r = await cli(["status", "--node", a, "--hosts", "127.0.0.1", "--cookie-file", cookieFile]);
          assert.equal(r.code, 1, r.stdout);
          assert.doesNotMatch(r.stdout, /^Meshed/m);
          assert.match(r.stdout, /Not meshed: no node on the 1 discovered host matches basename 'a/);
          assert.ok(r.stdout.includes(b) && r.stdout.includes(c), r.stdout);
        },
      );

      await t.step("status when DNS does not answer: not meshed, exit 1", async () => {
        const r = await cli([
          "status",
          "--node",
          a,
          "--service",
          "app.default.svc.cluster.local",
          "--dns-server",
          `127.0.0.1:${freePort()}`, /* a free TCP port number: no UDP listener there either */
          "--dns-timeout",
          "300ms",
          "--cookie-file",
          cookieFile,
        ]);
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stdout, /Not meshed: discovery failed/);
      });

      await t.step(
        "status with unconnected peers: NOT_CONNECTED, no blame on a connect never made",
        async () => {
          const r = await cli([
            "status",
            "--node",
            a,
            "--hosts",
            "127.0.0.1",
            "--basename",
            "*",
            "--cookie-file",
            cookieFile,
            "-o",
            "json",
          ]);
          assert.equal(r.code, 1, r.stdout);
          const s = JSON.parse(r.stdout);
          assert.equal(s.verdict.code, "MISSING_PEERS");
          assert.deepEqual(s.peers.map((p: { code: string }) => p.code), ["NOT_CONNECTED", "NOT_CONNECTED"]);
          assert.doesNotMatch(r.stdout, /connect_node failed/);
        },
      );

      await t.step("probe readiness meshed fails on those cases; liveness passes", async () => {
        for (const extra of [["--hosts", "127.0.0.1"], ["--hosts", "127.0.0.1", "--basename", "*"]]) {
          const r = await cli([
            "probe",
            "readiness",
            "--readiness",
            "meshed",
            "--node",
            a,
            ...extra,
            "--cookie-file",
            cookieFile,
          ]);
          assert.equal(r.code, 1, `${extra.join(" ")}: ${r.stdout}`);
          assert.match(r.stdout, /^readiness: fail: /);
        }
        const live = await cli(["probe", "liveness", "--node", a, "--cookie-file", cookieFile]);
        assert.equal(live.code, 0, live.stdout);
      });

      await t.step(
        "agent --once with no matching peer fails; then meshes all three and succeeds",
        async () => {
          const none = await cli([
            "agent",
            "--once",
            "--node",
            a,
            "--hosts",
            "127.0.0.1",
            "--cookie-file",
            cookieFile,
          ]);
          assert.equal(none.code, 1, none.stderr);
          assert.match(none.stderr, /no node on the 1 discovered host matches basename/);
          const all = await cli([
            "agent",
            "--once",
            "--node",
            a,
            "--hosts",
            "127.0.0.1",
            "--basename",
            "*",
            "--cookie-file",
            cookieFile,
          ]);
          assert.equal(all.code, 0, all.stderr);
          assert.doesNotMatch(all.stderr, /Cannot watch node events/);
          const st = await cli([
            "status",
            "--node",
            a,
            "--hosts",
            "127.0.0.1",
            "--basename",
            "*",
            "--cookie-file",
            cookieFile,
          ]);
          assert.equal(st.code, 0, st.stdout);
          assert.match(st.stdout, /^Meshed: connected to all 2 discovered peers/m);
        },
      );

      await t.step(
        "mesh with a wrong cookie: every pair unknown, no missing pair, no split, each reason once",
        async () => {
          const r = await cli(["mesh", "--nodes", `${a},${b}`, "--cookie-file", wrongFile]);
          assert.equal(r.code, 1, r.stdout);
          assert.doesNotMatch(r.stdout, /Missing pairs/);
          assert.doesNotMatch(r.stdout, /Split/);
          assert.match(r.stdout, /Unknown \(2 unreachable\)/);
          for (const n of [a, b]) {
            assert.equal(
              r.stdout.split(`Unreachable: ${n}:`).length - 1,
              1,
              `one reason for ${n}:\n${r.stdout}`,
            );
          }
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
      for (const o of outputs) assert.ok(!o.includes(secret), "the cookie never appears in output");
    }
  },
});
