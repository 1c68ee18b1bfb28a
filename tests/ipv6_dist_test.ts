/**
 * IPv6 against real OTP 25, 27 and 29 nodes started with `-proto_dist inet6_tcp` (and `inet6_tls`)
 * and named `alive@::1`: EPMD over IPv6, every command as a process, `agent` meshing two IPv6 nodes of
 * two releases, and TLS over IPv6. Loopback only (`::1`).
 */
import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { connectNode, Cookie } from "../lib/dist/mod.ts";
import { names } from "../lib/epmd/mod.ts";
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
import { makePki, nodeTlsArgs, tlsUnavailableReason } from "./_harness/tls.ts";

const NEXT: Record<OtpVersion, OtpVersion> = { "25": "27", "27": "29", "29": "25" };

/** True when this machine has ::1. */
function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}
const ipv6 = hasIpv6Loopback();
if (!ipv6) console.warn("SKIP the IPv6 tests: no ::1 here");

for (const version of OTP_VERSIONS) {
  const other = NEXT[version];
  const avail = otpAvailability(version);
  const otherAvail = otpAvailability(other);
  if (!avail.available) console.warn(`SKIP the IPv6 tests for OTP ${version}: ${avail.why}`);

  Deno.test({
    name: `IPv6 OTP ${version} with OTP ${other}: inet6_tcp nodes on ::1: EPMD over IPv6, names, ping, ` +
      "nodes, discover, status, mesh, probe, wait and agent --once",
    ignore: !ipv6 || !avail.available || !otherAvail.available,
    async fn(t) {
      const cookie = randomCookie();
      const id = randomId(4);
      const epmdPort = freePort();
      const dir = await Deno.makeTempDir({ prefix: tempPrefix("ipv6") });
      try {
        const cookieFile = `${dir}/cookie`;
        await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
        const args = ["-proto_dist", "inet6_tcp"];
        await using a = await startNode({ version, name: `v6${id}a@::1`, cookie, epmdPort, args });
        await using b = await startNode({ version: other, name: `v6${id}b@::1`, cookie, epmdPort, args });
        const env = { ERL_EPMD_PORT: String(epmdPort), ERLMESH_PROTO_DIST: "inet6_tcp" };
        const common = ["--hosts", "::1", "--basename", `v6${id}*`, "--cookie-file", cookieFile];

        await t.step("EPMD answers over IPv6; connectNode reaches a@::1", async () => {
          const list = await names("::1", { port: epmdPort });
          assert.deepEqual(list.nodes.map((n) => n.name).sort(), [`v6${id}a`, `v6${id}b`]);
          const conn = await connectNode(a.name, {
            cookie: new Cookie(cookie, "test"),
            epmdPort,
            timeoutMs: 5000,
          });
          try {
            assert.ok(isAtom(await conn.rpc("erlang", "node", []), a.name));
          } finally {
            conn.close();
          }
        });

        await t.step("names, ping and nodes as processes", async () => {
          const n = await erlmesh(["names", "::1"], env);
          assert.equal(n.code, 0, n.stderr);
          assert.ok(n.stdout.includes(`v6${id}a`) && n.stdout.includes(`v6${id}b`), n.stdout);
          for (const cmd of [["ping", a.name, b.name], ["nodes", b.name]]) {
            const r = await erlmesh([...cmd, "--cookie-file", cookieFile], env);
            assert.equal(r.code, 0, `${cmd[0]}: ${r.stdout}${r.stderr}`);
            assert.ok(!(r.stdout + r.stderr).includes(cookie));
          }
        });

        await t.step("discover lists both nodes on ::1", async () => {
          const r = await erlmesh(
            ["discover", "--hosts", "::1", "--basename", `v6${id}*`, "-o", "json"],
            env,
          );
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.ok(r.stdout.includes(a.name) && r.stdout.includes(b.name), r.stdout);
        });

        await t.step(
          "agent --once meshes the two IPv6 nodes; mesh, status, probe and wait agree",
          async () => {
            const r = await erlmesh([
              "agent",
              "--once",
              "--node",
              a.name,
              ...common,
              "--proto-dist",
              "inet6_tcp",
            ], {
              ERL_EPMD_PORT: String(epmdPort),
            });
            assert.equal(r.code, 0, r.stdout + r.stderr);
            assert.ok((await a.eval("nodes().")).includes(b.name), await a.eval("nodes()."));
            const mesh = await erlmesh(["mesh", "--node", a.name, ...common], env);
            assert.equal(mesh.code, 0, mesh.stdout + mesh.stderr);
            const status = await erlmesh(["status", "--node", b.name, ...common], env);
            assert.equal(status.code, 0, status.stdout + status.stderr);
            assert.ok(status.stdout.includes(a.name), status.stdout);
            const probe = await erlmesh(["probe", "readiness", "--node", a.name, ...common], env);
            assert.equal(probe.code, 0, probe.stdout + probe.stderr);
            const wait = await erlmesh(
              [
                "wait",
                "--epmd",
                "--peers",
                "1",
                "--node",
                a.name,
                "--hosts",
                "::1",
                "--basename",
                `v6${id}*`,
              ],
              env,
            );
            assert.equal(wait.code, 0, wait.stdout + wait.stderr);
          },
        );
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });

  const noTls = tlsUnavailableReason(version);
  if (noTls) console.warn(`SKIP the TLS over IPv6 test for OTP ${version}: ${noTls}`);
  Deno.test({
    name: `TLS over IPv6, OTP ${version}: inet6_tls nodes on ::1: ping, and agent --once meshes two`,
    ignore: !ipv6 || !avail.available || noTls !== undefined,
    async fn() {
      await using pki = await makePki();
      const cookie = randomCookie();
      const id = randomId(4);
      const epmdPort = freePort();
      const cookieFile = `${pki.dir}/cookie`;
      await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
      await using tlsA = await nodeTlsArgs(pki, version, { proto: "inet6_tls" });
      await using tlsB = await nodeTlsArgs(pki, version, { proto: "inet6_tls" });
      await using a = await startNode({ version, name: `t6${id}a@::1`, cookie, epmdPort, args: tlsA.args });
      await using b = await startNode({ version, name: `t6${id}b@::1`, cookie, epmdPort, args: tlsB.args });
      const env = {
        ERL_EPMD_PORT: String(epmdPort),
        ERLMESH_PROTO_DIST: "inet6_tls",
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
          "::1",
          "--basename",
          `t6${id}*`,
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
