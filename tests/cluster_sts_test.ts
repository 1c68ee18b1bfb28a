import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { type Agent, cookieFile, erlmeshIn, mesh, runningNodes, startAgent, waitFullMesh } from "./_sim.ts";
import { parsePrometheus, sampleValue } from "./_prom.ts";
import { waitUntil } from "./_harness/wait.ts";

const HTTP = ["--http", "127.0.0.1:9090", "--readiness", "meshed"];

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP StatefulSet cluster scenarios: ${why}`);

Deno.test({
  name:
    "StatefulSet of 3 (SRV): full mesh; scale out by 2 and in by 2; pod restart; node restart under its agent",
  ignore: why !== undefined,
  async fn(t) {
    await using cluster = await createCluster({ pods: 3, kind: "statefulset" });
    const cookie = await cookieFile(cluster);
    const agents = new Map<string, Agent>();
    try {
      await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
      for (const p of cluster.pods) {
        agents.set(p.name, startAgent(cluster, p, { args: ["--service", cluster.service, ...HTTP] }));
      }

      await t.step("the 3 pods form a full mesh", async () => {
        const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
        assert.ok(m?.fullMesh, JSON.stringify(m));
        const viaSrv = await mesh(cluster, cookie);
        assert.equal(viaSrv.code, 0, viaSrv.stderr);
        assert.deepEqual(viaSrv.json?.nodes.map((n) => n.node), runningNodes(cluster));
      });

      await t.step("probes pass and /metrics parses and matches the mesh", async () => {
        for (const p of cluster.pods) {
          for (const kind of ["readiness", "liveness", "startup"]) {
            const viaHttp = await erlmeshIn(cluster, p, ["probe", kind, "--http", "127.0.0.1:9090"]);
            assert.equal(viaHttp.code, 0, `${p.name} ${kind}: ${viaHttp.stdout}${viaHttp.stderr}`);
          }
          const direct = await erlmeshIn(cluster, p, [
            "probe",
            "readiness",
            "--node",
            p.nodeName,
            "--service",
            cluster.service,
            "--readiness",
            "meshed",
          ]);
          assert.equal(direct.code, 0, `${p.name} direct readiness: ${direct.stdout}${direct.stderr}`);
          const scrape = await erlmeshIn(cluster, p, ["probe", "metrics"], "http://127.0.0.1:9090/metrics");
          const { samples, types } = parsePrometheus(scrape.stdout);
          assert.equal(types.get("erlmesh_connect_failures_total"), "counter");
          assert.equal(types.get("erlmesh_cycle_duration_seconds"), "histogram");
          assert.equal(sampleValue(samples, "erlmesh_discovered_peers"), 2);
          assert.equal(sampleValue(samples, "erlmesh_connected_peers"), 2);
          assert.equal(sampleValue(samples, "erlmesh_missing_peers"), 0);
          assert.equal(sampleValue(samples, "erlmesh_local_node_up"), 1);
          assert.ok((sampleValue(samples, "erlmesh_cycles_total") ?? 0) >= 1);
          assert.ok(!scrape.stdout.includes(cluster.cookie), "no cookie in metrics");
        }
      });

      await t.step("erlmesh stays hidden: no node lists an agent in nodes()", async () => {
        for (const p of cluster.pods) {
          const visible = await p.node!.eval("nodes().");
          assert.ok(!visible.includes("erlmesh-"), visible);
        }
      });

      await t.step("scale out by 2: the new pods join", async () => {
        for (let i = 0; i < 2; i++) {
          const p = await cluster.addPod();
          await cluster.publish();
          await cluster.startNode(p);
          agents.set(p.name, startAgent(cluster, p));
        }
        const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
        assert.ok(m?.fullMesh && m.nodes.length === 5, JSON.stringify(m));
      });

      await t.step("scale in by 2: the removed nodes are gone and nobody keeps dialling them", async () => {
        const removed = cluster.pods.slice(-2);
        for (const p of removed) {
          p.ready = false;
          await cluster.publish();
          await agents.get(p.name)!.stop();
          agents.delete(p.name);
          await cluster.removePod(p);
        }
        const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
        assert.ok(m?.fullMesh && m.nodes.length === 3, JSON.stringify(m));
        for (const p of cluster.pods) {
          const conn = await p.node!.eval("nodes().");
          for (const r of removed) assert.ok(!conn.includes(r.nodeName), conn);
        }
        // Once every agent that had found a removed node has seen it go (peer_gone), none attempts it any more.
        // An agent whose DNS lookups (at most every 500 ms, not hurried by other pods' changes) never saw a
        // short-lived pod never found it, so it has nothing to forget and never dials it.
        const found = (a: Agent, node: string) =>
          a.events().some((e) => e.event === "peer_found" && e.node === node);
        await waitUntil(
          () =>
            [...agents.values()].every((a) =>
              removed.every((r) =>
                !found(a, r.nodeName) ||
                a.events().some((e) => e.event === "peer_gone" && e.node === r.nodeName)
              )
            ),
          {
            timeoutMs: 20000,
            intervalMs: 100,
            what: "peer_gone of the removed nodes from every agent that found them",
          },
        );
        const mark = new Map([...agents].map(([k, a]) => [k, a.events().length]));
        // An observation window: time must pass for a dial that should not happen to show.
        await new Promise((r) => setTimeout(r, 2000));
        for (const [k, a] of agents) {
          const later = a.events().slice(mark.get(k));
          const dialled = later.filter((e) =>
            e.event === "connect_failed" && removed.some((r) => r.nodeName === e.node)
          );
          assert.deepEqual(dialled, [], `${k} still dials removed nodes`);
        }
      });

      await t.step("one pod restarted (node and agent): it rejoins", async () => {
        const p = cluster.pods[1];
        await agents.get(p.name)!.stop();
        await cluster.stopNode(p);
        await cluster.startNode(p);
        agents.set(p.name, startAgent(cluster, p));
        const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
        assert.ok(m?.fullMesh, JSON.stringify(m));
      });

      await t.step("one node restarted under its running agent: it rejoins", async () => {
        const p = cluster.pods[2];
        await cluster.stopNode(p);
        await cluster.startNode(p);
        const m = await waitFullMesh(cluster, cookie, runningNodes(cluster));
        assert.ok(m?.fullMesh, JSON.stringify(m));
        const a = agents.get(p.name)!;
        await a.waitEvent((e) => e.event === "local_down", "the agent noticing its node went down");
        await waitUntil(() => a.events().filter((e) => e.event === "local_up").length >= 2, {
          what: `${p.name}'s agent seeing its node come back`,
        });
      });
    } finally {
      await Promise.all([...agents.values()].map((a) => a.stop()));
      await Deno.remove(cookie.replace(/\/cookie$/, ""), { recursive: true });
    }
  },
});
