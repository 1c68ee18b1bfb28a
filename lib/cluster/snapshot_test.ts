import assert from "node:assert/strict";
import { EpmdError } from "../epmd/mod.ts";
import {
  type DiscoveredHost,
  type Discovery,
  DiscoveryError,
  type DiscoverySource,
  NodeEnumerator,
  staticSource,
} from "../discovery/mod.ts";
import type { PeerDiagnosis } from "./diagnose.ts";
import { judgeReadiness } from "./readiness.ts";
import type { CycleReport } from "./reconcile.ts";
import { type LocalView, snapshotOfCycle, type SnapshotOptions, takeSnapshot } from "./snapshot.ts";

const A = "a@127.0.0.1", B = "b@127.0.0.1", C = "c@127.0.0.1";

/** A source that answers `discovery` every time. */
function fixedSource(
  discovery: Partial<Discovery>,
  description = "DNS SRV _epmd._tcp.app.test.",
): DiscoverySource {
  return {
    kind: "srv",
    description,
    discover: () => Promise.resolve({ hosts: [], recordTypes: [], stale: false, queries: 1, ...discovery }),
  };
}

/** An enumerator over fake EPMDs: `registered` per host, or an error for the hosts in `failing`. */
function fakeEnumerator(
  registered: Record<string, string[]>,
  basename: string,
  failing: Record<string, EpmdError> = {},
): NodeEnumerator {
  return new NodeEnumerator({
    basename,
    useEpmd: true,
    names: (host) =>
      failing[host]
        ? Promise.reject(failing[host])
        : Promise.resolve({ nodes: (registered[host] ?? []).map((name, i) => ({ name, port: 40000 + i })) }),
  });
}

const localUp = (node: string, connected: string[]) => (): Promise<LocalView> =>
  Promise.resolve({ node, connected });

/** Options for `a@127.0.0.1` with three nodes on 127.0.0.1; every call to diagnose is recorded. */
function setup(extra: Partial<SnapshotOptions> = {}, basename = "*") {
  const diagnosed: string[] = [];
  const registered = { "127.0.0.1": ["a", "b", "c", "erlmesh-1234"] };
  const options: SnapshotOptions = {
    local: localUp(A, []),
    localLabel: A,
    source: staticSource(["127.0.0.1"]),
    enumerator: fakeEnumerator(registered, basename),
    diagnose: (node): Promise<PeerDiagnosis> => {
      diagnosed.push(node);
      return Promise.resolve({ code: "REFUSED", message: "accepts erlmesh's own connection, but …" });
    },
    listNodes: (h: DiscoveredHost) => Promise.resolve(registered[h.host as "127.0.0.1"] ?? []),
    basename,
    now: () => 1000,
    ...extra,
  };
  return { options, diagnosed };
}

Deno.test("takeSnapshot() of a failed discovery is DISCOVERY_FAILED with the error, never meshed", async () => {
  const error = new DiscoveryError(
    "TIMEOUT",
    "Cannot resolve '_epmd._tcp.app.test.' SRV: no answer within 1000 ms",
  );
  const { options } = setup({ source: fixedSource({ error }) });
  const snap = await takeSnapshot(options);
  assert.equal(snap.verdict.code, "DISCOVERY_FAILED");
  assert.equal(snap.verdict.ok, false);
  assert.match(
    snap.verdict.message,
    /^Not meshed: discovery failed \(DNS SRV _epmd\._tcp\.app\.test\.\): Cannot resolve/,
  );
  assert.deepEqual(snap.discovery?.error, { code: "TIMEOUT", message: error.message });
  assert.equal(judgeReadiness(snap, "meshed").ok, false);
  assert.equal(judgeReadiness(snap, 1).ok, false);
  assert.equal(judgeReadiness(snap, "node").ok, true);
});

