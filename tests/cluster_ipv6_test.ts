/**
 * The simulated cluster in its IPv6-only mode (`ipFamily: 6`): pods with a ULA address only, Unbound
 * answering AAAA and SRV on IPv6, nodes of OTP 25, 27 and 29 with `-proto_dist inet6_tcp` and EPMD on
 * `[::]`, erlmesh agents told `inet6_tcp` by flag or by environment. Starts namespaces, Unbound and
 * several nodes: run it under `flock /tmp/erlmesh-heavy.lock`.
 */
import assert from "node:assert/strict";
import {
  type Cluster,
  type ClusterOptions,
  clusterUnavailableReason,
  createCluster,
  ipv6UnavailableReason,
  type OtpVersion,
} from "./_harness/mod.ts";
import {
  type Agent,
  cookieFile,
  erlmeshIn,
  mesh,
  partitionUntilDropped,
  runningNodes,
  startAgent,
  stopAgents,
  waitFullMesh,
} from "./_sim.ts";

const VERSIONS: OtpVersion[] = ["25", "27", "29"];
const why = ipv6UnavailableReason() ?? clusterUnavailableReason(VERSIONS);
if (why) console.warn(`SKIP the IPv6-only cluster scenarios: ${why}`);

/** What `erlmesh mesh` needs to reach inet6_tcp nodes. */
const INET6 = ["--proto-dist", "inet6_tcp"];
const TICKTIME = 4; // seconds: a partition longer than this drops the links

/**
 * An IPv6-only cluster of one pod per version, every node started, an agent per pod (from `agentFor`),
 * handed to `body` with the cookie file; agents and cookie are cleaned up after it.
 */
