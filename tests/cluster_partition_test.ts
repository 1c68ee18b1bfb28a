import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { meshedAgents, partitionUntilDropped, runningNodes, waitFullMesh } from "./_sim.ts";

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP partition scenario: ${why}`);

const TICKTIME = 4; // seconds: a partition longer than this drops the links

Deno.test({
  name: "a partition of one pod longer than net_ticktime, then healed: the mesh re-forms",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({
      pods: 3,
      kind: "statefulset",
      nodeArgs: ["-kernel", "net_ticktime", String(TICKTIME)],
    });
    await using sim = await meshedAgents(cluster);
    const { cookie, agents } = sim;

    const cut = cluster.pods[2];
    // Until the others have dropped it (net_ticktime).
    await partitionUntilDropped(cluster, cut, TICKTIME * 5000);
    // The partition lasts a while on purpose (agents keep failing to reach it): time passing is the point.
    await new Promise((r) => setTimeout(r, 1500));
    await cluster.network.heal(cut.name);

    const m = await waitFullMesh(cluster, cookie, runningNodes(cluster), 30000);
    assert.ok(m?.fullMesh, `${JSON.stringify(m)}\n${sim.logs()}`);
    const left = agents[0].events().filter((e) => e.event === "leave" && e.node === cut.nodeName);
    assert.equal(left.length, 1, "the departure is logged once");
    const failed = agents[0].events().filter((e) => e.event === "connect_failed" && e.node === cut.nodeName);
    assert.ok(
      failed.length >= 1 && failed.length <= 3,
      `failures are logged once per reason, not per attempt: ${failed.length}`,
    );
  },
});
