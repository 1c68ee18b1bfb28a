/**
 * The `kubernetes-api` component renders with each overlay (`kubectl kustomize`) and grants exactly what
 * discovery `kubernetes` uses: list and watch of EndpointSlices in the pods' namespace, through a
 * ServiceAccount whose token only these pods mount.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { tempPrefix } from "./_harness/prefix.ts";

function hasKubectl(): boolean {
  try {
    return new Deno.Command("kubectl", { args: ["version", "--client"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const ignore = !hasKubectl();
if (ignore) console.warn("SKIP kubernetes-api component rendering: kubectl is not installed");

const K8S = new URL("../deploy/k8s/", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Obj = any;

/** Renders `overlay` with the component from a temporary kustomization (paths must be relative). */
async function render(overlay: string, extra: string[] = []): Promise<Obj[]> {
  const dir = await Deno.makeTempDir({ prefix: tempPrefix("kustomize") });
  try {
    const rel = (p: string) => {
      const up = dir.split("/").filter(Boolean).map(() => "..").join("/");
      return `${up}${K8S}${p}`;
    };
    await Deno.writeTextFile(
      `${dir}/kustomization.yaml`,
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${
        rel(overlay)
      }\ncomponents:\n${[...extra, "components/kubernetes-api"].map((c) => `  - ${rel(c)}\n`).join("")}`,
    );
    const out = await new Deno.Command("kubectl", {
      args: ["kustomize", dir],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return parseAllDocuments(text).map((d) => d.toJS());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const [overlay, extra] of [
    ["overlays/statefulset", []],
    ["overlays/deployment", []],
    ["overlays/statefulset", ["components/sidecar"]],
  ] as [string, string[]][]
) {
  Deno.test({
    name: `kubernetes-api component with ${[overlay, ...extra].join(" + ")}: a Role with list and watch on ` +
      "endpointslices, bound, mounted, and discovery 'kubernetes' for every erlmesh container",
    ignore,
    async fn() {
      const objects = await render(overlay, extra);
      const of = (kind: string) => objects.filter((o) => o.kind === kind);
      assert.deepEqual(of("ClusterRole"), []);
      assert.deepEqual(of("ClusterRoleBinding"), []);
      const [role] = of("Role");
      assert.deepEqual(role.rules, [
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ]);
      const [sa] = of("ServiceAccount");
      assert.equal(sa.automountServiceAccountToken, false, "no pod mounts the token unless it asks");
      const [binding] = of("RoleBinding");
      assert.deepEqual(binding.roleRef, {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: role.metadata.name,
      });
      assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: sa.metadata.name }]);
      const [workload] = objects.filter((o) => o.kind === "StatefulSet" || o.kind === "Deployment");
      const pod = workload.spec.template.spec;
      assert.equal(pod.serviceAccountName, sa.metadata.name);
      assert.equal(pod.automountServiceAccountToken, true);
      // One setting in the ConfigMap every erlmesh container reads: the wait init container, run or the
      // sidecar agent alike.
      const [cm] = of("ConfigMap").filter((c: Obj) => c.metadata.name.startsWith("app-erlmesh"));
      assert.equal(cm.data.ERLMESH_DISCOVERY, "kubernetes");
      assert.equal(cm.data.ERLMESH_SERVICE, "app", "the base's settings are kept");
      const all = [...(pod.initContainers ?? []), ...pod.containers];
      const erlmesh = all.filter((c: Obj) =>
        c.command?.[0] === "/usr/local/bin/erlmesh" || c.command?.includes("/usr/local/bin/erlmesh") ||
        c.args?.[0] === "/usr/local/bin/erlmesh"
      );
      assert.ok(erlmesh.length >= 2, `the containers that run erlmesh: ${all.map((c: Obj) => c.name)}`);
      for (const c of erlmesh) {
        assert.ok(
          c.envFrom?.some((e: Obj) => e.configMapRef?.name === cm.metadata.name),
          `${c.name} reads ${cm.metadata.name}`,
        );
        assert.ok(
          !c.env?.some((e: Obj) => e.name === "ERLMESH_DISCOVERY"),
          `${c.name} sets no discovery of its own`,
        );
      }
    },
  });
}
