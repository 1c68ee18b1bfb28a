/**
 * The simulated StatefulSet without EPMD (issue 12): nodes of OTP 25, 27 and 29 started with no EPMD on one
 * distribution port (`ClusterOptions.distPort`), agents told the port (`--dist-port`); no EPMD listens in any
 * pod, so any EPMD request would fail.
 */
import assert from "node:assert/strict";
import { waitUntil } from "./_harness/wait.ts";
import {
  type Cluster,
  clusterUnavailableReason,
  createCluster,
  epmdNames,
  type OtpVersion,
} from "./_harness/mod.ts";
import {
  type Agent,
  cookieFile,
  erlmeshIn,
  partitionUntilDropped,
  runningNodes,
  startAgent,
  stopAgents,
  waitFullMesh,
} from "./_sim.ts";

const VERSIONS: OtpVersion[] = ["25", "27", "29"];
/** The distribution port of every node: not 4369, and nothing else listens on it. */
const DIST_PORT = 4370;
const DIST_ARGS = ["--dist-port", String(DIST_PORT)];
const TICKTIME = 4; // seconds: a partition longer than this drops the links
const HTTP = ["--http", "127.0.0.1:9090", "--readiness", "meshed"];

/** Whether a text mentions EPMD other than in the SRV query's name (the Service port is named `epmd`). */
const mentionsEpmd = (text: string) => /epmd/i.test(text.replaceAll("_epmd._tcp.", ""));

/** Waits for the running nodes (`n` of them) to form a full mesh as `mesh --dist-port` sees it. */
async function assertFullMesh(
  cluster: Cluster,
  cookie: string,
  agents: Agent[],
  n: number,
  timeoutMs?: number,
) {
  const m = await waitFullMesh(cluster, cookie, runningNodes(cluster), timeoutMs, DIST_ARGS);
  assert.ok(
    m?.fullMesh && m.nodes.length === n,
    `${JSON.stringify(m)}\n${agents.map((a) => a.log()).join("\n---\n")}`,
  );
}

/** No EPMD answers in any pod; each node runs the OTP release of its pod. */
async function assertNoEpmd(cluster: Cluster) {
  for (const p of cluster.pods) {
    assert.equal(await epmdNames(4369, p.netns), undefined, `an EPMD answers in '${p.name}'`);
    const release = await p.node!.eval("erlang:system_info(otp_release).");
    assert.equal(release, `"${p.version}"`, p.name);
  }
}

const why = clusterUnavailableReason(VERSIONS);
if (why) console.warn(`SKIP the EPMD-less cluster scenarios: ${why}`);

