/**
 * Every kustomize base, overlay and component under deploy/k8s renders with `kubectl kustomize`, every
 * object is valid against the Kubernetes schemas (kubernetes-models), and the rendered pods are hardened,
 * probe erlmesh, wire their environment as erlmesh and the release expect, and hold no cookie. That they
 * also run as written is tests/deploy_kube_test.ts.
 */
import assert from "node:assert/strict";
import { ConfigMap, Service, ServiceAccount } from "kubernetes-models/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import {
  DEPLOY_K8S,
  type K8sObject,
  kustomize,
  kustomizeUnavailableReason,
  kustomizeWith,
} from "./_kubelet.ts";

const why = kustomizeUnavailableReason();
if (why) console.warn(`SKIP rendering deploy/k8s: ${why}`);
const skipName = why ? ` (SKIPPED: ${why})` : "";

/** What a team renders: each overlay alone and with the components. */
const RENDERS: { name: string; resources: string[]; components: string[] }[] = [
  { name: "base", resources: ["base"], components: [] },
  { name: "overlays/statefulset", resources: ["overlays/statefulset"], components: [] },
  { name: "overlays/deployment", resources: ["overlays/deployment"], components: [] },
  ...["overlays/statefulset", "overlays/deployment"].flatMap((o) => [
    { name: `${o} + components/sidecar`, resources: [o], components: ["components/sidecar"] },
    { name: `${o} + components/metrics`, resources: [o], components: ["components/metrics"] },
    {
      name: `${o} + components/sidecar + components/metrics`,
      resources: [o],
      components: ["components/sidecar", "components/metrics"],
    },
  ]),
];

async function render(r: (typeof RENDERS)[number]): Promise<{ text: string; objects: K8sObject[] }> {
  return r.components.length === 0 && r.resources.length === 1
    ? await kustomize(`${DEPLOY_K8S}/${r.resources[0]}`)
    : await kustomizeWith(r.resources, r.components);
}

/** Validates one object with its kubernetes-models class; throws with the schema's message. */
function validate(o: K8sObject): void {
  const key = `${o.apiVersion}/${o.kind}`;
  // deno-lint-ignore no-explicit-any
  const classes: Record<string, new (o: any) => { validate(): void }> = {
    "v1/Service": Service,
    "v1/ConfigMap": ConfigMap,
    "v1/ServiceAccount": ServiceAccount,
    "rbac.authorization.k8s.io/v1/Role": Role,
    "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
    "apps/v1/StatefulSet": StatefulSet,
    "apps/v1/Deployment": Deployment,
    "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  };
  const C = classes[key];
  if (!C) throw new Error(`Unexpected object '${key}' '${o.metadata?.name}' in the rendered output`);
  new C(o).validate();
}

const POD_SECURITY_KEYS = new Set([
  "runAsNonRoot",
  "runAsUser",
  "runAsGroup",
  "fsGroup",
  "fsGroupChangePolicy",
  "seccompProfile",
  "supplementalGroups",
]);
const CONTAINER_SECURITY_KEYS = new Set([
  "allowPrivilegeEscalation",
  "readOnlyRootFilesystem",
  "capabilities",
  "runAsNonRoot",
  "runAsUser",
  "runAsGroup",
  "seccompProfile",
]);

function workloadOf(objects: K8sObject[]): K8sObject {
  const w = objects.filter((o) => o.kind === "StatefulSet" || o.kind === "Deployment");
  assert.equal(w.length, 1, "one workload");
  return w[0];
}

/** A container's variables: its ConfigMaps' (`envFrom`, as `{ value }`), then its own `env` entries. */
function envOf(c: K8sObject, objects: K8sObject[]): Map<string, K8sObject> {
  const out = new Map<string, K8sObject>();
  for (const from of c.envFrom ?? []) {
    const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === from.configMapRef?.name);
    assert.ok(cm, `${c.name}: envFrom ${JSON.stringify(from)} names no ConfigMap of the output`);
    for (const [k, v] of Object.entries(cm.data ?? {})) out.set(k, { name: k, value: v });
  }
  for (const e of c.env ?? []) out.set(e.name, e);
  return out;
}

/** The container that runs erlmesh `run` or `agent` (the probes' container). */
function erlmeshContainer(spec: K8sObject): K8sObject {
  const c = spec.containers.filter((c: K8sObject) => c.command?.[0] === "/usr/local/bin/erlmesh");
  assert.equal(c.length, 1, "one erlmesh container");
  return c[0];
}

