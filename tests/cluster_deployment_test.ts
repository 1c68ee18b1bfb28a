import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { type Agent, cookieFile, runningNodes, startAgent, waitFullMesh } from "./_sim.ts";

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP Deployment scenario: ${why}`);

Deno.test({
  name: "Deployment of 3 (A records, nodes named by IP): full mesh",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 3, kind: "deployment" });
    const cookie = await cookieFile(cluster);
    const agents: Agent[] = [];
    try {
      assert.match(cluster.pods[0].nodeName, /^app@10\.\d+\.\d+\.\d+$/);
      await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
      for (const p of cluster.pods) {
        agents.push(startAgent(cluster, p, { args: ["--service", cluster.service, "--discovery", "a"] }));
      }
      const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
      assert.ok(m?.fullMesh && m.nodes.length === 3, JSON.stringify(m));
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
      await Deno.remove(cookie.replace(/\/cookie$/, ""), { recursive: true });
    }
  },
});