Deno.test({
  name:
    "EPMD-less StatefulSet of OTP 25, 27 and 29 (agents with --dist-port, no EPMD in any pod): full mesh; " +
    "scale out by one; a partitioned pod heals; status reports the peers connected and the agents never EPMD",
  ignore: why !== undefined,
  async fn(t) {
    await using cluster = await createCluster({
      pods: 3,
      kind: "statefulset",
      otpVersions: VERSIONS,
      distPort: DIST_PORT,
      nodeArgs: ["-kernel", "net_ticktime", String(TICKTIME)],
    });
    const cookie = await cookieFile(cluster);
    const agents: Agent[] = [];
    const start = (i: number) =>
      agents.push(
        startAgent(cluster, cluster.pods[i], {
          args: ["--service", cluster.service, ...DIST_ARGS, ...HTTP],
        }),
      );
    const fullMesh = (n: number, timeoutMs?: number) => assertFullMesh(cluster, cookie, agents, n, timeoutMs);
    try {
      await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
      for (let i = 0; i < cluster.pods.length; i++) start(i);

      await t.step("the 3 pods of OTP 25, 27 and 29 form a full mesh with no EPMD in any pod", async () => {
        await fullMesh(3);
        await assertNoEpmd(cluster);
      });

      await t.step("scale out by one: the new pod meshes", async () => {
        const p = await cluster.addPod({ version: "29" });
        await cluster.publish();
        await cluster.startNode(p);
        start(cluster.pods.indexOf(p));
        await fullMesh(4);
        await assertNoEpmd(cluster);
      });

      await t.step(
        "a pod partitioned until every other node dropped it, then healed: full mesh again",
        async () => {
          const cut = cluster.pods[1];
          await partitionUntilDropped(cluster, cut, TICKTIME * 5000);
          await cluster.network.heal(cut.name);
          await fullMesh(4, 30000);
        },
      );

      await t.step("status in each pod reports every peer connected and says nothing of EPMD", async () => {
        for (const p of cluster.pods) {
          const r = await erlmeshIn(cluster, p, [
            "status",
            "--node",
            p.nodeName,
            "--service",
            cluster.service,
            ...DIST_ARGS,
          ]);
          assert.equal(r.code, 0, `${p.name}: ${r.stdout}${r.stderr}`);
          for (const o of cluster.pods.filter((x) => x !== p)) {
            assert.match(
              r.stdout,
              new RegExp(`^${o.nodeName.replaceAll(".", "\\.")}\\s+connected`, "m"),
              r.stdout,
            );
          }
          assert.ok(!mentionsEpmd(r.stdout + r.stderr), `${p.name}: ${r.stdout}${r.stderr}`);
        }
      });

      await t.step("probes (the agent's and a direct one) and wait pass without EPMD", async () => {
        const direct = ["--node", cluster.pods[0].nodeName, "--service", cluster.service, ...DIST_ARGS];
        for (
          const args of [
            ["probe", "readiness", "--http", "127.0.0.1:9090"],
            ["probe", "readiness", ...direct, "--readiness", "meshed"],
            ["probe", "liveness", ...direct],
            ["wait", "--dns", "--self", "--peers", "3", ...direct, "--timeout", "20s"],
          ]
        ) {
          const r = await erlmeshIn(cluster, cluster.pods[0], args);
          assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
          assert.ok(!mentionsEpmd(r.stdout + r.stderr), `${args.join(" ")}: ${r.stdout}${r.stderr}`);
        }
      });

      await t.step(
        "a node restarted under its running agent: the agent sees it go and come back",
        async () => {
          const p = cluster.pods[2];
          await cluster.stopNode(p);
          await cluster.startNode(p);
          await fullMesh(4);
          const a = agents.find((a) => a.pod === p)!;
          await a.waitEvent((e) => e.event === "local_down", "the agent noticing its node went down");
          await waitUntil(() => a.events().filter((e) => e.event === "local_up").length >= 2, {
            what: `${p.name}'s agent seeing its node come back`,
          });
        },
      );

      await t.step("no agent logged anything of EPMD, at any level", () => {
        for (const a of agents) {
          const epmd = a.events().filter((e) => mentionsEpmd(JSON.stringify(e)));
          assert.deepEqual(epmd, [], a.pod.name);
        }
      });
    } finally {
      await stopAgents(agents, cookie);
    }
  },
});

Deno.test({
  name:
    "EPMD-less Deployment of OTP 25, 27 and 29 (nodes named app@<IP>, A records, agents told ERLMESH_DIST_PORT): " +
    "full mesh with no EPMD in any pod",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({
      pods: 3,
      kind: "deployment",
      otpVersions: VERSIONS,
      distPort: DIST_PORT,
    });
    const cookie = await cookieFile(cluster);
    const agents: Agent[] = [];
    try {
      await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
      for (const p of cluster.pods) {
        agents.push(startAgent(cluster, p, {
          args: ["--service", cluster.service, "--discovery", "a"],
          env: { ERLMESH_DIST_PORT: String(DIST_PORT) },
        }));
      }
      await assertFullMesh(cluster, cookie, agents, 3);
      await assertNoEpmd(cluster);
      for (const a of agents) assert.deepEqual(a.events().filter((e) => mentionsEpmd(JSON.stringify(e))), []);
    } finally {
      await stopAgents(agents, cookie);
    }
  },
});
