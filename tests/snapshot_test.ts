/**
 * The mesh snapshot, readiness, `mesh` analysis and `wait --peers` against real OTP nodes: three nodes
 * on one host (one EPMD) and a fourth alone on another EPMD. Run under the heavy lock (4 OTP nodes):
 * `flock /tmp/erlmesh-heavy.lock deno test -A tests/snapshot_test.ts`.
 */
import assert from "node:assert/strict";
import {
  judgeReadiness,
  localNodeView,
  meshStatus,
  peerDiagnoser,
  Reconciler,
  takeSnapshot,
  waitFor,
} from "../lib/cluster/mod.ts";
import { Cookie } from "../lib/dist/mod.ts";
import { NodeEnumerator, staticSource } from "../lib/discovery/mod.ts";
import { judge } from "../lib/runtime/health.ts";
import { freePort, otpAvailability, randomCookie, RUN_PREFIX, startNode } from "./_harness/mod.ts";

const otp = otpAvailability("25");
if (!otp.available) console.warn(`SKIPPED tests/snapshot_test.ts: ${otp.why}`);

Deno.test({
  name: "snapshot, readiness, mesh and wait against real nodes: three on one host, one alone",
  ignore: !otp.available,
  async fn(t) {
    const secret = randomCookie();
    const cookie = new Cookie(secret, "test");
    const epmdPort = freePort();
    const name = (x: string) => `${RUN_PREFIX}${x}@127.0.0.1`;
    const [A, B, C] = ["a", "b", "c"].map(name);
    const alive = (n: string) => n.slice(0, n.indexOf("@"));
    await using a = await startNode({ name: A, cookie: secret, epmdPort });
    await using _b = await startNode({ name: B, cookie: secret, epmdPort });
    await using _c = await startNode({ name: C, cookie: secret, epmdPort });

    const local = (signal?: AbortSignal) => localNodeView({ node: A, cookie, epmdPort, signal });
    const options = (basename: string, enumeratorPort = epmdPort) => ({
      local,
      localLabel: A,
      source: staticSource(["127.0.0.1"]),
      enumerator: new NodeEnumerator({ basename, useEpmd: true, epmdPort: enumeratorPort, timeoutMs: 2000 }),
      diagnose: peerDiagnoser(cookie, { epmdPort }),
      epmdPort: enumeratorPort,
      basename,
    });

    await t.step("no node matching the basename is not 'meshed': the snapshot names b and c", async () => {
      // Before: `status --node a --hosts 127.0.0.1` said "Meshed: connected to all 0 discovered peer(s)".
      const snap = await takeSnapshot(options(alive(A)));
      assert.equal(snap.verdict.code, "NO_MATCHING_NODES", snap.verdict.message);
      assert.equal(snap.verdict.ok, false);
      assert.deepEqual(snap.otherNodes, [{ host: "127.0.0.1", names: [alive(B), alive(C)] }]);
      assert.ok(snap.verdict.message.includes(`EPMD lists ${B}, ${C} instead`), snap.verdict.message);
      assert.equal(judgeReadiness(snap, "meshed").ok, false);
    });

    await t.step("a host whose EPMD cannot be asked is DISCOVERY_FAILED, with EPMD's code", async () => {
      const snap = await takeSnapshot(options("*", freePort()));
      assert.equal(snap.verdict.code, "DISCOVERY_FAILED", snap.verdict.message);
      assert.equal(snap.hostFailures[0]?.code, "REFUSED", JSON.stringify(snap.hostFailures));
      assert.match(snap.verdict.message, /nothing listens on 127\.0\.0\.1:\d+/);
      assert.equal(judgeReadiness(snap, "meshed").ok, false);
      assert.equal(judgeReadiness(snap, 1).ok, false);
    });

    await t.step("/readyz with readiness meshed fails after a cycle that discovered nothing", async () => {
      // Before: zero missing peers of zero discovered passed as "connected to all 0 discovered peer(s)".
      const rec = new Reconciler({
        localNode: A,
        cookie,
        epmdPort,
        source: staticSource(["127.0.0.1"]),
        enumerator: new NodeEnumerator({
          basename: "*",
          useEpmd: true,
          epmdPort: freePort(),
          timeoutMs: 2000,
        }),
      });
      try {
        const report = await rec.runCycle();
        assert.equal(report.ok, true, report.error);
        assert.deepEqual(report.discovered, []);
        const r = judge("readiness", rec, "meshed", 60_000);
        assert.equal(r.ok, false, r.detail);
        assert.equal(judge("readiness", rec, "node", 60_000).ok, true);
      } finally {
        rec.stop();
      }
    });

    await t.step("missing peers are NOT_CONNECTED, and a snapshot connects nothing", async () => {
      const snap = await takeSnapshot(options("*"));
      assert.equal(snap.verdict.code, "MISSING_PEERS", snap.verdict.message);
      assert.deepEqual(snap.peers.map((p) => [p.node, p.state, p.code]), [[B, "missing", "NOT_CONNECTED"], [
        C,
        "missing",
        "NOT_CONNECTED",
      ]]);
      for (const p of snap.peers) {
        assert.ok(!/connect_node failed/.test(p.reason!), p.reason);
        assert.match(p.reason!, /has not been asked to connect to it, or refused to/);
      }
      assert.equal(await a.eval("nodes()."), "[]", "the snapshot asked the local node to connect");
    });

    await t.step("a connected peer is connected; the other is still missing", async () => {
      assert.equal(await a.eval(`net_kernel:connect_node('${B}').`), "true");
      const snap = await takeSnapshot(options("*"));
      assert.deepEqual(snap.peers.map((p) => p.state), ["connected", "missing"]);
      assert.equal(judgeReadiness(snap, 1).ok, true);
      assert.equal(judgeReadiness(snap, "meshed").ok, false);
    });

    await t.step("mesh with a wrong cookie: both nodes unknown, no missing pair, no split", async () => {
      // Before: "Missing pairs (1): a -- b" and "Split into 2 separate clusters" while a and b were connected.
      const wrong = new Cookie(randomCookie(), "test-wrong");
      const s = await meshStatus([A, B], { cookie: wrong, epmdPort, timeoutMs: 3000 });
      assert.equal(s.verdict, "UNKNOWN");
      assert.equal(s.summary, "unknown (2 unreachable)");
      assert.deepEqual(s.missingPairs, []);
      assert.deepEqual(s.unknownPairs, [[A, B].sort()]);
      assert.equal(s.split, false);
      assert.equal(s.unreachable.length, 2);
      const right = await meshStatus([A, B, C], { cookie, epmdPort, timeoutMs: 3000 });
      assert.equal(right.verdict, "NOT_MESHED");
      assert.deepEqual(right.missingPairs, [[A, C], [B, C]]);
      assert.equal(right.split, true);
    });

    await t.step("wait --epmd --peers 2 counts the three nodes on one host as nodes", async () => {
      // Before: peers were hosts, and the only host was this pod's: 0 of 2, never passing.
      const report = await waitFor({ peers: 2, epmd: true }, {
        source: staticSource(["127.0.0.1"]),
        self: { ip: "127.0.0.1", alive: alive(A) },
        epmdPort,
        timeoutMs: 5000,
      });
      assert.equal(report.ok, true, report.message);
      assert.deepEqual(report.last.peerNodes, [B, C]);
      const hosts = await waitFor({ peers: 2 }, {
        source: staticSource(["127.0.0.1"]),
        self: { ip: "127.0.0.1", alive: alive(A) },
        epmdPort,
        timeoutMs: 1,
      });
      assert.equal(hosts.ok, false);
      assert.match(hosts.message, /no peer hosts other than this pod/);
    });

    await t.step("a node alone on its host is ALONE, and readiness meshed passes", async () => {
      const soloPort = freePort();
      const D = name("d");
      await using _d = await startNode({ name: D, cookie: secret, epmdPort: soloPort });
      const snap = await takeSnapshot({
        local: (signal) => localNodeView({ node: D, cookie, epmdPort: soloPort, signal }),
        localLabel: D,
        source: staticSource(["127.0.0.1"]),
        enumerator: new NodeEnumerator({ basename: "*", useEpmd: true, epmdPort: soloPort }),
        diagnose: peerDiagnoser(cookie, { epmdPort: soloPort }),
        epmdPort: soloPort,
      });
      assert.equal(snap.verdict.code, "ALONE", snap.verdict.message);
      assert.equal(snap.selfFound, true);
      assert.equal(judgeReadiness(snap, "meshed").ok, true);
    });
  },
});
