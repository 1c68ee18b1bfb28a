/**
 * Agents with `--discovery kubernetes` in a simulated StatefulSet: the test API server (tests/_kubeapi.ts)
 * runs in the cluster's node namespace on the gateway address, which every pod reaches, and lists a pod
 * when it is Ready and as terminating when it is being deleted, as the EndpointSlice controller does.
 * Run under the heavy lock: `flock /tmp/erlmesh-heavy.lock deno test -A tests/cluster_kubernetes_test.ts`.
 */
import assert from "node:assert/strict";
import { type ClusterPod, clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { type Agent, cookieFile, runningNodes, startAgent, waitFullMesh } from "./_sim.ts";
import { type PodEndpoint, startKubeApiIn } from "./_kubeapi.ts";
import { hasOpenssl } from "./_harness/tls.ts";
import { tempPrefix } from "./_harness/prefix.ts";
import { waitUntil } from "./_harness/wait.ts";

const why = clusterUnavailableReason(["25"]) ?? (hasOpenssl() ? undefined : "openssl is not installed");
if (why) console.warn(`SKIP Kubernetes API discovery cluster scenarios: ${why}`);

Deno.test({
  name: "StatefulSet of 3 with discovery kubernetes: formation, scale out and in, rolling restart, " +
    "watch cut, token rotation, 403 with and without DNS fallback",
  ignore: why !== undefined,
  async fn(t) {
    await using cluster = await createCluster({ pods: 3, kind: "statefulset" });
    await using api = await startKubeApiIn(cluster.network, "node", {
      hostname: cluster.network.gateway,
      namespace: cluster.namespace,
      tokens: ["token-1"],
      bookmarkMs: 2000,
    });
    const cookie = await cookieFile(cluster);
    const sa = await Deno.makeTempDir({ prefix: tempPrefix("sa") });
    await Deno.copyFile(api.caFile, `${sa}/ca.crt`);
    await Deno.writeTextFile(`${sa}/token`, "token-1");
    const port = new URL(api.url).port;
    const agents = new Map<string, Agent>();
    /** Pods being deleted: listed as terminating until removed. */
    const terminating = new Set<string>();
    const publish = () =>
      api.setPods(
        cluster.service,
        cluster.pods.filter((p) => p.ready).map((p): PodEndpoint => ({
          name: p.name,
          hostname: p.name,
          ip: p.ip,
          ready: true,
          terminating: terminating.has(p.name),
        })),
      );
    const start = (p: ClusterPod, extra: string[] = []) => {
      agents.set(
        p.name,
        startAgent(cluster, p, {
          args: [
            "--discovery",
            "kubernetes",
            "--service",
            cluster.service,
            "--service-account-dir",
            sa,
            ...extra,
          ],
          env: { KUBERNETES_SERVICE_HOST: cluster.network.gateway, KUBERNETES_SERVICE_PORT: port },
        }),
      );
    };
    const events = (p: ClusterPod, type: string, node?: string) =>
      agents.get(p.name)!.events().filter((e) => e.event === type && (node === undefined || e.node === node));
    const meshed = async (what: string) => {
      const m = await waitFullMesh(cluster, cookie, runningNodes(cluster), 30000);
      assert.ok(
        m?.fullMesh && m.nodes.length === runningNodes(cluster).length,
        `${what}: ${JSON.stringify(m)}`,
      );
    };
    /** Every running agent has its watch open (an agent process takes a moment to start). */
    const watching = () =>
      waitUntil(async () => (await api.stats()).open >= agents.size, { what: "a watch open per agent" });
    const scaleOut = async () => {
      const p = await cluster.addPod();
      await cluster.startNode(p);
      start(p);
      await publish(); // Ready: the kubelet's probe passed, the controller lists it
      await cluster.publish();
      return p;
    };
    try {
      await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
      for (const p of cluster.pods) start(p);
      await publish();

      await t.step("the 3 pods form a full mesh from one list and one watch each", async () => {
        await meshed("formation");
        for (const p of cluster.pods) {
          // The start line waits in memory until the agent's logger has loaded (after its first pass).
          const said = () =>
            agents.get(p.name)!.log().includes(
              "discovering peers through Kubernetes EndpointSlices of Service 'app'",
            );
          await waitUntil(said, { what: `${p.name}'s start line` }).catch(() => {});
          assert.ok(said(), agents.get(p.name)!.log());
        }
        const s = await api.stats();
        assert.equal(s.lists, 3, JSON.stringify(s));
        assert.equal(s.unauthorized + s.forbidden + s.gone, 0, JSON.stringify(s));
      });

      await t.step("scale out by 1: the new pod is meshed as soon as it is listed", async () => {
        const p = await scaleOut();
        await meshed("scale out");
        for (const q of cluster.pods.filter((q) => q !== p)) {
          await waitUntil(() => events(q, "peer_found", p.nodeName).length > 0, {
            what: `${q.name} finding ${p.name}`,
          });
        }
      });

      await t.step(
        "scale in by 1: the terminating pod is dropped at once and never dialled again",
        async () => {
          const p = cluster.pods.at(-1)!;
          terminating.add(p.name);
          await publish(); // deletion starts: terminating, while its node still runs
          const others = cluster.pods.filter((q) => q !== p);
          await waitUntil(() => others.every((q) => events(q, "peer_gone", p.nodeName).length > 0), {
            what: `peer_gone of ${p.nodeName} from every other agent`,
          });
          const mark = new Map(others.map((q) => [q.name, agents.get(q.name)!.events().length]));
          await agents.get(p.name)!.stop();
          agents.delete(p.name);
          await cluster.removePod(p);
          terminating.delete(p.name);
          await publish();
          await cluster.publish();
          await meshed("scale in");
          for (const q of others) {
            const later = agents.get(q.name)!.events().slice(mark.get(q.name));
            const dialled = later.filter((e) =>
              (e.event === "connect_failed" || e.event === "connect_attempt") && e.node === p.nodeName
            );
            assert.deepEqual(dialled, [], `${q.name} dialled the terminating pod`);
          }
        },
      );

      await t.step("rolling restart: each pod terminating, deleted, back Ready; the mesh heals", async () => {
        for (const p of [...cluster.pods].reverse()) {
          terminating.add(p.name);
          await publish();
          await agents.get(p.name)!.stop();
          await cluster.stopNode(p);
          p.ready = false;
          terminating.delete(p.name);
          await publish();
          await cluster.startNode(p);
          start(p);
          p.ready = true;
          await publish();
          await meshed(`after restarting ${p.name}`);
        }
      });

      await t.step("a watch cut in the middle: the agents resume from their resource version", async () => {
        await watching();
        const before = await api.stats();
        const cut = await api.cutWatches();
        assert.ok(cut >= cluster.pods.length, `${cut} watches cut: ${JSON.stringify(before)}`);
        const p = await scaleOut();
        await meshed("after the cut");
        for (const q of cluster.pods.filter((q) => q !== p)) {
          await waitUntil(() => events(q, "peer_found", p.nodeName).length > 0, {
            what: `${q.name} finding ${p.name}`,
          });
        }
        const after = await api.stats();
        assert.equal(
          after.lists - before.lists,
          1,
          `only the new pod lists: ${JSON.stringify([before, after])}`,
        );
        assert.equal(after.gone, 0);
      });

      await t.step("the token rotated: the agents read the new one, nothing is refused", async () => {
        await Deno.writeTextFile(`${sa}/token`, "token-2");
        await api.setTokens(["token-1", "token-2"]);
        await api.setTokens(["token-2"]);
        await watching();
        await api.cutWatches();
        const p = cluster.pods.at(-1)!;
        terminating.add(p.name);
        await publish();
        const others = cluster.pods.filter((q) => q !== p);
        await waitUntil(() => others.every((q) => events(q, "peer_gone", p.nodeName).length > 0), {
          what: "the change seen through watches with the new token",
        }).catch(async (err) => {
          console.error(JSON.stringify(await api.stats()));
          for (const q of others) console.error(q.name, agents.get(q.name)!.log().slice(-3000));
          throw err;
        });
        await agents.get(p.name)!.stop();
        agents.delete(p.name);
        await cluster.removePod(p);
        terminating.delete(p.name);
        await publish();
        await cluster.publish();
        assert.equal((await api.stats()).unauthorized, 0);
        await meshed("after the rotation");
      });

      await t.step("403: the agents name the missing permission and keep the mesh they have", async () => {
        await watching();
        await api.setForbidden(true);
        await api.cutWatches();
        for (const q of cluster.pods) {
          const failed = await waitUntil(
            () => events(q, "discovery_failed").find((e) => e.code === "FORBIDDEN"),
            { what: `${q.name} reporting the 403` },
          );
          assert.match(
            String(failed.reason),
            /^Cannot watch endpointslices\.discovery\.k8s\.io in namespace 'default': .*verbs 'list' and 'watch' on resource 'endpointslices' in API group 'discovery\.k8s\.io'/,
          );
        }
        await meshed("while forbidden");
      });

      await t.step("403 with kubernetesFallback srv: a new pod finds its peers through DNS", async () => {
        const p = await cluster.addPod();
        await cluster.startNode(p);
        await cluster.publish();
        start(p, ["--kubernetes-fallback", "srv"]);
        await meshed("through the DNS fallback");
        // The agent logs the 403 before it connects anything, but its log reaches this test through a
        // pipe that may lag the observer's view of the mesh: wait for the line rather than assume it.
        await waitUntil(() => events(p, "discovery_failed").some((e) => e.code === "FORBIDDEN"), {
          what: `${p.name} reporting the 403 it fell back from`,
        }).catch((err) => {
          console.error(JSON.stringify(events(p, "discovery_failed")));
          throw err;
        });
        await api.setForbidden(false);
        await publish();
        await waitUntil(() => events(p, "discovery_recovered").length > 0, {
          what: "the API answering again",
        });
      });

      await t.step("no cookie in any agent's log", () => {
        for (const a of agents.values()) assert.ok(!a.log().includes(cluster.cookie), a.pod.name);
      });
    } finally {
      await Promise.all([...agents.values()].map((a) => a.stop()));
      await Deno.remove(cookie.replace(/\/cookie$/, ""), { recursive: true });
      await Deno.remove(sa, { recursive: true });
    }
  },
});
