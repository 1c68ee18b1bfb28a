import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { meshedAgents, runningNodes, startAgent, waitFullMesh } from "./_sim.ts";

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP DNS outage scenario: ${why}`);

Deno.test({
  name: "DNS server stopped for 30 s in steady state: no disconnects, discovery resumes after",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 3, kind: "statefulset" });
    await using sim = await meshedAgents(
      cluster,
      () => ({ args: ["--service", cluster.service, "--interval", "1s"] }),
    );
    const { cookie, agents } = sim;

    await cluster.dns.pause();
    const end = Date.now() + 30000;
    while (Date.now() < end) {
      for (const p of cluster.pods) {
        assert.equal(await p.node!.eval("length(nodes())."), "2", "no node lost a peer");
      }
      // An observation window of 30 s, checked every 2 s: the outage must last for the point to hold.
      await new Promise((r) => setTimeout(r, 2000));
    }
    await cluster.dns.resume();

    // Discovery resumes: a pod added now is found by the old pods' agents through DNS.
    const p = await cluster.addPod();
    await cluster.publish();
    await cluster.startNode(p);
    agents.push(startAgent(cluster, p));
    const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
    assert.ok(m?.fullMesh && m.nodes.length === 4, JSON.stringify(m));
    const deadline = Date.now() + 15000;
    while (
      Date.now() < deadline &&
      !agents[0].events().some((e) => e.event === "peer_found" && e.node === p.nodeName)
    ) {
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const a of agents.slice(0, 3)) {
      const end = Date.now() + 15000;
      while (Date.now() < end && !a.events().some((e) => e.event === "discovery_recovered")) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const ev = a.events();
      assert.ok(
        ev.some((e) => e.event === "discovery_failed"),
        `${a.pod.name} noticed the outage:\n${a.log()}`,
      );
      assert.ok(
        ev.some((e) => e.event === "discovery_recovered"),
        `${a.pod.name} noticed its end:\n${a.log()}`,
      );
      assert.ok(!ev.some((e) => e.event === "leave"), `nobody left ${a.pod.name}`);
    }
    assert.ok(
      agents[0].events().some((e) => e.event === "peer_found" && e.node === p.nodeName),
      "old agents see the new pod in DNS",
    );
  },
});
