/**
 * The local node as erlmesh finds it: a glob basename (`--basename '*'`) with `POD_IP` set learns the
 * node from the local EPMD instead of deriving the invalid name `*@<POD_IP>`, and refuses to guess when
 * several nodes match; a successful `agent --once` ends quietly (its node-event watcher ends because
 * erlmesh closed the link, which is no failure).
 */
import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { type ClusterEvent, Reconciler } from "../lib/cluster/mod.ts";
import { connectNode, Cookie, HandshakeError, readCookieFile } from "../lib/dist/mod.ts";
import { NodeEnumerator, staticSource } from "../lib/discovery/mod.ts";
import { freePort, otpAvailability, randomCookie, randomId, startNode } from "./_harness/mod.ts";
import { tempPrefix } from "./_harness/prefix.ts";

const avail = otpAvailability("25");
if (!avail.available) console.warn(`SKIP the local node tests: ${avail.why}`);

Deno.test({
  name: "local node: --basename glob with POD_IP learns it from EPMD; several matches ask for --node; " +
    "agent --once does not warn about its own closed watcher",
  ignore: !avail.available,
  async fn(t) {
    const cookie = randomCookie();
    const epmdPort = freePort();
    const id = randomId(4);
    const dir = await Deno.makeTempDir({ prefix: tempPrefix("local-node") });
    const cookieFile = `${dir}/cookie`;
    await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
    const env = { ERL_EPMD_PORT: String(epmdPort), POD_IP: "127.0.0.1" };
    const common = ["--hosts", "127.0.0.1", "--cookie-file", cookieFile, "--log-format", "json"];
    try {
      await using a = await startNode({ name: `ln${id}a@127.0.0.1`, cookie, epmdPort });

      await t.step("--basename '*' and POD_IP, one node on the local EPMD: that node", async () => {
        const r = await erlmesh(["agent", "--once", "--basename", "*", ...common], env);
        const out = r.stdout + r.stderr;
        assert.notEqual(r.code, 2, out);
        assert.ok(!out.includes("Invalid node"), out);
        assert.match(out, new RegExp(`Connected to the local node ${a.name.replaceAll(".", "\\.")}`));
      });

      await using b = await startNode({ name: `ln${id}b@127.0.0.1`, cookie, epmdPort });

      await t.step(
        "--basename 'ln…*' matching two nodes: an error listing both, asking for --node",
        async () => {
          const r = await erlmesh(["agent", "--once", "--basename", `ln${id}*`, ...common], env);
          const out = r.stdout + r.stderr;
          assert.equal(r.code, 1, out);
          const errors = out.split("\n").filter((l) => l.includes('"event":"local_refused"'));
          assert.equal(errors.length, 1, out);
          assert.ok(errors[0].includes(`'ln${id}a'`) && errors[0].includes(`'ln${id}b'`), errors[0]);
          assert.match(errors[0], /--node/);
        },
      );

      await t.step("agent --once, meshed: exit 0, no warning about watching node events", async () => {
        // The first run connects a and b; the second finds them connected and ends at once, while its
        // watcher is still being started (the case that warned before).
        for (let i = 0; i < 2; i++) {
          const r = await erlmesh(
            ["agent", "--once", "--node", a.name, "--basename", `ln${id}*`, ...common],
            env,
          );
          const out = r.stdout + r.stderr;
          assert.equal(r.code, 0, out);
          assert.match(out, /Meshed: connected to the only discovered peer/);
          assert.ok(!out.includes("Cannot watch node events"), out);
          assert.ok(!out.includes('"level":"WARN"') && !out.includes('"level":"ERROR"'), out);
          assert.ok(!out.includes(cookie));
        }
        assert.ok((await b.eval("nodes().")).includes(a.name));
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "Reconciler.stop() right after a cycle: the watcher it was starting ends without watch_failed",
  ignore: !avail.available,
  async fn() {
    const cookie = randomCookie();
    const epmdPort = freePort();
    const dir = await Deno.makeTempDir({ prefix: tempPrefix("watch-stop") });
    try {
      await Deno.writeTextFile(`${dir}/cookie`, cookie, { mode: 0o400 });
      await using a = await startNode({ name: `ws${randomId(4)}@127.0.0.1`, cookie, epmdPort });
      const events: ClusterEvent[] = [];
      const r = new Reconciler({
        localNode: a.name,
        cookie: await readCookieFile(`${dir}/cookie`),
        source: staticSource(["127.0.0.1"]),
        enumerator: new NodeEnumerator({ basename: "nobody", useEpmd: true, epmdPort }),
        epmdPort,
        onEvent: (e) => events.push(e),
      });
      const conn = await r.link.get();
      const report = await r.runCycle(); // starts the watcher (three rpcs) beside the cycle
      assert.ok(report.ok, report.error);
      r.stop(); // as agent --once does: the link closes while the watcher is being started
      await conn.closed;
      await new Promise((resolve) => setTimeout(resolve, 0)); // let the watcher's rejection be handled
      assert.deepEqual(events.filter((e) => e.type === "watch_failed"), []);
      assert.ok(events.some((e) => e.type === "local_up"));
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "connectNode to a name EPMD does not know: says which nodes it knows, unless describeMissing is off " +
    "(the local link's polling of a booting node: one EPMD connection per attempt instead of two)",
  ignore: !otpAvailability("25").available,
  async fn() {
    const secret = randomCookie();
    const cookie = new Cookie(secret, "test");
    const alive = `dm${randomId(4)}`;
    await using node = await startNode({ name: `${alive}@127.0.0.1`, cookie: secret });
    const missing = `absent${randomId(4)}@127.0.0.1`;
    const attempt = async (describeMissing?: boolean) => {
      try {
        await connectNode(missing, { cookie, epmdPort: node.epmdPort, timeoutMs: 3000, describeMissing });
      } catch (err) {
        assert.ok(err instanceof HandshakeError && err.code === "NOT_REGISTERED", String(err));
        return err.message;
      }
      throw new Error("Expected NOT_REGISTERED");
    };
    assert.match(
      await attempt(),
      new RegExp(`has no node named 'absent\\w+' \\(it knows .*'${alive}'.*\\)$`),
    );
    assert.match(await attempt(false), /has no node named 'absent\w+'$/);
  },
});
