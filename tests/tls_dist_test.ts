/**
 * TLS distribution against real OTP 25, 27 and 29 nodes started with `-proto_dist inet_tls` and an
 * `ssl_dist_optfile` (`verify_peer`, `fail_if_no_peer_cert`): every command as a process, the
 * configuration from flags, environment and YAML, `agent` meshing two TLS nodes (of two OTP releases),
 * and a typed error for each way TLS goes wrong. Certificates are made by the test with `openssl`.
 */
import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { connectNode, Cookie, HandshakeError, type TlsClientOptions } from "../lib/dist/mod.ts";
import { portPlease } from "../lib/epmd/mod.ts";
import { isAtom } from "../lib/etf/term.ts";
import { formatTerm } from "../lib/etf/format.ts";
import {
  freePort,
  OTP_VERSIONS,
  otpAvailability,
  type OtpVersion,
  randomCookie,
  randomId,
  startNode,
} from "./_harness/mod.ts";
import { makePki, nodeTlsArgs, type Pki, tlsUnavailableReason } from "./_harness/tls.ts";

/** Why TLS nodes of `version` cannot run here (said once as a SKIP), or undefined. */
function noTls(version: OtpVersion): string | undefined {
  const why = tlsUnavailableReason(version);
  if (why) console.warn(`SKIP the TLS tests for OTP ${version}: ${why}`);
  return why;
}

function tlsOf(pki: Pki, client = pki.client, ca = pki.ca): TlsClientOptions {
  return {
    caCerts: [Deno.readTextFileSync(ca)],
    cert: Deno.readTextFileSync(client.cert),
    key: Deno.readTextFileSync(client.key),
  };
}

async function handshakeError(p: Promise<unknown>): Promise<HandshakeError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HandshakeError) return err;
    throw err;
  }
  throw new Error("Expected a HandshakeError, the connect succeeded");
}

/** Nothing secret in what erlmesh printed: the cookie, a private key or a certificate's body. */
function assertNoSecrets(out: string, cookie: string, pki: Pki): void {
  assert.ok(!out.includes(cookie), "the cookie is never printed");
  assert.ok(!out.includes("PRIVATE KEY") && !out.includes("BEGIN CERTIFICATE"), out);
  const keyBody = Deno.readTextFileSync(pki.client.key).split("\n")[1];
  assert.ok(!out.includes(keyBody), "the key's contents are never printed");
}

const NEXT: Record<OtpVersion, OtpVersion> = { "25": "27", "27": "29", "29": "25" };