Deno.test("takeSnapshot() of a host EPMD cannot be asked about is DISCOVERY_FAILED naming the EPMD error", async () => {
  const cause = new EpmdError(
    "CANNOT_RESOLVE",
    "Cannot resolve 'nosuchhost.invalid' to list its nodes: failed to lookup address information",
    { host: "nosuchhost.invalid", port: 4369 },
  );
  const { options } = setup({
    source: staticSource(["nosuchhost.invalid"]),
    enumerator: fakeEnumerator({}, "a", { "nosuchhost.invalid": cause }),
  }, "a");
  const snap = await takeSnapshot(options);
  assert.equal(snap.verdict.code, "DISCOVERY_FAILED");
  assert.deepEqual(snap.hostFailures.map((f) => [f.host, f.code]), [[
    "nosuchhost.invalid",
    "CANNOT_RESOLVE",
  ]]);
  assert.match(
    snap.verdict.message,
    /the nodes on 1 host of 1 are unknown: .*Cannot resolve 'nosuchhost\.invalid'/,
  );
  assert.equal(judgeReadiness(snap, "meshed").ok, false);
});

Deno.test("takeSnapshot() with no node matching the basename names what EPMD lists instead", async () => {
  const { options } = setup({}, "a");
  const snap = await takeSnapshot(options);
  assert.equal(snap.verdict.code, "NO_MATCHING_NODES");
  assert.deepEqual(snap.peers, []);
  assert.equal(snap.selfFound, true);
  assert.deepEqual(snap.otherNodes, [{ host: "127.0.0.1", names: ["b", "c"] }]);
  assert.equal(
    snap.verdict.message,
    "Not meshed: no node on the 1 discovered host matches basename 'a'; EPMD lists b@127.0.0.1, c@127.0.0.1 instead",
  );
  assert.equal(judgeReadiness(snap, "meshed").ok, false);
});

Deno.test("takeSnapshot() is ALONE when discovery lists only this node, and readiness meshed passes", async () => {
  const registered = { "127.0.0.1": ["a", "erlmesh-77"] };
  const { options } = setup({
    enumerator: fakeEnumerator(registered, "a"),
    listNodes: (h) => Promise.resolve(registered[h.host as "127.0.0.1"] ?? []),
  }, "a");
  const snap = await takeSnapshot(options);
  assert.equal(snap.verdict.code, "ALONE");
  assert.equal(snap.verdict.ok, true);
  assert.match(snap.verdict.message, /^Alone: static .* lists only this node \(a@127\.0\.0\.1\)/);
  assert.equal(judgeReadiness(snap, "meshed").ok, true);
  assert.equal(judgeReadiness(snap, 1).ok, false);
  assert.equal(judgeReadiness(snap, 0).ok, true);
});

