/**
 * `erlmesh run` with a TLS release: the tests' rebar3/relx release (`_releases.ts`) started as
 * `erlmesh run -- bin/demo_app foreground` in each pod of a simulated StatefulSet, its node running TLS
 * distribution from its vm.args (`-proto_dist inet_tls -ssl_dist_optfile …`, given to the start script
 * by `VMARGS_PATH` as a ConfigMap would be), erlmesh given the TLS files by the environment. They mesh.
 *
 * The fixture release's boot script holds kernel, stdlib and demo_app only, and `inet_tls` needs `ssl`:
 * a release built for TLS lists `ssl` among its applications; this one gets the code path of `ssl` and
 * its dependencies (`-pa`) and interactive code loading (`CODE_LOADING_MODE`, read by relx's script).
 * Without them the VM stops at once with "Protocol 'inet_tls': not supported".
 */
import assert from "node:assert/strict";
import { type Cluster, type ClusterPod, clusterUnavailableReason, createCluster } from "./_harness/mod.ts";
import { makePki, type NodeTls, nodeTlsArgs, podCert, tlsUnavailableReason } from "./_harness/tls.ts";
import { tempPrefix } from "./_harness/prefix.ts";
import { type Agent, cookieFile, launchAgent, stopAgents, tlsEnv, waitFullMesh } from "./_sim.ts";
import { buildErlangRelease, ERLANG_RELEASE_NAME, releaseToolsReason } from "./_releases.ts";

const OTP_LIB = "/usr/lib/erlang/lib";
/** The applications `inet_tls` loads: the release's VM needs them on its code path. */
const TLS_APPS = ["ssl", "public_key", "crypto", "asn1"];

const why = clusterUnavailableReason(["25"]) ?? tlsUnavailableReason("25") ?? releaseToolsReason("erlang");
if (why) console.warn(`SKIP the TLS release under erlmesh run: ${why}`);

/** The `ebin` folders of {@link TLS_APPS} in the system OTP. */
function tlsCodePath(): string[] {
  const dirs = [...Deno.readDirSync(OTP_LIB)].map((e) => e.name);
  return TLS_APPS.map((app) => {
    const dir = dirs.find((d) => d.startsWith(`${app}-`));
    if (!dir) throw new Error(`Cannot find the '${app}' application in ${OTP_LIB}`);
    return `${OTP_LIB}/${dir}/ebin`;
  });
}

/**
 * The pod's files for the release (HOME with the cookie, a vm.args with the node's name and TLS
 * distribution) and the environment its container gets; `remove` deletes them.
 */
async function releasePod(
  cluster: Cluster,
  pod: ClusterPod,
): Promise<{ env: Record<string, string>; remove(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: tempPrefix(`reltls-${pod.name}`) });
  let tls: NodeTls | undefined;
  try {
    const pki = cluster.tls!.pki;
    tls = await nodeTlsArgs(pki, "25", { node: await podCert(pki, pod) });
    await Deno.mkdir(`${dir}/home`);
    // The cookie only in $HOME/.erlang.cookie, read by the VM and by erlmesh run.
    await Deno.writeTextFile(`${dir}/home/.erlang.cookie`, cluster.cookie, { mode: 0o400 });
    const [, proto, , optfile] = tls.args;
    await Deno.writeTextFile(
      `${dir}/vm.args`,
      [
        `-name ${pod.nodeName}`,
        `-proto_dist ${proto}`,
        `-ssl_dist_optfile ${optfile}`,
        `-pa ${tlsCodePath().join(" ")}`,
        "",
      ].join("\n"),
    );
    const files = tls;
    return {
      env: {
        HOME: `${dir}/home`,
        VMARGS_PATH: `${dir}/vm.args`,
        RELX_OUT_FILE_PATH: dir,
        CODE_LOADING_MODE: "interactive",
        ERL_CRASH_DUMP: `${dir}/erl_crash.dump`,
        ERLANG_NODENAME: pod.nodeName,
        ...tlsEnv(cluster),
      },
      remove: async () => {
        await files.remove();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  } catch (e) {
    await tls?.remove();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

Deno.test({
  name:
    "TLS release (inet_tls in its vm.args) under erlmesh run with the TLS files, StatefulSet of 3: full mesh",
  ignore: why !== undefined,
  async fn() {
    const root = await buildErlangRelease();
    await using pki = await makePki();
    await using cluster = await createCluster({ pods: 3, kind: "statefulset", tls: { pki } });
    const cookie = await cookieFile(cluster);
    const runs: Agent[] = [];
    const pods: { remove(): Promise<void> }[] = [];
    try {
      for (const p of cluster.pods) {
        const rp = await releasePod(cluster, p);
        pods.push(rp);
        runs.push(launchAgent(cluster, p, {
          run: [`${root}/bin/${ERLANG_RELEASE_NAME}`, "foreground"],
          args: ["--service", cluster.service],
          env: rp.env,
        }));
      }
      const nodes = cluster.pods.map((p) => p.nodeName).sort();
      // The observer's mesh speaks TLS: a node of plain distribution would be reported NO_TLS.
      const m = await waitFullMesh(cluster, cookie, nodes, 90000);
      const logs = () => runs.map((r) => `--- ${r.pod.name}\n${r.log()}`).join("\n");
      assert.ok(m?.fullMesh && m.nodes.length === 3, `${JSON.stringify(m)}\n${logs()}`);
      for (const r of runs) {
        await r.waitEvent((e) => e.event === "registered", "the node's registration");
      }
      for (const r of runs) {
        const status = await r.stop();
        assert.equal(status.code, 0, `${r.pod.name}: the release stops cleanly on SIGTERM\n${r.log()}`);
        const out = r.log();
        assert.ok(!out.includes(cluster.cookie), `${r.pod.name}: no cookie in the output`);
        assert.ok(!/PRIVATE KEY|BEGIN CERTIFICATE/.test(out), `${r.pod.name}: no PEM block in the output`);
      }
    } finally {
      await stopAgents(runs, cookie);
      for (const p of pods) await p.remove();
    }
  },
});