for (const version of OTP_VERSIONS) {
  const avail = otpAvailability(version);
  if (!avail.available) console.warn(`SKIP the TLS tests for OTP ${version}: ${avail.why}`);

  Deno.test({
    name: `TLS OTP ${version}: names, ping, nodes and status as processes (env, YAML); rpc over TLS; ` +
      "typed errors for plain vs TLS and refused, untrusted, misnamed and expired certificates",
    ignore: !avail.available || noTls(version) !== undefined,
    async fn(t) {
      await using pki = await makePki();
      const cookie = randomCookie();
      const secret = new Cookie(cookie, "test");
      const epmdPort = freePort();
      const id = randomId(4);
      const cookieFile = `${pki.dir}/cookie`;
      await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
      const tlsEnv = {
        ERL_EPMD_PORT: String(epmdPort),
        ERLMESH_TLS_CA_FILE: pki.ca,
        ERLMESH_TLS_CERT_FILE: pki.client.cert,
        ERLMESH_TLS_KEY_FILE: pki.client.key,
      };
      const opts = { cookie: secret, epmdPort, timeoutMs: 5000 };

      {
        await using tls = await nodeTlsArgs(pki, version);
        await using node = await startNode({
          version,
          name: `tls${id}a@127.0.0.1`,
          cookie,
          epmdPort,
          args: [...tls.args, "-kernel", "net_ticktime", "4"],
        });

        await t.step("ping, nodes and status with the TLS keys from the environment", async () => {
          for (
            const args of [
              ["ping", node.name],
              ["nodes", node.name],
              ["status", "--node", node.name, "--hosts", "127.0.0.1"],
            ]
          ) {
            const r = await erlmesh([...args, "--cookie-file", cookieFile], tlsEnv);
            const out = r.stdout + r.stderr;
            assert.equal(r.code, 0, `${args[0]}: ${out}`);
            assertNoSecrets(out, cookie, pki);
          }
          const ping = await erlmesh(["ping", node.name, "--cookie-file", cookieFile, "-o", "json"], tlsEnv);
          assert.match(ping.stdout, /"result":"pong"/);
        });

        await t.step("names asks EPMD in plain TCP, as for any node", async () => {
          const r = await erlmesh(["names", "127.0.0.1"], tlsEnv);
          assert.equal(r.code, 0, r.stderr);
          assert.ok(r.stdout.includes(`tls${id}a`), r.stdout);
        });

        await t.step("the TLS keys from a YAML file", async () => {
          const yaml = `${pki.dir}/erlmesh.yaml`;
          await Deno.writeTextFile(
            yaml,
            `protoDist: inet_tls\ntlsCaFile: ${pki.ca}\ntlsCertFile: ${pki.client.cert}\ntlsKeyFile: ${pki.client.key}\n`,
          );
          const r = await erlmesh(["ping", node.name, "--cookie-file", cookieFile], {
            ERL_EPMD_PORT: String(epmdPort),
            ERLMESH_CONFIG: yaml,
          });
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.match(r.stdout, /pong/);
        });

        await t.step(
          "rpc and ping through connectNode over TLS; the link is hidden and survives idle periods (ticks)",
          async () => {
            const conn = await connectNode(node.name, { ...opts, tls: tlsOf(pki) });
            try {
              assert.ok(isAtom(await conn.rpc("erlang", "node", []), node.name));
              assert.ok(conn.hidden);
              assert.ok(await conn.ping());
              const net = await conn.rpc("net_kernel", "nodes_info", []);
              assert.match(formatTerm(net), /net_address,.*,\s*tls,\s*inet\}/, formatTerm(net));
              // net_ticktime 4: the node drops a silent peer after about 4-5 s; ticks go through TLS too.
              // Time must pass here (the point is an idle link), so this is a sleep, not a wait.
              await new Promise((r) => setTimeout(r, 6500));
              assert.ok(conn.open, "link still open");
              assert.ok(isAtom(await conn.rpc("erlang", "node", []), node.name));
            } finally {
              conn.close();
            }
          },
        );

        await t.step(
          "the plain suite's refusals over TLS: wrong cookie, another name, not registered",
          async () => {
            const tls = tlsOf(pki);
            let err = await handshakeError(
              connectNode(node.name, { ...opts, tls, cookie: new Cookie("WRONG", "test") }),
            );
            assert.equal(err.code, "COOKIE_REJECTED", err.message);
            const { port } = await portPlease("127.0.0.1", node.name.split("@")[0], { port: epmdPort });
            err = await handshakeError(connectNode(`other${id}@127.0.0.1`, { ...opts, tls, distPort: port }));
            assert.equal(err.code, "NAME_MISMATCH", err.message);
            assert.equal(err.peerName, node.name);
            err = await handshakeError(connectNode(`gone${id}@127.0.0.1`, { ...opts, tls }));
            assert.equal(err.code, "NOT_REGISTERED", err.message);
            const wrong = `${pki.dir}/wrong-cookie`;
            await Deno.writeTextFile(wrong, "WRONGCOOKIE", { mode: 0o400 });
            const r = await erlmesh(["ping", node.name, "--cookie-file", wrong], tlsEnv);
            assert.equal(r.code, 1, r.stdout + r.stderr);
            assert.match(r.stdout, /the node refused our cookie/);
            assertNoSecrets(r.stdout + r.stderr, cookie, pki);
          },
        );
        await t.step(
          "plain erlmesh to a TLS node: TLS_REQUIRED, and the CLI says to set protoDist",
          async () => {
            const err = await handshakeError(connectNode(node.name, opts));
            assert.equal(err.code, "TLS_REQUIRED", err.message);
            const r = await erlmesh(["ping", node.name, "--cookie-file", cookieFile], {
              ERL_EPMD_PORT: String(epmdPort),
            });
            assert.equal(r.code, 1, r.stdout + r.stderr);
            assert.match(
              r.stdout,
              /the node answered with TLS: it runs TLS distribution \(-proto_dist inet_tls\)/,
            );
          },
        );

        await t.step("no client certificate: CERT_REJECTED, naming tlsCertFile", async () => {
          const err = await handshakeError(
            connectNode(node.name, { ...opts, tls: { caCerts: tlsOf(pki).caCerts } }),
          );
          assert.equal(err.code, "CERT_REJECTED", err.message);
          assert.match(err.message, /requires a client certificate: set tlsCertFile and tlsKeyFile/);
        });

        await t.step("a client certificate of a CA the node does not trust: CERT_REJECTED", async () => {
          const err = await handshakeError(
            connectNode(node.name, { ...opts, tls: tlsOf(pki, pki.rogueClient) }),
          );
          assert.equal(err.code, "CERT_REJECTED", err.message);
          // The node's alert, or (when it closed before the alert was read) its closing mid-handshake.
          const refused =
            /alert UnknownCA: our certificate is not signed by a CA the node trusts|during the TLS handshake: it refused our certificate/;
          assert.match(err.message, refused);
          const r = await erlmesh(["ping", node.name, "--cookie-file", cookieFile], {
            ...tlsEnv,
            ERLMESH_TLS_CERT_FILE: pki.rogueClient.cert,
            ERLMESH_TLS_KEY_FILE: pki.rogueClient.key,
          });
          assert.equal(r.code, 1);
          assert.match(r.stdout, refused);
          assertNoSecrets(r.stdout + r.stderr, cookie, pki);
        });

        await t.step("the node's certificate not signed by tlsCaFile: CERT_UNTRUSTED", async () => {
          const err = await handshakeError(
            connectNode(node.name, { ...opts, tls: tlsOf(pki, pki.client, pki.rogueCa) }),
          );
          assert.equal(err.code, "CERT_UNTRUSTED", err.message);
          assert.match(err.message, /is not signed by a CA in tlsCaFile/);
        });

        await t.step(
          "an unreadable, non-PEM or mismatched TLS file is a configuration error (exit 2)",
          async () => {
            let r = await erlmesh(["ping", node.name, "--cookie-file", cookieFile], {
              ...tlsEnv,
              ERLMESH_TLS_CA_FILE: `${pki.dir}/missing.pem`,
            });
            assert.equal(r.code, 2, r.stdout + r.stderr);
            assert.match(r.stderr, /Cannot read tlsCaFile '.*missing\.pem' \(from env ERLMESH_TLS_CA_FILE\)/);
            r = await erlmesh(["ping", node.name, "--cookie-file", cookieFile], {
              ...tlsEnv,
              ERLMESH_TLS_KEY_FILE: cookieFile,
            });
            assert.equal(r.code, 2, r.stdout + r.stderr);
            assert.match(r.stderr, /Cannot use tlsKeyFile .*expected a PEM file of a private key/);
            // Deno aborts the process on a key of another certificate: erlmesh checks the pair first.
            r = await erlmesh(["ping", node.name, "--cookie-file", cookieFile], {
              ...tlsEnv,
              ERLMESH_TLS_KEY_FILE: pki.rogueClient.key,
            });
            assert.equal(r.code, 2, r.stdout + r.stderr);
            assert.match(
              r.stderr,
              /Cannot use tlsKeyFile '.*' with tlsCertFile '.*': the key does not belong to the certificate/,
            );
            const badCa = `${pki.dir}/bad-ca.pem`;
            await Deno.writeTextFile(badCa, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
            r = await erlmesh(["ping", node.name, "--cookie-file", cookieFile], {
              ...tlsEnv,
              ERLMESH_TLS_CA_FILE: badCa,
            });
            assert.equal(r.code, 2, r.stdout + r.stderr);
            assert.match(r.stderr, /Cannot use tlsCaFile '.*bad-ca\.pem'.*expected PEM CERTIFICATE blocks/);
            assertNoSecrets(r.stdout + r.stderr, cookie, pki);
          },
        );
      }

      await t.step("a node named by a DNS name (x@localhost) is checked against the DNS SANs", async () => {
        for (const [cert, ok] of [[pki.server, true], [pki.wrongName, false]] as const) {
          await using tls = await nodeTlsArgs(pki, version, { node: cert });
          await using node = await startNode({
            version,
            name: `tls${id}${ok ? "h" : "w"}@localhost`,
            nameKind: "long",
            cookie,
            epmdPort,
            args: tls.args,
          });
          const attempt = connectNode(node.name, { ...opts, tls: tlsOf(pki) });
          if (ok) {
            const conn = await attempt;
            assert.ok(isAtom(await conn.rpc("erlang", "node", []), node.name));
            conn.close();
          } else {
            const err = await handshakeError(attempt);
            assert.equal(err.code, "CERT_NAME", err.message);
            assert.match(err.message, /is not valid for 'localhost'/);
          }
        }
      });

      await t.step("a node certificate for another name: CERT_NAME", async () => {
        await using tls = await nodeTlsArgs(pki, version, { node: pki.wrongName });
        await using node = await startNode({
          version,
          name: `tls${id}b@127.0.0.1`,
          cookie,
          epmdPort,
          args: tls.args,
        });
        const err = await handshakeError(connectNode(node.name, { ...opts, tls: tlsOf(pki) }));
        assert.equal(err.code, "CERT_NAME", err.message);
        assert.match(err.message, /is not valid for '127\.0\.0\.1'/);
        const r = await erlmesh(["nodes", node.name, "--cookie-file", cookieFile], tlsEnv);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /TLS certificate on port \d+ is not valid for '127\.0\.0\.1'/);
      });

      await t.step("an expired node certificate: CERT_EXPIRED", async () => {
        await using tls = await nodeTlsArgs(pki, version, { node: pki.expired });
        await using node = await startNode({
          version,
          name: `tls${id}c@127.0.0.1`,
          cookie,
          epmdPort,
          args: tls.args,
        });
        const err = await handshakeError(connectNode(node.name, { ...opts, tls: tlsOf(pki) }));
        assert.equal(err.code, "CERT_EXPIRED", err.message);
        assert.match(err.message, /has expired/);
      });

      await t.step("TLS erlmesh to a plain node: NO_TLS, and the CLI says so", async () => {
        await using node = await startNode({ version, name: `tls${id}d@127.0.0.1`, cookie, epmdPort });
        const err = await handshakeError(
          connectNode(node.name, { ...opts, timeoutMs: 1500, tls: tlsOf(pki) }),
        );
        assert.equal(err.code, "NO_TLS", err.message);
        const r = await erlmesh(
          ["ping", node.name, "--cookie-file", cookieFile, "--timeout", "1500ms"],
          tlsEnv,
        );
        assert.equal(r.code, 1);
        assert.match(r.stdout, /speaks plain TCP distribution, not TLS/);
      });
    },
  });

  const other = NEXT[version];
  const otherAvail = otpAvailability(other);
  Deno.test({
    name:
      `TLS OTP ${version} with OTP ${other}: agent --once (flags) meshes two TLS nodes; mesh and status see them`,
    ignore: !avail.available || !otherAvail.available || noTls(version) !== undefined ||
      noTls(other) !== undefined,
    async fn(t) {
      await using pki = await makePki();
      const cookie = randomCookie();
      const epmdPort = freePort();
      const id = randomId(4);
      const cookieFile = `${pki.dir}/cookie`;
      await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
      await using tlsA = await nodeTlsArgs(pki, version);
      await using tlsB = await nodeTlsArgs(pki, other);
      await using a = await startNode({
        version,
        name: `tm${id}a@127.0.0.1`,
        cookie,
        epmdPort,
        args: tlsA.args,
      });
      await using b = await startNode({
        version: other,
        name: `tm${id}b@127.0.0.1`,
        cookie,
        epmdPort,
        args: tlsB.args,
      });
      const tlsFlags = [
        "--tls-ca-file",
        pki.ca,
        "--tls-cert-file",
        pki.client.cert,
        "--tls-key-file",
        pki.client.key,
      ];
      const common = ["--hosts", "127.0.0.1", "--basename", `tm${id}*`, "--cookie-file", cookieFile];
      const env = { ERL_EPMD_PORT: String(epmdPort) };

      await t.step("agent --once connects a to b over TLS", async () => {
        const r = await erlmesh(["agent", "--once", "--node", a.name, ...common, ...tlsFlags], env);
        const out = r.stdout + r.stderr;
        assert.equal(r.code, 0, out);
        assertNoSecrets(out, cookie, pki);
        assert.ok((await a.eval("nodes().")).includes(b.name), await a.eval("nodes()."));
        assert.match(await b.eval("init:get_argument(proto_dist)."), /inet_tls/);
      });

      await t.step(
        "mesh, status, probe, wait and discover (TLS keys from the environment) see the two nodes meshed",
        async () => {
          const tlsEnv = {
            ...env,
            ERLMESH_TLS_CA_FILE: pki.ca,
            ERLMESH_TLS_CERT_FILE: pki.client.cert,
            ERLMESH_TLS_KEY_FILE: pki.client.key,
          };
          const mesh = await erlmesh(["mesh", "--node", a.name, ...common, "-o", "json"], tlsEnv);
          assert.equal(mesh.code, 0, mesh.stdout + mesh.stderr);
          assert.ok(mesh.stdout.includes(b.name), mesh.stdout);
          const status = await erlmesh(["status", "--node", b.name, ...common], tlsEnv);
          assert.equal(status.code, 0, status.stdout + status.stderr);
          assert.ok(status.stdout.includes(a.name), status.stdout);
          assertNoSecrets(mesh.stdout + mesh.stderr + status.stdout + status.stderr, cookie, pki);
          const probe = await erlmesh(["probe", "readiness", "--node", a.name, ...common], tlsEnv);
          assert.equal(probe.code, 0, probe.stdout + probe.stderr);
          const wait = await erlmesh([
            "wait",
            "--epmd",
            "--peers",
            "1",
            "--node",
            a.name,
            "--hosts",
            "127.0.0.1",
            "--basename",
            `tm${id}*`,
          ], tlsEnv);
          assert.equal(wait.code, 0, wait.stdout + wait.stderr);
          const discover = await erlmesh(
            ["discover", "--hosts", "127.0.0.1", "--basename", `tm${id}*`],
            tlsEnv,
          );
          assert.equal(discover.code, 0, discover.stdout + discover.stderr);
          assert.ok(discover.stdout.includes(b.name), discover.stdout);
        },
      );
    },
  });
}
