/**
 * Short names (`-sname`): a node that runs with them cannot connect to a peer with a long name
 * (net_kernel logs `** System NOT running to use fully qualified hostnames **` and refuses). erlmesh
 * learns the local node's real name from the handshake, never asks it to connect a peer of the other
 * form, and says once what to fix.
 */
import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { childEnv, collectLines, DENO_FLAGS, entryArgs } from "./_erlmesh.ts";
import { freePort, otpAvailability, randomCookie, randomId, startNode } from "./_harness/mod.ts";
import { tempPrefix } from "./_harness/prefix.ts";

const avail = otpAvailability("25");
if (!avail.available) console.warn(`SKIP the short-name tests: ${avail.why}`);

const NOT_FQDN = /System NOT running to use fully qualified hostnames/g;

function shortHost(): string {
  return Deno.hostname().split(".")[0];
}

Deno.test({
  name: "an -sname node with long-name peers: NAME_FORM and one error naming the fix, never a connect_node",
  ignore: !avail.available,
  async fn(t) {
    const cookie = randomCookie();
    const epmdPort = freePort();
    const id = randomId(4);
    const dir = await Deno.makeTempDir({ prefix: tempPrefix("sname") });
    const cookieFile = `${dir}/cookie`;
    await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
    await using short = await startNode({ name: `sn${id}@${shortHost()}`, cookie, epmdPort });
    await using long = await startNode({ name: `sn${id}l@127.0.0.1`, cookie, epmdPort });
    const env = { ERL_EPMD_PORT: String(epmdPort) };
    const common = [
      "--basename",
      `sn${id}*`,
      "--hosts",
      "127.0.0.1",
      "--cookie-file",
      cookieFile,
      "--log-format",
      "json",
    ];
    try {
      await t.step("agent --once --node <short name>: exit 1, NAME_FORM, not REFUSED", async () => {
        const r = await erlmesh(["agent", "--once", "--node", short.name, ...common], env);
        const out = r.stdout + r.stderr;
        assert.equal(r.code, 1, out);
        const errors = out.split("\n").filter((l) => l.includes('"event":"name_form_mismatch"'));
        assert.equal(errors.length, 1, out);
        assert.ok(errors[0].includes(long.name), errors[0]);
        assert.match(errors[0], /RELEASE_DISTRIBUTION=name/);
        assert.match(errors[0], /-name/);
        assert.ok(!out.includes("REFUSED"), out);
        // Its own long alias (sn<id>@127.0.0.1, the same EPMD entry) is not a peer.
        assert.match(out, /Not meshed: 1 of 1 discovered peer not connected/);
      });

      await t.step("agent (the loop) for 3 s: one error, no connect_node to a long name", async () => {
        const lines: string[] = [];
        const child = new Deno.Command(Deno.execPath(), {
          args: [...DENO_FLAGS, ...entryArgs(), "agent", "--node", short.name, ...common],
          env: childEnv(env),
          clearEnv: true,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const pumps = Promise.all([collectLines(child.stdout, lines), collectLines(child.stderr, lines)]);
        try {
          const end = Date.now() + 30_000;
          while (!lines.some((l) => l.includes('"event":"name_form_mismatch"'))) {
            assert.ok(Date.now() < end, lines.join("\n"));
            await new Promise((r) => setTimeout(r, 50));
          }
          // Cycles run every 200 ms while a peer is missing: many pass. An observation window (time passing
          // is the point: the error must be said once, however many cycles run).
          await new Promise((r) => setTimeout(r, 3000));
        } finally {
          child.kill("SIGTERM");
          await child.status;
          await pumps;
        }
        const text = lines.join("\n");
        assert.equal(text.split('"event":"name_form_mismatch"').length - 1, 1, text);
        assert.ok(!text.includes('"event":"connect_failed"'), text);
      });

      await t.step(
        "agent --once learning the node from EPMD: its own long alias is no peer; one error still",
        async () => {
          const r = await erlmesh(["agent", "--once", "--basename", `sn${id}`, ...common.slice(2)], env);
          const out = r.stdout + r.stderr;
          // Its own alias is not a peer, and the long-name node of another basename is no match: not meshed.
          assert.equal(r.code, 1, out);
          assert.match(out, new RegExp(`Connected to the local node ${short.name}`));
          assert.match(
            out,
            new RegExp(
              `no node on the 1 discovered host matches basename 'sn${id}'; EPMD lists ${long.name} instead`,
            ),
          );
          // Still, nothing on 127.0.0.1 can ever be meshed with it: one error says so.
          const errors = out.split("\n").filter((l) => l.includes('"event":"name_form_mismatch"'));
          assert.equal(errors.length, 1, out);
          assert.match(errors[0], /with the nodes on 127\.0\.0\.1: it runs with short names/);
        },
      );

      await t.step(
        "the short node's log has no 'System NOT running to use fully qualified hostnames'",
        () => {
          assert.equal((short.output().match(NOT_FQDN) ?? []).length, 0, short.output());
          assert.equal(short.output().includes(cookie), false);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