/** Every directory a path in `value` names is on an emptyDir mount of the container. */
function onEmptyDir(spec: K8sObject, c: K8sObject, path: string): boolean {
  const emptyDirs = new Set(
    (spec.volumes ?? []).filter((v: K8sObject) => v.emptyDir).map((v: K8sObject) => v.name),
  );
  return (c.volumeMounts ?? []).some((m: K8sObject) =>
    emptyDirs.has(m.name) && !m.readOnly && (path === m.mountPath || path.startsWith(m.mountPath + "/"))
  );
}

for (const r of RENDERS) {
  Deno.test({
    name: `deploy/k8s ${r.name}: renders, validates, hardened, probes and env wired, no cookie${skipName}`,
    ignore: why !== undefined,
    async fn(t) {
      const { text, objects } = await render(r);

      await t.step("every object is valid against the Kubernetes schemas", () => {
        assert.ok(objects.length >= 3, text);
        for (const o of objects) validate(o);
      });

      const w = workloadOf(objects);
      const spec = w.spec.template.spec;
      const labels = w.spec.template.metadata.labels;
      const svc = objects.find((o) => o.kind === "Service" && o.metadata.name === "app")!;

      await t.step(
        "the headless Service publishes not-ready pods, with the epmd port, and selects the pods",
        () => {
          assert.equal(svc.spec.clusterIP, "None");
          assert.equal(svc.spec.publishNotReadyAddresses, true);
          const epmd = svc.spec.ports.find((p: K8sObject) => p.name === "epmd");
          assert.deepEqual([epmd?.port, epmd?.protocol], [4369, "TCP"]);
          for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(labels[k], v, k);
          for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) assert.equal(labels[k], v, k);
          const target = spec.containers.flatMap((c: K8sObject) => c.ports ?? [])
            .find((p: K8sObject) => p.name === epmd.targetPort);
          assert.equal(target?.containerPort, 4369, "targetPort names the container's epmd port");
          if (w.kind === "StatefulSet") assert.equal(w.spec.serviceName, svc.metadata.name);
          const pdb = objects.find((o) => o.kind === "PodDisruptionBudget")!;
          for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(labels[k], v, k);
        },
      );

      await t.step("hardened: non-root numeric user, seccomp, no token, read-only root, drop ALL", () => {
        assert.equal(spec.automountServiceAccountToken, false);
        const psc = spec.securityContext;
        for (const k of Object.keys(psc)) {
          assert.ok(POD_SECURITY_KEYS.has(k), `unknown pod securityContext '${k}'`);
        }
        assert.equal(psc.runAsNonRoot, true);
        assert.ok(Number.isInteger(psc.runAsUser) && psc.runAsUser > 0, "numeric non-root runAsUser");
        assert.deepEqual(psc.seccompProfile, { type: "RuntimeDefault" });
        for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
          const sc = c.securityContext ?? {};
          for (const k of Object.keys(sc)) {
            assert.ok(CONTAINER_SECURITY_KEYS.has(k), `${c.name}: unknown '${k}'`);
          }
          assert.equal(sc.readOnlyRootFilesystem, true, c.name);
          assert.equal(sc.allowPrivilegeEscalation, false, c.name);
          assert.deepEqual(sc.capabilities?.drop, ["ALL"], c.name);
          assert.equal(sc.capabilities?.add, undefined, c.name);
          assert.notEqual(sc.runAsUser, 0, c.name);
        }
      });

      await t.step("where the release and erlmesh write is an emptyDir", () => {
        for (const c of spec.containers) {
          const env = envOf(c, objects);
          for (const name of ["HOME", "RELX_OUT_FILE_PATH"]) {
            const v = env.get(name)?.value;
            if (v) assert.ok(onEmptyDir(spec, c, v) || name === "HOME", `${c.name} ${name}=${v}`);
          }
          const dump = env.get("ERL_CRASH_DUMP")?.value;
          if (dump) assert.ok(onEmptyDir(spec, c, dump.slice(0, dump.lastIndexOf("/"))), `${c.name} ${dump}`);
        }
        // The release's container writes the cookie copy's folder (HOME) only through the init container.
        const home = spec.initContainers.find((c: K8sObject) => c.name === "cookie");
        assert.ok(onEmptyDir(spec, home, "/home/app"), "the cookie's copy goes to an emptyDir");
      });

      await t.step(
        "the cookie: a Secret file, group-readable by fsGroup, copied owner-only; never a value",
        () => {
          const vol = spec.volumes.find((v: K8sObject) => v.secret);
          assert.equal(vol.secret.secretName, "app-erlang-cookie");
          assert.equal(vol.secret.defaultMode & 0o007, 0, "no access for others");
          assert.ok(
            spec.securityContext.fsGroup !== undefined,
            "fsGroup lets the non-root user read the Secret",
          );
          const init = spec.initContainers.find((c: K8sObject) => c.name === "cookie");
          assert.deepEqual(init.command.slice(0, 3), ["install", "-m", "0400"]);
          assert.ok(!objects.some((o) => o.kind === "Secret"), "no Secret object in the manifests");
          assert.ok(!/setcookie/i.test(text), "no -setcookie anywhere");
          for (const c of [...spec.initContainers, ...spec.containers]) {
            for (const e of c.env ?? []) {
              if (/COOKIE/i.test(e.name)) {
                assert.ok(!("value" in e), `${c.name}: ${e.name} has a value`);
                assert.ok(
                  !e.valueFrom?.secretKeyRef,
                  `${c.name}: ${e.name} from a secretKeyRef (visible in env)`,
                );
              }
            }
            assert.ok(
              ![...(c.command ?? []), ...(c.args ?? [])].some((a: string) =>
                /cookie/i.test(a) && a.startsWith("-")
              ),
            );
          }
        },
      );

      await t.step("env: downward API, node name of the workload's form, for the release and erlmesh", () => {
        for (const c of [...spec.initContainers, ...spec.containers]) {
          const defined = new Set<string>([...envOf({ envFrom: c.envFrom }, objects).keys()]);
          for (const e of c.env ?? []) {
            for (const m of String(e.value ?? "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
              assert.ok(defined.has(m[1]), `${c.name}: ${e.name} uses $(${m[1]}) before it is defined`);
            }
            defined.add(e.name);
          }
        }
        const mesh = erlmeshContainer(spec);
        const env = envOf(mesh, objects);
        assert.equal(env.get("POD_NAME")?.valueFrom?.fieldRef?.fieldPath, "metadata.name");
        assert.equal(env.get("POD_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath, "metadata.namespace");
        assert.equal(env.get("POD_IP")?.valueFrom?.fieldRef?.fieldPath, "status.podIP");
        assert.equal(env.get("ERLMESH_SERVICE")?.value, svc.metadata.name);
        const app = spec.containers.find((c: K8sObject) => c.name === "app");
        const node = envOf(app, objects).get("NODE_NAME")?.value;
        if (w.kind === "StatefulSet") {
          assert.equal(node, `app@$(POD_NAME).${w.spec.serviceName}.$(POD_NAMESPACE).svc.cluster.local`);
        } else {
          assert.equal(node, "app@$(POD_IP)");
          assert.equal(env.get("ERLMESH_DISCOVERY")?.value, "a", "a Deployment discovers by A records");
          const wait = spec.initContainers.find((c: K8sObject) => c.name === "wait-for-dns");
          assert.equal(envOf(wait, objects).get("ERLMESH_DISCOVERY")?.value, "a", "and so does its wait");
        }
        if (mesh === app) assert.equal(env.get("ERLANG_NODENAME")?.value, "$(NODE_NAME)");
        else assert.equal(env.get("ERLMESH_BASENAME")?.value, "app");
      });

      await t.step(
        "init: the cookie copy, then 'erlmesh wait --self' (the Service publishes not-ready pods)",
        () => {
          assert.deepEqual(spec.initContainers.map((c: K8sObject) => c.name), ["cookie", "wait-for-dns"]);
          const wait = spec.initContainers[1].command;
          assert.deepEqual(wait.slice(0, 3), ["/usr/local/bin/erlmesh", "wait", "--self"]);
          assert.ok(wait.includes("--timeout"));
          const env = envOf(spec.initContainers[1], objects);
          assert.equal(env.get("ERLMESH_SERVICE")?.value, svc.metadata.name);
        },
      );

      await t.step("probes: startup, liveness and readiness run erlmesh, within their timeouts", () => {
        const mesh = erlmeshContainer(spec);
        for (const kind of ["startup", "liveness", "readiness"]) {
          const p = mesh[`${kind}Probe`];
          assert.deepEqual(p?.exec?.command, ["/usr/local/bin/erlmesh", "probe", kind], kind);
          // erlmesh's probe gives up after 800 ms: the kubelet must wait longer.
          assert.ok((p.timeoutSeconds ?? 1) >= 1, kind);
        }
        assert.ok(envOf(mesh, objects).get("ERLMESH_HTTP")?.value, "the probes ask erlmesh's server");
        // Liveness never depends on DNS or peers; a startup window of a minute or more for a booting VM.
        assert.ok(mesh.startupProbe.periodSeconds * mesh.startupProbe.failureThreshold >= 60);
        for (const c of spec.containers) {
          if (c === mesh) continue;
          for (const kind of ["startup", "liveness", "readiness"]) {
            assert.equal(
              c[`${kind}Probe`],
              undefined,
              `${c.name} (no erlmesh in its image) has no ${kind} probe`,
            );
          }
        }
      });

      await t.step("a grace period that lets the release stop; one pod at a time disrupted", () => {
        assert.ok(spec.terminationGracePeriodSeconds >= 15);
        const pdb = objects.find((o) => o.kind === "PodDisruptionBudget")!;
        assert.equal(pdb.spec.maxUnavailable, 1);
      });

      if (r.components.includes("components/sidecar")) {
        await t.step("sidecar: the release runs as the image starts it; 'erlmesh agent' beside it", () => {
          const app = spec.containers.find((c: K8sObject) => c.name === "app");
          assert.deepEqual(app.command, ["/opt/app/bin/demo_app", "foreground"]);
          assert.equal(app.args, undefined);
          const mesh = erlmeshContainer(spec);
          assert.deepEqual(mesh.command, ["/usr/local/bin/erlmesh", "agent"]);
          assert.ok(mesh.volumeMounts.some((m: K8sObject) => m.mountPath === "/home/app" && m.readOnly));
          for (const c of spec.initContainers) assert.match(c.image, /^erlmesh:/, c.name);
        });
      }

      if (r.components.includes("components/metrics")) {
        await t.step("metrics: scrape annotations and a Service on erlmesh's http port", () => {
          const ann = w.spec.template.metadata.annotations;
          assert.equal(ann["prometheus.io/scrape"], "true");
          assert.equal(ann["prometheus.io/path"], "/metrics");
          const port = erlmeshContainer(spec).ports.find((p: K8sObject) => p.name === "http");
          assert.equal(ann["prometheus.io/port"], String(port.containerPort));
          const ms = objects.find((o) => o.kind === "Service" && o.metadata.name === "app-metrics")!;
          assert.equal(ms.spec.ports[0].targetPort, "http");
          for (const [k, v] of Object.entries(ms.spec.selector)) assert.equal(labels[k], v, k);
          assert.ok(
            envOf(erlmeshContainer(spec), objects).get("ERLMESH_HTTP")?.value?.startsWith("0.0.0.0:"),
          );
        });
      }
    },
  });
}

Deno.test({
  name: `deploy/k8s: the schema check rejects a broken StatefulSet (it is not a no-op)${skipName}`,
  ignore: why !== undefined,
  async fn() {
    const { objects } = await kustomize(`${DEPLOY_K8S}/overlays/statefulset`);
    const sts = structuredClone(objects.find((o) => o.kind === "StatefulSet")!);
    sts.spec.replicas = "three";
    assert.throws(() => validate(sts), /replicas/);
    const noImage = structuredClone(objects.find((o) => o.kind === "StatefulSet")!);
    delete noImage.spec.template.spec.containers[0].image;
    noImage.spec.template.spec.containers[0].name = 7;
    assert.throws(() => validate(noImage));
  },
});

Deno.test({
  name:
    `deploy/k8s: every component folder renders with every overlay, schema-valid, no Secret, no -setcookie${skipName}`,
  ignore: why !== undefined,
  async fn(t) {
    const dirs = async (under: string) =>
      (await Array.fromAsync(Deno.readDir(`${DEPLOY_K8S}/${under}`))).filter((e) => e.isDirectory)
        .map((e) => `${under}/${e.name}`).sort();
    const overlays = await dirs("overlays");
    const components = await dirs("components");
    assert.ok(overlays.length >= 2 && components.length >= 2, `${overlays} ${components}`);
    for (const o of overlays) {
      for (const c of components) {
        await t.step(`${o} + ${c}`, async () => {
          const { text, objects } = await kustomizeWith([o], [c]);
          for (const x of objects) validate(x);
          assert.ok(!objects.some((x) => x.kind === "Secret"));
          assert.ok(!/setcookie/i.test(text));
        });
      }
    }
  },
});
