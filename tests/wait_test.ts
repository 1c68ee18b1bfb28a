/**
 * `erlmesh wait` as an initContainer would run it: a process inside a simulated pod, asking the
 * cluster's DNS (Unbound as kube-dns) and the peers' EPMD.
 */
import assert from "node:assert/strict";
import { type Cluster, type ClusterPod, clusterUnavailableReason, createCluster } from "./_harness/mod.ts";

import { DENO_FLAGS, entryArgs } from "./_erlmesh.ts";

const why = clusterUnavailableReason(["25"]);
if (why) console.warn(`SKIP erlmesh wait scenarios: ${why}`);

interface WaitResult {
  code: number;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Starts `erlmesh wait ARGS` in the pod with the downward-API variables a pod would have. */
function startWait(cluster: Cluster, pod: ClusterPod, args: string[]): Promise<WaitResult> {
  const started = performance.now();
  const child = cluster.network.exec(pod.name, [
    Deno.execPath(),
    ...DENO_FLAGS,
    ...entryArgs(),
    "wait",
    ...args,
  ], {
    env: {
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`,
      NO_COLOR: "1",
      POD_NAME: pod.name,
      POD_NAMESPACE: cluster.namespace,
      POD_IP: pod.ip,
    },
    hostname: pod.name,
    stdout: "piped",
    stderr: "piped",
  });
  const killer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 60_000);
  return child.output().then((o) => {
    clearTimeout(killer);
    const dec = new TextDecoder();
    return {
      code: o.code,
      stdout: dec.decode(o.stdout),
      stderr: dec.decode(o.stderr),
      elapsedMs: performance.now() - started,
    };
  });
}

function show(r: WaitResult): string {
  return `exit ${r.code} after ${Math.round(r.elapsedMs)} ms\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

Deno.test({
  name: "erlmesh wait --self --peers 2 --epmd exits 0 once the cluster becomes ready while it waits",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 3, kind: "statefulset", ready: false });
    const me = cluster.pods[2];
    const waiting = startWait(cluster, me, [
      "--service",
      cluster.service,
      "--self",
      "--peers",
      "2",
      "--epmd",
      "--timeout",
      "20s",
    ]);
    // Let time pass while nothing is ready: wait's output comes only when it exits, so there is no
    // state to wait on; the point is that it keeps waiting rather than failing.
    await new Promise((r) => setTimeout(r, 2000));
    // publishNotReadyAddresses: every pod with an IP is listed, this one too; the peers' nodes start.
    for (const p of cluster.pods) p.ready = true;
    await cluster.publish();
    await Promise.all([cluster.startNode(0), cluster.startNode(1)]);
    const r = await waiting;
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^All conditions hold \(self, peers, epmd\) after /, show(r));
    assert.ok(r.stdout.includes(`lists this pod (${me.fqdn} / ${me.ip})`), show(r));
    assert.ok(r.elapsedMs > 2000, show(r));
    // Not a terminal: plain progress lines, the first one before the cluster was ready.
    assert.match(
      r.stderr,
      /^erlmesh wait: Waiting .* attempt 1: self waiting \(not listed\), peers waiting \(0\/2 nodes\)/m,
    );
    assert.ok(!r.stderr.includes("\r"), show(r));
  },
});

Deno.test({
  name: "erlmesh wait exits 1 at the deadline and names the failed conditions and the last answer",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 2, kind: "statefulset", ready: false });
    cluster.pods[0].ready = true; // one ready peer; this pod is never published
    await cluster.publish();
    const me = cluster.pods[1];
    const r = await startWait(cluster, me, [
      "--service",
      cluster.service,
      "--self",
      "--peers",
      "2",
      "--timeout",
      "3s",
    ]);
    assert.equal(r.code, 1, show(r));
    assert.ok(r.elapsedMs >= 3000 && r.elapsedMs < 15_000, show(r));
    const msg = r.stderr.split("\n").find((l) => l.startsWith("erlmesh: ")) ?? "";
    assert.match(msg, /^erlmesh: Cannot finish waiting after 3 s: condition 'self' failed: /, show(r));
    assert.ok(
      msg.includes(
        `the Service answer (SRV _epmd._tcp.${cluster.serviceFqdn}.) lists ${cluster.pods[0].fqdn} ` +
          `but not this pod (${me.fqdn} / ${me.ip}); is publishNotReadyAddresses set on the Service?`,
      ),
      show(r),
    );
    assert.match(
      msg,
      /; and condition 'peers' failed: 1 peer host\(s\) other than this pod discoverable, 2 needed/,
    );
    assert.equal(r.stdout, "");
  },
});

Deno.test({
  name: "erlmesh wait with --peers 0, or no condition, passes on an empty Service (NXDOMAIN)",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 1, kind: "statefulset", ready: false });
    const me = cluster.pods[0];
    const k0 = await startWait(cluster, me, [
      "--service",
      cluster.service,
      "--peers",
      "0",
      "--timeout",
      "10s",
    ]);
    assert.equal(k0.code, 0, show(k0));
    assert.match(k0.stdout, /peers +no peer hosts other than this pod discoverable, 0 needed/, show(k0));

    const dflt = await startWait(cluster, me, [
      "--service",
      cluster.service,
      "-o",
      "json",
      "--timeout",
      "10s",
    ]);
    assert.equal(dflt.code, 0, show(dflt));
    const json = JSON.parse(dflt.stdout);
    assert.equal(json.ok, true);
    assert.equal(json.attempts, 1);
    assert.deepEqual(Object.keys(json.conditions), ["dns", "peers"]);
    assert.equal(json.conditions.dns.ok, true);
    assert.equal(json.dnsAnswered, true);
    assert.deepEqual(json.hosts, []);
  },
});

Deno.test({
  name: "erlmesh wait rejects bad options with exit code 2",
  ignore: why !== undefined,
  async fn() {
    await using cluster = await createCluster({ pods: 1, kind: "statefulset", ready: false });
    const me = cluster.pods[0];
    for (
      const [args, pattern] of [
        [["--service", "app", "--peers", "-1"], /Invalid --peers '-1'/],
        [["--service", "app", "--timeout", "soon"], /Invalid --timeout 'soon'/],
        [["--hosts", "a.example", "--dns"], /Cannot wait for --dns with discovery 'static'/],
      ] as const
    ) {
      const r = await startWait(cluster, me, [...args]);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, pattern, show(r));
    }
  },
});
