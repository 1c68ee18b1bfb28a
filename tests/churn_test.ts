// A short run of the churn and soak benchmark (bench/churn.ts; `deno task bench churn` is the long one):
// random kills, partitions and scaling over a simulated StatefulSet, with the article's loop beside the
// agents; every event ends in a full mesh, and the agents hold no connection but the one to their node.
// Root, OTP 25, unbound, iproute2, iptables.
import assert from "node:assert/strict";
import { clusterUnavailableReason } from "./_harness/mod.ts";
import { benchChurn } from "../bench/churn.ts";

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP churn and soak: ${why}`);

type EventResult = { kind: string; ms: number | null };
type Sample = { rssMb: number; fds: number; tcp: number; established: number };

Deno.test({
  name:
    "churn: 12 random events over 5 pods end in a full mesh for the agents (and the loop); soak: the agents' " +
    "file descriptors stay flat and each holds one connection, to its node, once quiet",
  ignore: why !== undefined,
  async fn() {
    const r = await benchChurn([
      "--events=12",
      "--pods=5",
      "--soak-pods=3",
      "--soak-minutes=0.5",
      "--seed=7",
    ]);
    const churn = r.churn as Record<"loop" | "agent", EventResult[]>;
    assert.equal(churn.agent.length, 12);
    assert.deepEqual(churn.agent.filter((e) => e.ms === null), [], "every event re-meshed with the agents");
    assert.deepEqual(churn.loop.filter((e) => e.ms === null), [], "and with the loop");
    const soak = r.soak as { samples: Sample[][]; final: Sample[]; events: number; timeouts: string[] };
    assert.ok(soak.events >= 2, `${soak.events} soak events`);
    assert.deepEqual(soak.timeouts, []);
    for (const [i, f] of soak.final.entries()) {
      assert.equal(f.established, 1, `agent ${i}: connections once quiet`);
      assert.ok(f.fds <= soak.samples[0][i].fds + 2, `agent ${i}: fds ${soak.samples[0][i].fds} → ${f.fds}`);
    }
  },
});
