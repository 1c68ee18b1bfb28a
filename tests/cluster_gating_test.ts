import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { mesh, meshedAgents, runningNodes, startAgent, waitFullMesh } from "./_sim.ts";

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP readiness gating scenario: ${why}`);

Deno.test({
  name:
    "readiness gating: an unpublished pod meshes with the listed peers; late records, one by one, end in a full mesh",
  ignore: why !== undefined,
  async fn(t) {
    await using cluster = await createCluster({ pods: 2, kind: "statefulset" });
    await using sim = await meshedAgents(cluster);
    const { cookie, agents } = sim;

    await t.step("a new pod not yet in DNS meshes with the listed peers", async () => {
      const p = await cluster.addPod({ ready: false });
      await cluster.publish();
      await cluster.startNode(p);
      agents.push(startAgent(cluster, p));
      // Its name is not in DNS, so nobody can look it up: check from the nodes themselves.
      const peers = cluster.pods.filter((x) => x !== p).map((x) => x.nodeName);
      const end = Date.now() + 20000;
      let seen = "";
      while (Date.now() < end) {
        seen = await p.node!.eval("lists:sort(nodes()).");
        if (peers.every((n) => seen.includes(n))) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(peers.every((n) => seen.includes(n)), `the unpublished pod is connected to ${seen}`);
      for (const x of cluster.pods.filter((x) => x !== p)) {
        assert.ok((await x.node!.eval("nodes().")).includes(p.nodeName), `${x.name} sees the new pod`);
      }
      const srv = await mesh(cluster, cookie);
      assert.ok(!srv.json?.nodes.some((n) => n.node === p.nodeName), "the pod is still not published");
      await cluster.setReady(p, true);
    });

    await t.step("records published late, one by one, still end in a full mesh", async () => {
      const late = [await cluster.addPod({ ready: false }), await cluster.addPod({ ready: false })];
      await cluster.publish();
      await Promise.all(late.map((p) => cluster.startNode(p)));
      for (const p of late) agents.push(startAgent(cluster, p));
      for (const p of late) {
        // Spaced on purpose (records published one by one, cycles apart): time passing is the point.
        await new Promise((r) => setTimeout(r, 700));
        await cluster.setReady(p, true);
      }
      const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
      assert.ok(m?.fullMesh && m.nodes.length === 5, JSON.stringify(m));
      const srv = await mesh(cluster, cookie);
      assert.equal(srv.code, 0, JSON.stringify(srv.json));
    });
  },
});
