/**
 * EPMD-less nodes against real OTP 25, 27 and 29: each node listens on one known distribution port
 * (OTP 25: `-erl_epmd_port P`; OTP 27 and 29: the kernel parameter `erl_epmd_node_listen_port`, which
 * replaces that flag, deprecated since 27) and erlmesh, told `distPort`, never asks EPMD: its EPMD port
 * points at a port where nothing listens, so any EPMD request would fail. Two nodes share the port on
 * two loopback addresses (127.0.0.1 and 127.0.0.2), as pods share it on their own IPs.
 */
import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { connectNode, Cookie } from "../lib/dist/mod.ts";
import { isAtom } from "../lib/etf/term.ts";
import {
  freePort,
  OTP_VERSIONS,
  otpAvailability,
  type OtpVersion,
  randomCookie,
  randomId,
  startNode,
} from "./_harness/mod.ts";
import { tempPrefix } from "./_harness/prefix.ts";
import { probeDistPort } from "../lib/cluster/diagnose.ts";
import { makePki, nodeTlsArgs, tlsUnavailableReason } from "./_harness/tls.ts";

/** The arguments of a node that listens on `port` at `ip` and finds its peers on that port without EPMD. */
function epmdLessArgs(version: OtpVersion, port: number, ip: string): string[] {
  const listen = version === "25"
    ? ["-erl_epmd_port", String(port)]
    : ["-kernel", "erl_epmd_node_listen_port", String(port)];
  return [...listen, "-kernel", "inet_dist_use_interface", `{${ip.replaceAll(".", ",")}}`];
}

/** A port free on both loopback addresses a moment ago. */
function freeDistPort(): number {
  for (;;) {
    const port = freePort();
    try {
      Deno.listen({ hostname: "127.0.0.2", port }).close();
      return port;
    } catch { /* taken there: try another */ }
  }
}

