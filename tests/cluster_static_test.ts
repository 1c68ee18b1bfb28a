import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { type Agent, cookieFile, runningNodes, startAgent, waitFullMesh } from "./_sim.ts";

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP static list scenario: ${why}`);

Deno.test({
  name:
    "static host list as in the article's docker-compose file (WORLD_LIST, ERLANG_NODENAME, CLUSTER_ERLANG_COOKIE): full mesh",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 3, kind: "statefulset" });
    const cookie = await cookieFile(cluster);
    const agents: Agent[] = [];
    try {
      await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
      // No DNS Service at all: the article's variables only, the list in its Erlang form.
      await cluster.dns.unpublish(cluster.service);
      const worldList = `[${cluster.pods.map((p) => `'${p.fqdn}'`).join(",")}]`;
      for (const p of cluster.pods) {
        // As in docker-compose, each host name resolves to its container (here: plain A records, no Service).
        agents.push(startAgent(cluster, p, {
          args: [],
          env: {
            WORLD_LIST: worldList,
            ERLANG_NODENAME: p.nodeName,
            CLUSTER_ERLANG_COOKIE: cluster.cookie,
            RELEASE_COOKIE: "",
          },
        }));
      }
      await cluster.dns.setZone(cluster.pods.map((p) => ({ name: `${p.fqdn}.`, type: "A", data: p.ip })));
      const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
      assert.ok(m?.fullMesh && m.nodes.length === 3, JSON.stringify(m));
      for (const a of agents) {
        const up = await a.waitEvent((e) => e.event === "local_up", "local_up");
        assert.equal(up.node, a.pod.nodeName, `the node name came from ERLANG_NODENAME: ${a.log()}`);
      }
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
      await Deno.remove(cookie.replace(/\/cookie$/, ""), { recursive: true });
    }
  },
});