Deno.test("takeSnapshot() of an empty answer is NO_HOSTS, not ALONE (this node is not listed either)", async () => {
  const error = new DiscoveryError(
    "NXDOMAIN_OR_NODATA",
    "Cannot resolve '_epmd._tcp.app.test.' SRV: no records found",
  );
  const { options } = setup({ source: fixedSource({ error }) });
  const snap = await takeSnapshot(options);
  assert.equal(snap.verdict.code, "NO_HOSTS");
  assert.match(snap.verdict.message, /lists no hosts .*not even this node's$/);
  assert.equal(judgeReadiness(snap, "meshed").ok, false);
});

Deno.test("takeSnapshot() says a reachable missing peer is NOT_CONNECTED, not that a connect failed", async () => {
  const { options, diagnosed } = setup({ local: localUp(A, [B]) });
  const snap = await takeSnapshot(options);
  assert.equal(snap.verdict.code, "MISSING_PEERS");
  assert.deepEqual(snap.peers.map((p) => [p.node, p.state, p.code]), [[B, "connected", undefined], [
    C,
    "missing",
    "NOT_CONNECTED",
  ]]);
  const reason = snap.peers[1].reason!;
  assert.ok(!/connect_node failed|connect failed/.test(reason), reason);
  assert.match(reason, /has not been asked to connect to it, or refused to: run 'erlmesh agent --once'/);
  assert.deepEqual(diagnosed, [C], "only the missing peer is diagnosed");
  assert.equal(snap.verdict.message, `Not meshed: 1 of 2 discovered peers not connected: ${C}`);
  assert.equal(judgeReadiness(snap, 1).ok, true);
  assert.equal(judgeReadiness(snap, 2).ok, false);
  assert.equal(judgeReadiness(snap, "meshed").ok, false);
});

Deno.test("takeSnapshot() keeps a diagnosis that describes the peer, such as a refused cookie", async () => {
  const { options } = setup({
    local: localUp(A, [B]),
    diagnose: () => Promise.resolve({ code: "COOKIE_REJECTED", message: `'${C}' refuses the cookie` }),
  });
  const snap = await takeSnapshot(options);
  assert.deepEqual([snap.peers[1].code, snap.peers[1].reason], [
    "COOKIE_REJECTED",
    `'${C}' refuses the cookie`,
  ]);
});

Deno.test("takeSnapshot() is MESHED when every discovered peer is connected", async () => {
  const { options, diagnosed } = setup({ local: localUp(A, [C, B, "x@10.0.0.9"]) });
  const snap = await takeSnapshot(options);
  assert.equal(snap.verdict.code, "MESHED");
  assert.equal(snap.verdict.message, "Meshed: connected to all 2 discovered peers");
  assert.deepEqual(snap.connectedNotDiscovered, ["x@10.0.0.9"]);
  assert.deepEqual(diagnosed, []);
  assert.equal(snap.at, 1000);
  assert.equal(judgeReadiness(snap, "meshed").ok, true);
});

Deno.test("takeSnapshot() with the local node down is LOCAL_DOWN and diagnoses nobody", async () => {
  const { options, diagnosed } = setup({
    local: () =>
      Promise.reject(new EpmdError("REFUSED", "Cannot resolve 'a' on 127.0.0.1:4369: nothing listens")),
  });
  const snap = await takeSnapshot(options);
  assert.equal(snap.verdict.code, "LOCAL_DOWN");
  assert.deepEqual(snap.local, {
    up: false,
    node: A,
    error: { code: "REFUSED", message: "Cannot resolve 'a' on 127.0.0.1:4369: nothing listens" },
  });
  assert.deepEqual(snap.peers.map((p) => p.state), ["unknown", "unknown"]);
  assert.deepEqual(diagnosed, []);
  for (const rule of ["node", "meshed", 0] as const) assert.equal(judgeReadiness(snap, rule).ok, false);
});

Deno.test("takeSnapshot() without a source asks only the local node: readiness node passes, meshed does not", async () => {
  const snap = await takeSnapshot({ local: localUp(A, [B]), localLabel: A });
  assert.equal(snap.discovery, undefined);
  assert.equal(judgeReadiness(snap, "node").ok, true);
  assert.equal(judgeReadiness(snap, "meshed").ok, false);
});

Deno.test("takeSnapshot() rejects with the signal's reason when aborted", async () => {
  const ctl = new AbortController();
  const { options } = setup({
    signal: ctl.signal,
    local: () => {
      ctl.abort(new Error("stop"));
      return Promise.resolve({ node: A, connected: [] });
    },
  });
  await assert.rejects(takeSnapshot(options), /stop/);
});

function cycle(extra: Partial<CycleReport> = {}): CycleReport {
  return {
    at: 5,
    durationMs: 1,
    ok: true,
    local: A,
    discovered: [],
    connected: [],
    missing: [],
    attempted: [],
    stale: false,
    dnsQueries: 1,
    epmdQueries: 1,
    rpcs: 1,
    ...extra,
  };
}

Deno.test("snapshotOfCycle() never takes zero peers for success when the cycle does not say what discovery found", () => {
  const snap = snapshotOfCycle(cycle(), { localLabel: A });
  assert.equal(snap.verdict.code, "DISCOVERY_FAILED");
  assert.equal(judgeReadiness(snap, "meshed").ok, false);
});

Deno.test("snapshotOfCycle() with discovery facts: ALONE when only this node was found", () => {
  const facts = { source: "static list", hosts: ["127.0.0.1"], hostFailures: [], selfFound: true };
  const alone = snapshotOfCycle({ ...cycle(), ...facts }, { localLabel: A });
  assert.equal(alone.verdict.code, "ALONE");
  assert.equal(judgeReadiness(alone, "meshed").ok, true);
  const missing = snapshotOfCycle({
    ...cycle({
      discovered: [B, C],
      connected: [B],
      missing: [{ node: C, code: "TIMEOUT", reason: "no answer" }],
    }),
    ...facts,
  }, { localLabel: A });
  assert.equal(missing.verdict.code, "MISSING_PEERS");
  assert.deepEqual(missing.peers[1], { node: C, state: "missing", code: "TIMEOUT", reason: "no answer" });
  const down = snapshotOfCycle(cycle({ ok: false, error: "Cannot reach the local node: refused" }), {
    localLabel: A,
  });
  assert.equal(down.verdict.code, "LOCAL_DOWN");
});
