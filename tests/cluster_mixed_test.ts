import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { type Agent, cookieFile, runningNodes, startAgent, waitFullMesh } from "./_sim.ts";

const VERSIONS = ["25", "27", "29"] as const;
const why = clusterUnavailableReason([...VERSIONS]);
if (why) console.warn(`SKIP mixed OTP versions scenario: ${why}`);

Deno.test({
  name: "mixed OTP 25, 27 and 29 pods in one cluster: full mesh",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 3, kind: "statefulset", otpVersions: [...VERSIONS] });
    const cookie = await cookieFile(cluster);
    const agents: Agent[] = [];
    try {
      await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
      for (const [i, p] of cluster.pods.entries()) {
        assert.equal(await p.node!.eval("erlang:system_info(otp_release)."), `"${VERSIONS[i]}"`);
        agents.push(startAgent(cluster, p));
      }
      const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
      assert.ok(m?.fullMesh && m.nodes.length === 3, JSON.stringify(m));
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
      await Deno.remove(cookie.replace(/\/cookie$/, ""), { recursive: true });
    }
  },
});
