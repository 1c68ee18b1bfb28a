/**
 * AAAA discovery to node names against real IPv6 nodes (`-proto_dist inet6_tcp`, `alive@::1`) of OTP
 * 25, 27 and 29: a dual-stack headless Service (A and AAAA records) served by a real Unbound on
 * loopback; erlmesh with `protoDist inet6_tcp` asks the AAAA records only and names the nodes by their
 * IPv6 address, never by the IPv4 one (which names no node). Starts Unbound: run it under
 * `flock /tmp/erlmesh-heavy.lock`.
 */
import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import {
  dnsUnavailableReason,
  freePort,
  OTP_VERSIONS,
  otpAvailability,
  type OtpVersion,
  randomCookie,
  randomId,
  renderZone,
  startNode,
  unboundConfig,
} from "./_harness/mod.ts";
import { tempPrefix } from "./_harness/prefix.ts";

const NEXT: Record<OtpVersion, OtpVersion> = { "25": "27", "27": "29", "29": "25" };
const SERVICE = "app.default.svc.cluster.local";

/** Unbound on 127.0.0.1:`port` serving `zone`; stops with the returned dispose. */
async function startUnbound(dir: string, port: number, zone: string): Promise<AsyncDisposable> {
  await Deno.writeTextFile(`${dir}/cluster.local.zone`, zone);
  const conf = `${dir}/unbound.conf`;
  await Deno.writeTextFile(conf, unboundConfig({ dir, iface: `127.0.0.1@${port}`, allow: "127.0.0.0/8" }));
  const child = new Deno.Command("unbound", { args: ["-d", "-c", conf], stdout: "null", stderr: "piped" })
    .spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.stderr.cancel().catch(() => {});
    await child.status;
  };
  try {
    // Up once it answers a query; each try has its own deadline, the whole wait one too.
    const until = AbortSignal.timeout(10_000);
    for (let delay = 10;; delay = Math.min(delay * 2, 200)) {
      until.throwIfAborted();
      try {
        await Deno.resolveDns(SERVICE, "AAAA", {
          nameServer: { ipAddr: "127.0.0.1", port },
          signal: AbortSignal.timeout(500),
        });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  } catch (err) {
    await stop();
    throw new Error(`Cannot start unbound on 127.0.0.1:${port}`, { cause: err });
  }
  return { [Symbol.asyncDispose]: stop };
}

for (const version of OTP_VERSIONS) {
  const other = NEXT[version];
  const avail = otpAvailability(version);
  const otherAvail = otpAvailability(other);
  const noDns = dnsUnavailableReason();
  if (noDns) console.warn(`SKIP the AAAA discovery tests: ${noDns}`);

  Deno.test({
    name: `IPv6 discovery, OTP ${version} with OTP ${other}: a dual-stack Service's AAAA records become ` +
      "node names (never its A records); discover, status and agent --once mesh the two",
    ignore: !avail.available || !otherAvail.available || noDns !== undefined,
    async fn(t) {
      const cookie = randomCookie();
      const id = randomId(4);
      const epmdPort = freePort();
      const dir = await Deno.makeTempDir({ prefix: tempPrefix("aaaa") });
      try {
        const cookieFile = `${dir}/cookie`;
        await Deno.writeTextFile(cookieFile, cookie, { mode: 0o400 });
        const dnsPort = freePort();
        await using _dns = await startUnbound(
          dir,
          dnsPort,
          renderZone([
            { name: "app.default.svc", type: "A", data: "127.0.0.1" },
            { name: "app.default.svc", type: "AAAA", data: "::1" },
          ]),
        );
        const args = ["-proto_dist", "inet6_tcp"];
        await using a = await startNode({ version, name: `d6${id}a@::1`, cookie, epmdPort, args });
        await using b = await startNode({ version: other, name: `d6${id}b@::1`, cookie, epmdPort, args });
        const env = { ERL_EPMD_PORT: String(epmdPort), ERLMESH_PROTO_DIST: "inet6_tcp" };
        const dns = [
          "--discovery",
          "a",
          "--service",
          SERVICE,
          "--dns-server",
          `127.0.0.1:${dnsPort}`,
          "--basename",
          `d6${id}*`,
        ];

        await t.step("discover: the nodes on ::1, none on 127.0.0.1", async () => {
          const r = await erlmesh(["discover", ...dns, "-o", "json"], env);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.ok(r.stdout.includes(a.name) && r.stdout.includes(b.name), r.stdout);
          assert.ok(!r.stdout.includes(`d6${id}a@127.0.0.1`), r.stdout);
        });

        await t.step("agent --once meshes the two; status sees them meshed", async () => {
          const r = await erlmesh(
            ["agent", "--once", "--node", a.name, ...dns, "--cookie-file", cookieFile],
            env,
          );
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.ok((await a.eval("nodes().")).includes(b.name), await a.eval("nodes()."));
          const status = await erlmesh(
            ["status", "--node", b.name, ...dns, "--cookie-file", cookieFile],
            env,
          );
          assert.equal(status.code, 0, status.stdout + status.stderr);
          assert.ok(!(r.stdout + r.stderr + status.stdout).includes(cookie));
        });
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}