for (const version of OTP_VERSIONS) {
  const avail = otpAvailability(version);
  if (!avail.available) console.warn(`SKIP the EPMD-less tests for OTP ${version}: ${avail.why}`);

  Deno.test({
    name:
      `EPMD-less OTP ${version}: ping, nodes, status, discover, mesh, wait and agent --once without EPMD; ` +
      "a missing peer is reported by its distribution port, never by EPMD",
    ignore: !avail.available,
    async fn(t) {
      const cookie = randomCookie();
      const id = randomId(4);
      const dir = await Deno.makeTempDir({ prefix: tempPrefix("epmdless") });
      try {
        const cookieFile = `${dir}/cookie`;
        await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
        const port = freeDistPort();
        const deadEpmd = freePort();
        const alive = `el${id}`;
        await using a = await startNode({
          version,
          name: `${alive}@127.0.0.1`,
          cookie,
          epmdPort: freePort(),
          args: epmdLessArgs(version, port, "127.0.0.1"),
        });
        await using b = await startNode({
          version,
          name: `${alive}@127.0.0.2`,
          cookie,
          epmdPort: freePort(),
          args: epmdLessArgs(version, port, "127.0.0.2"),
        });
        // EPMD is asked nowhere: the port erlmesh would ask refuses every connection.
        const env = { ERL_EPMD_PORT: String(deadEpmd), ERLMESH_DIST_PORT: String(port) };
        const common = ["--cookie-file", cookieFile];
        const hosts = ["--hosts", "127.0.0.1,127.0.0.2", "--basename", alive];

        await t.step("connectNode with distPort reaches the node without EPMD", async () => {
          const conn = await connectNode(a.name, {
            cookie: new Cookie(cookie, "test"),
            epmdPort: deadEpmd,
            distPort: port,
            timeoutMs: 5000,
          });
          try {
            assert.ok(isAtom(await conn.rpc("erlang", "node", []), a.name));
          } finally {
            conn.close();
          }
        });

        await t.step("ping and nodes (ERLMESH_DIST_PORT)", async () => {
          for (const args of [["ping", a.name, b.name], ["nodes", a.name]]) {
            const r = await erlmesh([...args, ...common], env);
            assert.equal(r.code, 0, `${args[0]}: ${r.stdout}${r.stderr}`);
            assert.ok(!(r.stdout + r.stderr).includes(cookie));
          }
        });

        await t.step("discover names the hosts' nodes by the basename, asking no EPMD", async () => {
          const r = await erlmesh(["discover", ...hosts, "-o", "json"], env);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.ok(r.stdout.includes(a.name) && r.stdout.includes(b.name), r.stdout);
        });

        await t.step(
          "agent --once meshes the two nodes (flag --dist-port); mesh and status agree",
          async () => {
            const r = await erlmesh(
              ["agent", "--once", "--node", a.name, ...hosts, ...common, "--dist-port", String(port)],
              { ERL_EPMD_PORT: String(deadEpmd) },
            );
            assert.equal(r.code, 0, r.stdout + r.stderr);
            assert.ok((await a.eval("nodes().")).includes(b.name), await a.eval("nodes()."));
            const mesh = await erlmesh(["mesh", "--node", a.name, ...hosts, ...common], env);
            assert.equal(mesh.code, 0, mesh.stdout + mesh.stderr);
            const status = await erlmesh(["status", "--node", b.name, ...hosts, ...common], env);
            assert.equal(status.code, 0, status.stdout + status.stderr);
            assert.ok(status.stdout.includes(a.name), status.stdout);
            assert.ok(!/epmd/i.test(status.stdout + status.stderr), status.stdout + status.stderr);
            const probe = await erlmesh(["probe", "readiness", "--node", a.name, ...hosts, ...common], env);
            assert.equal(probe.code, 0, probe.stdout + probe.stderr);
          },
        );

        await t.step("wait --peers 1 counts the peer hosts without EPMD", async () => {
          const r = await erlmesh(
            ["wait", "--peers", "1", "--node", a.name, ...hosts, "--timeout", "10s"],
            env,
          );
          assert.equal(r.code, 0, r.stdout + r.stderr);
        });

        await t.step(
          "status with a host where no node runs: its distribution port is named, EPMD never",
          async () => {
            const r = await erlmesh(
              [
                "status",
                "--node",
                a.name,
                "--hosts",
                "127.0.0.1,127.0.0.2,127.0.0.3",
                "--basename",
                alive,
                ...common,
              ],
              env,
            );
            const out = r.stdout + r.stderr;
            assert.equal(r.code, 1, out);
            assert.match(out, new RegExp(`${alive}@127\\.0\\.0\\.3`));
            assert.match(out, new RegExp(`distribution port ${port} does not answer`));
            assert.ok(!/epmd/i.test(out), out);
          },
        );

        await t.step(
          "status without a discovery source: the local node's host, no local EPMD asked",
          async () => {
            const r = await erlmesh(["status", "--node", b.name, ...common], env);
            const out = r.stdout + r.stderr;
            assert.equal(r.code, 0, out);
            assert.ok(!/epmd/i.test(out), out);
          },
        );

        await t.step("a glob basename cannot name nodes without EPMD: exit 2", async () => {
          const r = await erlmesh([
            "status",
            "--node",
            a.name,
            "--hosts",
            "127.0.0.1",
            "--basename",
            "el*",
            ...common,
          ], env);
          assert.equal(r.code, 2, r.stdout + r.stderr);
          assert.match(r.stderr, /Conflicting distPort \(from env ERLMESH_DIST_PORT\) and basename 'el\*'/);
        });
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}

for (const version of OTP_VERSIONS) {
  const avail = otpAvailability(version);
  const noTls = tlsUnavailableReason(version);
  if (noTls) console.warn(`SKIP the TLS without EPMD test for OTP ${version}: ${noTls}`);
  Deno.test({
    name: `TLS without EPMD, OTP ${version}: ping and agent --once mesh two inet_tls nodes on one port`,
    ignore: !avail.available || noTls !== undefined,
    async fn() {
      await using pki = await makePki();
      const cookie = randomCookie();
      const alive = `et${randomId(4)}`;
      const cookieFile = `${pki.dir}/cookie`;
      await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
      const port = freeDistPort();
      const deadEpmd = freePort();
      await using tlsA = await nodeTlsArgs(pki, version);
      await using tlsB = await nodeTlsArgs(pki, version);
      await using a = await startNode({
        version,
        name: `${alive}@127.0.0.1`,
        cookie,
        epmdPort: freePort(),
        args: [...epmdLessArgs(version, port, "127.0.0.1"), ...tlsA.args],
      });
      await using b = await startNode({
        version,
        name: `${alive}@127.0.0.2`,
        cookie,
        epmdPort: freePort(),
        args: [...epmdLessArgs(version, port, "127.0.0.2"), ...tlsB.args],
      });
      const env = {
        ERL_EPMD_PORT: String(deadEpmd),
        ERLMESH_DIST_PORT: String(port),
        ERLMESH_TLS_CA_FILE: pki.ca,
        ERLMESH_TLS_CERT_FILE: pki.client.cert,
        ERLMESH_TLS_KEY_FILE: pki.client.key,
      };
      const ping = await erlmesh(["ping", a.name, b.name, "--cookie-file", cookieFile], env);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      const r = await erlmesh(
        [
          "agent",
          "--once",
          "--node",
          a.name,
          "--hosts",
          "127.0.0.1,127.0.0.2",
          "--basename",
          alive,
          "--cookie-file",
          cookieFile,
        ],
        env,
      );
      const out = r.stdout + r.stderr;
      assert.equal(r.code, 0, out);
      assert.ok(!out.includes(cookie) && !out.includes("PRIVATE KEY"), out);
      assert.ok((await a.eval("nodes().")).includes(b.name), await a.eval("nodes()."));
    },
  });
}

for (const version of OTP_VERSIONS) {
  const avail = otpAvailability(version);
  Deno.test({
    name:
      `EPMD-less OTP ${version}: the reconciler's probe of a distribution port (a TCP connection closed at ` +
      "once) finds a listening node, reports a closed port, and leaves nothing in the node's log, even at debug level",
    ignore: !avail.available,
    async fn() {
      const port = freeDistPort();
      const alive = `pr${randomId(4)}`;
      await using node = await startNode({
        version,
        name: `${alive}@127.0.0.1`,
        cookie: randomCookie(),
        epmdPort: freePort(),
        args: [...epmdLessArgs(version, port, "127.0.0.1"), "-kernel", "logger_level", "debug"],
      });
      const before = node.output();
      assert.match(before, /started_at/, "the node's log is captured (its boot's progress reports)");
      for (let i = 0; i < 3; i++) {
        assert.equal(await probeDistPort(node.name, port, { timeoutMs: 2000 }), undefined);
      }
      // Time passing is the point: a log line for the closed connections would come within it.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await node.eval("ok."), "ok", "the node is fine");
      assert.equal(node.output(), before, "the probes left nothing in the node's output");
      const closed = await probeDistPort(`${alive}@127.0.0.1`, freePort(), { timeoutMs: 2000 });
      assert.equal(closed?.code, "UNREACHABLE");
      assert.match(closed!.message, /the distribution port \d+ does not answer/);
    },
  });
}
