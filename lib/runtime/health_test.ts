import assert from "node:assert/strict";
import type { CycleDiscoveryFacts, CycleReport, Reconciler } from "../cluster/mod.ts";
import { judge } from "./health.ts";

const A = "a@127.0.0.1", B = "b@127.0.0.1";

/** The parts of a Reconciler that judge() reads, after one cycle that ended now. */
function reconcilerAfter(report: CycleReport & Partial<CycleDiscoveryFacts>): Reconciler {
  return {
    last: report,
    lastSuccessAt: report.ok ? Date.now() : 0,
    link: { name: A },
    source: { description: "DNS SRV _epmd._tcp.app.test." },
  } as unknown as Reconciler;
}

function cycle(
  extra: Partial<CycleReport & CycleDiscoveryFacts> = {},
): CycleReport & Partial<CycleDiscoveryFacts> {
  return {
    at: Date.now(),
    durationMs: 1,
    ok: true,
    local: A,
    discovered: [],
    connected: [],
    missing: [],
    attempted: [],
    stale: false,
    dnsQueries: 1,
    epmdQueries: 0,
    rpcs: 1,
    ...extra,
  };
}

Deno.test("judge() readiness meshed is not ready when the cycle discovered nothing and says why", () => {
  // A failed DNS lookup: no hosts. Before, zero missing peers passed as "connected to all 0".
  const failed = judge(
    "readiness",
    reconcilerAfter(cycle({
      source: "DNS SRV _epmd._tcp.app.test.",
      hosts: [],
      hostFailures: [],
      selfFound: false,
      discoveryError: { code: "TIMEOUT", message: "Cannot resolve '_epmd._tcp.app.test.' SRV: no answer" },
    })),
    "meshed",
    5000,
  );
  assert.equal(failed.ok, false);
  assert.match(failed.detail, /discovery failed .*no answer/);
  // A cycle that does not report what discovery answered is not taken on trust either.
  assert.equal(judge("readiness", reconcilerAfter(cycle()), "meshed", 5000).ok, false);
  // An empty answer (no records).
  const empty = judge(
    "readiness",
    reconcilerAfter(cycle({
      hosts: [],
      hostFailures: [],
      selfFound: false,
      discoveryError: { code: "NXDOMAIN_OR_NODATA", message: "no records" },
    })),
    "meshed",
    5000,
  );
  assert.equal(empty.ok, false);
  assert.match(empty.detail, /lists no hosts/);
});

Deno.test("judge() readiness meshed is ready for pod 0 alone in the answer, and when meshed", () => {
  const alone = judge(
    "readiness",
    reconcilerAfter(cycle({ hosts: ["app-0.app.test"], hostFailures: [], selfFound: true })),
    "meshed",
    5000,
  );
  assert.deepEqual(alone.ok, true, alone.detail);
  assert.match(alone.detail, /^a@127\.0\.0\.1: Alone: /);
  const meshed = judge(
    "readiness",
    reconcilerAfter(
      cycle({ discovered: [B], connected: [B], hosts: ["127.0.0.1"], hostFailures: [], selfFound: true }),
    ),
    "meshed",
    5000,
  );
  assert.equal(meshed.ok, true, meshed.detail);
});

Deno.test("judge() readiness K counts discovered peers connected; node needs only a fresh answer", () => {
  const r = reconcilerAfter(cycle({ discovered: [B], connected: [B, "x@10.0.0.1"] }));
  assert.equal(judge("readiness", r, 1, 5000).ok, true);
  assert.equal(judge("readiness", r, 2, 5000).ok, false);
  assert.equal(judge("readiness", r, "node", 5000).ok, true);
  assert.equal(judge("liveness", r, "meshed", 5000).ok, true);
  const stale = { ...r, lastSuccessAt: Date.now() - 10_000 } as unknown as Reconciler;
  assert.equal(judge("readiness", stale, "node", 5000).ok, false);
});
