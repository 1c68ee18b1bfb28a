import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { mesh, meshedAgents } from "./_sim.ts";

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP StatefulSet of 8: ${why}`);

Deno.test({
  name: "StatefulSet of 8 (SRV, more than fits one small UDP answer): full mesh",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 8, kind: "statefulset" });
    await using sim = await meshedAgents(cluster, () => ({}), 60000);
    const { cookie } = sim;
    const viaSrv = await mesh(cluster, cookie);
    assert.equal(viaSrv.json?.nodes.length, 8, viaSrv.stderr);
    assert.equal(viaSrv.code, 0);
    for (const p of cluster.pods) assert.equal(await p.node!.eval("length(nodes())."), "7");
  },
});
