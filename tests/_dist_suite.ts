/**
 * The wire core checked against one real OTP release: EPMD, handshake, rpc, ping, ticks, errors.
 * Each `dist_otpNN_test.ts` file runs it for one release, so releases run side by side.
 */
import assert from "node:assert/strict";
import { connectNode, Cookie, HandshakeError, RpcError } from "../lib/dist/mod.ts";
import { names, portPlease } from "../lib/epmd/mod.ts";
import { atom, ErlFloat, ErlMap, isAtom, Pid, tuple } from "../lib/etf/term.ts";
import { formatTerm } from "../lib/etf/format.ts";
import { type NodeChange, watchNodes } from "../lib/cluster/mod.ts";
import {
  freePort,
  otpAvailability,
  type OtpVersion,
  randomCookie,
  randomId,
  startNode,
} from "./_harness/mod.ts";

export function defineDistSuite(version: OtpVersion): void {
  const avail = otpAvailability(version);
  if (!avail.available) console.warn(`SKIP dist tests for OTP ${version}: ${avail.why}`);

  Deno.test({
    name: `OTP ${version}: EPMD, handshake, rpc and ping against a real node`,
    ignore: !avail.available,
    async fn(t) {
      const secret = randomCookie();
      const epmdPort = freePort();
      const name = `d${version}${randomId(4)}@127.0.0.1`;
      await using node = await startNode({
        version,
        name,
        cookie: secret,
        epmdPort,
        args: ["-kernel", "net_ticktime", "4"],
      });
      const cookie = new Cookie(secret, "test");
      const opts = { cookie, epmdPort, timeoutMs: 5000 };

      await t.step("EPMD NAMES and PORT_PLEASE2 agree", async () => {
        const list = await names("127.0.0.1", { port: epmdPort });
        const entry = list.nodes.find((n) => n.name === name.split("@")[0]);
        assert.ok(entry, `EPMD lists ${name}`);
        const info = await portPlease("127.0.0.1", name.split("@")[0], { port: epmdPort });
        assert.equal(info.port, entry.port);
        assert.equal(info.highestVersion, 6);
      });

      const conn = await connectNode(name, opts);
      try {
        await t.step("rpc erlang:node() and system_info(otp_release)", async () => {
          const self = await conn.rpc("erlang", "node", []);
          assert.ok(isAtom(self, name));
          const rel = await conn.rpc("erlang", "system_info", [atom("otp_release")]);
          assert.equal(formatTerm(rel), JSON.stringify(version));
        });

        await t.step("the node lists erlmesh as hidden, never in nodes()", async () => {
          assert.ok(conn.hidden);
          const hidden = await node.eval("nodes(hidden).");
          const visible = await node.eval("nodes().");
          assert.ok(hidden.includes(conn.localName), `nodes(hidden) = ${hidden}`);
          assert.ok(!visible.includes(conn.localName), `nodes() = ${visible}`);
          assert.equal(visible, "[]");
        });

        await t.step("ping through net_kernel", async () => {
          assert.equal(await conn.ping(), true);
        });

        await t.step("rpc carries terms both ways", async () => {
          const args = [[
            1,
            2.5,
            new ErlFloat(1),
            atom("a"),
            "str",
            new Uint8Array([1, 2]),
            tuple(1, -70000, 2n ** 70n),
          ]];
          const back = await conn.rpc("lists", "reverse", args);
          assert.ok(Array.isArray(back));
          assert.equal(formatTerm(back), '[{1,-70000,1180591620717411303424},<<1,2>>,"str",a,1.0,2.5,1]');
          const m = await conn.rpc("maps", "from_list", [[tuple(atom("k"), 1)]]);
          assert.ok(m instanceof ErlMap);
          const pid = await conn.rpc("erlang", "whereis", [atom("rex")]);
          assert.ok(pid instanceof Pid && pid.node.name === name);
        });

        await t.step("a large reply (over 64 KiB) arrives whole", async () => {
          const big = await conn.rpc("lists", "seq", [1, 100000]);
          assert.ok(Array.isArray(big) && big.length === 100000 && big[99999] === 100000);
        });

        await t.step("badrpc, throw and undef come back as the node sent them", async () => {
          await assert.rejects(conn.rpc("no_such_module", "f", []), (e: unknown) => {
            assert.ok(e instanceof RpcError && e.code === "BADRPC", String(e));
            assert.match(e.message, /undef/);
            return true;
          });
          const thrown = await conn.rpc("erlang", "throw", [atom("ball")]);
          assert.ok(isAtom(thrown, "ball"));
        });

        await t.step("an rpc past its deadline fails with TIMEOUT and the link stays usable", async () => {
          await assert.rejects(
            conn.rpc("timer", "sleep", [3000], { timeoutMs: 200 }),
            (e: unknown) => e instanceof RpcError && e.code === "TIMEOUT",
          );
          assert.ok(isAtom(await conn.rpc("erlang", "node", []), name));
        });

        await t.step("the link survives idle periods longer than net_ticktime", async () => {
          // net_ticktime 4: the node drops a silent peer after about 4-5 s. Time must pass here (the
          // point is an idle link), so this is a sleep, not a wait.
          await new Promise((r) => setTimeout(r, 6500));
          assert.ok(conn.open, "link still open");
          assert.ok(isAtom(await conn.rpc("erlang", "node", []), name));
        });
      } finally {
        conn.close();
      }

      await t.step("a wrong cookie is reported as refused, without the cookie", async () => {
        const wrong = new Cookie(`wrong${randomCookie()}`, "file /tmp/wrong-cookie");
        await assert.rejects(connectNode(name, { ...opts, cookie: wrong }), (e: unknown) => {
          assert.ok(e instanceof HandshakeError && e.code === "COOKIE_REJECTED", String(e));
          assert.match(e.message, /refused our cookie.*\/tmp\/wrong-cookie/);
          assert.ok(!wrong.occursIn(e.message) && !cookie.occursIn(e.message));
          return true;
        });
      });

      await t.step("a name the node does not have is reported as a mismatch", async () => {
        const other = `${name.split("@")[0]}@localhost.localdomain`;
        await assert.rejects(
          connectNode(other, {
            ...opts,
            connect: (_h, port, signal) =>
              Deno.connect({ hostname: "127.0.0.1", port, signal } as Deno.ConnectOptions).then((c) =>
                transportOf(c)
              ),
          }),
          (e: unknown) =>
            e instanceof HandshakeError && e.code === "NAME_MISMATCH" && e.message.includes(`is '${name}'`),
        );
      });

      await t.step("an unknown node name is reported with the names EPMD knows", async () => {
        await assert.rejects(connectNode("nosuch@127.0.0.1", opts), (e: unknown) => {
          assert.ok(e instanceof HandshakeError && e.code === "NOT_REGISTERED", String(e));
          assert.ok(e.message.includes(`'${name.split("@")[0]}'`), e.message);
          return true;
        });
      });

      await t.step("closing our side removes us from the node's nodes(hidden)", async () => {
        const c2 = await connectNode(name, opts);
        c2.close();
        let hidden = "";
        for (let i = 0; i < 50; i++) {
          hidden = await node.eval("nodes(hidden).");
          if (!hidden.includes(c2.localName)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(!hidden.includes(c2.localName), hidden);
      });

      await t.step("the node-event watcher reports a peer and exits with erlmesh's link", async () => {
        const c3 = await connectNode(name, opts);
        const changes: NodeChange[] = [];
        const watcher = await watchNodes(c3, (c) => changes.push(c));
        assert.ok(watcher instanceof Pid);
        const alive = () =>
          node.eval(`is_process_alive(list_to_pid("<0.${watcher.id}.${watcher.serial}>")).`);
        assert.equal(await alive(), "true");
        const peer = `${name.split("@")[0]}w@127.0.0.1`;
        await using other = await startNode({ version, name: peer, cookie: secret, epmdPort });
        assert.equal(await other.eval(`net_adm:ping('${name}').`), "pong");
        for (let i = 0; i < 50 && !changes.some((c) => c.type === "nodeup"); i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(changes.some((c) => c.type === "nodeup" && c.node === peer), JSON.stringify(changes));
        c3.close();
        let state = "true";
        for (let i = 0; i < 50 && state === "true"; i++) {
          await new Promise((r) => setTimeout(r, 50));
          state = await alive();
        }
        assert.equal(state, "false", "the watcher exits when erlmesh's link goes away");
      });

      await t.step("many handshakes from one process reuse its name safely", async () => {
        for (let i = 0; i < 20; i++) {
          const c = await connectNode(name, opts);
          assert.ok(isAtom(await c.rpc("erlang", "node", []), name));
          c.close();
        }
      });
    },
  });
}

function transportOf(conn: Deno.Conn) {
  return {
    read: (p: Uint8Array) => conn.read(p).catch(() => null),
    write: (p: Uint8Array) => conn.write(p),
    close: () => {
      try {
        conn.close();
      } catch { /* closed */ }
    },
  };
}
