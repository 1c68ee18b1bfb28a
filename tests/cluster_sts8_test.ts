import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { type Agent, cookieFile, mesh, runningNodes, startAgent, waitFullMesh } from "./_sim.ts";

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP StatefulSet of 8: ${why}`);

Deno.test({
  name: "StatefulSet of 8 (SRV, more than fits one small UDP answer): full mesh",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 8, kind: "statefulset" });
    const cookie = await cookieFile(cluster);
    const agents: Agent[] = [];
    try {
      await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
      for (const p of cluster.pods) agents.push(startAgent(cluster, p));
      const m = await waitFullMesh(cluster, cookie, runningNodes(cluster), 60000);
      assert.ok(m?.fullMesh && m.nodes.length === 8, JSON.stringify(m));
      const viaSrv = await mesh(cluster, cookie);
      assert.equal(viaSrv.json?.nodes.length, 8, viaSrv.stderr);
      assert.equal(viaSrv.code, 0);
      for (const p of cluster.pods) assert.equal(await p.node!.eval("length(nodes())."), "7");
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
      await Deno.remove(cookie.replace(/\/cookie$/, ""), { recursive: true });
    }
  },
});
