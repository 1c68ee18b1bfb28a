/**
 * The simulated StatefulSet without EPMD (issue 12): nodes of OTP 25, 27 and 29 started with no EPMD on one
 * distribution port (`ClusterOptions.distPort`), agents told the port (`--dist-port`); no EPMD listens in any
 * pod, so any EPMD request would fail.
 */
import assert from "node:assert/strict";
import { clusterUnavailableReason, createCluster, epmdNames, type OtpVersion } from "./_harness/mod.ts";
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

/** Whether a text mentions EPMD other than in the SRV query's name (the Service port is named `epmd`). */
const mentionsEpmd = (text: string) => /epmd/i.test(text.replaceAll("_epmd._tcp.", ""));

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
        startAgent(cluster, cluster.pods[i], { args: ["--service", cluster.service, ...DIST_ARGS] }),
      );
    const assertFullMesh = async (n: number, timeoutMs?: number) => {
      const m = await waitFullMesh(cluster, cookie, runningNodes(cluster), timeoutMs, DIST_ARGS);
      assert.ok(
        m?.fullMesh && m.nodes.length === n,
        `${JSON.stringify(m)}\n${agents.map((a) => a.log()).join("\n---\n")}`,
      );
    };
    try {
      await Promise.all(cluster.pods.map((p) => cluster.startNode(p)));
      for (let i = 0; i < cluster.pods.length; i++) start(i);

      await t.step("the 3 pods of OTP 25, 27 and 29 form a full mesh with no EPMD in any pod", async () => {
        await assertFullMesh(3);
        for (const p of cluster.pods) {
          assert.equal(await epmdNames(4369, p.netns), undefined, `an EPMD answers in '${p.name}'`);
          const release = await p.node!.eval("erlang:system_info(otp_release).");
          assert.equal(release, `"${p.version}"`, p.name);
        }
      });

      await t.step("scale out by one: the new pod meshes", async () => {
        const p = await cluster.addPod({ version: "29" });
        await cluster.publish();
        await cluster.startNode(p);
        start(cluster.pods.indexOf(p));
        await assertFullMesh(4);
        assert.equal(await epmdNames(4369, p.netns), undefined, `an EPMD answers in '${p.name}'`);
      });

      await t.step(
        "a pod partitioned until every other node dropped it, then healed: full mesh again",
        async () => {
          const cut = cluster.pods[1];
          await partitionUntilDropped(cluster, cut, TICKTIME * 5000);
          await cluster.network.heal(cut.name);
          await assertFullMesh(4, 30000);
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