async function withIpv6Cluster(
  options: Omit<ClusterOptions, "pods" | "ipFamily" | "otpVersions">,
  agentFor: (cluster: Cluster) => Parameters<typeof startAgent>[2],
  body: (cluster: Cluster, cookie: string, agents: Agent[]) => Promise<void>,
): Promise<void> {
  await using cluster = await createCluster({
    ...options,
    pods: VERSIONS.length,
    ipFamily: 6,
    otpVersions: VERSIONS,
  });
  const cookie = await cookieFile(cluster);
  const agents: Agent[] = [];
  try {
    await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
    for (const p of cluster.pods) agents.push(startAgent(cluster, p, agentFor(cluster)));
    await body(cluster, cookie, agents);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : e}\n${agents.map((a) => a.log()).join("\n---\n")}`, {
      cause: e,
    });
  } finally {
    await stopAgents(agents, cookie);
  }
}

/** Waits for a full mesh of the running nodes, seen by `erlmesh mesh` from the observer pod. */
async function assertFullMesh(cluster: Cluster, cookie: string, timeoutMs?: number): Promise<void> {
  const nodes = runningNodes(cluster);
  const m = await waitFullMesh(cluster, cookie, nodes, timeoutMs, INET6);
  assert.ok(m?.fullMesh && m.nodes.length === nodes.length, JSON.stringify(m));
}

Deno.test({
  name: "IPv6-only StatefulSet of 3 (OTP 25, 27, 29; SRV → AAAA): full mesh; scale out by one; " +
    "a partitioned pod heals back",
  ignore: why !== undefined,
  async fn(t) {
    const nodeArgs = ["-kernel", "net_ticktime", String(TICKTIME)];
    await withIpv6Cluster(
      { kind: "statefulset", nodeArgs },
      (c) => ({ args: ["--service", c.service, ...INET6] }),
      async (cluster, cookie, agents) => {
        await t.step("pods have IPv6 addresses only and the nodes run inet6_tcp", async () => {
          for (const p of cluster.pods) {
            assert.match(p.ip, /^fd00:[0-9a-f]+:[0-9a-f]+::[0-9a-f]+$/);
            const v4 = await cluster.network.run(p.name, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
            assert.equal(v4.stdout.trim(), "", `${p.name} has an IPv4 address`);
            assert.equal(await p.node!.eval("init:get_argument(proto_dist)."), `{ok,[["inet6_tcp"]]}`);
          }
        });

        await t.step("the 3 pods form a full mesh; SRV discovery from the observer finds them", async () => {
          await assertFullMesh(cluster, cookie);
          const viaSrv = await mesh(cluster, cookie, undefined, INET6);
          assert.equal(viaSrv.code, 0, viaSrv.stderr);
          assert.deepEqual(viaSrv.json?.nodes.map((n) => n.node), runningNodes(cluster));
        });

        await t.step("scale out by one: the new pod joins", async () => {
          const p = await cluster.addPod({ version: "25" });
          await cluster.publish();
          await cluster.startNode(p);
          agents.push(startAgent(cluster, p, { args: ["--service", cluster.service, ...INET6] }));
          await assertFullMesh(cluster, cookie);
        });

        await t.step(
          "a pod partitioned (ip6tables) until dropped, then healed: the mesh re-forms",
          async () => {
            const cut = cluster.pods[1];
            await partitionUntilDropped(cluster, cut, TICKTIME * 5000);
            await cluster.network.heal(cut.name);
            await assertFullMesh(cluster, cookie, 30000);
            const left = agents[0].events().filter((e) => e.event === "leave" && e.node === cut.nodeName);
            assert.equal(left.length, 1, "the departure is logged once");
          },
        );
      },
    );
  },
});

Deno.test({
  name: "IPv6-only Deployment of 3 (OTP 25, 27, 29; AAAA records, nodes named app@<IPv6>): discovery " +
    "(discover and wait with --proto-dist) names the nodes as they named themselves; full mesh",
  ignore: why !== undefined,
  async fn() {
    await withIpv6Cluster(
      { kind: "deployment" },
      (c) => ({
        args: ["--service", c.service, "--discovery", "a"],
        env: { ERLMESH_PROTO_DIST: "inet6_tcp" },
      }),
      async (cluster, cookie) => {
        for (const p of cluster.pods) {
          assert.equal(p.nodeName, `app@${p.ip}`);
          assert.equal(await p.node!.eval("node()."), `'${p.nodeName}'`);
        }
        // As CoreDNS answers in an IPv6-only cluster: dashed-IPv6 SRV targets with AAAA records, no A.
        const dig = async (type: string, name: string) =>
          (await cluster.network.run(cluster.pods[0].name, ["dig", "+short", type, name])).stdout
            .split("\n").filter((l) => l).map((l) => l.split(" ").at(-1)!).sort();
        const dashed = cluster.pods.map((p) => `${p.ip.replaceAll(":", "-")}.${cluster.serviceFqdn}.`);
        assert.deepEqual(await dig("SRV", `_epmd._tcp.${cluster.serviceFqdn}`), dashed.sort());
        assert.deepEqual(await dig("AAAA", cluster.pods[0].fqdn), [cluster.pods[0].ip]);
        assert.deepEqual(await dig("A", cluster.serviceFqdn), []);
        const found = await erlmeshIn(cluster, cluster.pods[0], [
          "discover",
          "--service",
          cluster.service,
          "--discovery",
          "a",
          ...INET6,
          "-o",
          "json",
        ]);
        assert.equal(found.code, 0, found.stdout + found.stderr);
        for (const p of cluster.pods) assert.ok(found.stdout.includes(`"${p.nodeName}"`), found.stdout);
        const waited = await erlmeshIn(cluster, cluster.pods[1], [
          "wait",
          "--epmd",
          "--peers",
          "2",
          "--node",
          cluster.pods[1].nodeName,
          "--discovery",
          "a",
          "--service",
          cluster.service,
          ...INET6,
          "--timeout",
          "20s",
        ]);
        assert.equal(waited.code, 0, waited.stdout + waited.stderr);
        await assertFullMesh(cluster, cookie);
      },
    );
  },
});
