import assert from "node:assert/strict";
import { ConfigError, loadConfig, type LoadConfigInput } from "./mod.ts";

function load(
  env: Record<string, string>,
  flags: Record<string, unknown> = {},
  more: Partial<LoadConfigInput> = {},
) {
  return loadConfig({ env: (n) => env[n], flags, resolvConf: "", hostname: () => "host", ...more });
}

Deno.test("discovery kubernetes: the API server from KUBERNETES_SERVICE_HOST/PORT, as every pod has them", async () => {
  const cfg = await load({
    ERLMESH_DISCOVERY: "kubernetes",
    ERLMESH_SERVICE: "app",
    KUBERNETES_SERVICE_HOST: "10.96.0.1",
    KUBERNETES_SERVICE_PORT: "443",
  });
  assert.equal(cfg.discovery, "kubernetes");
  assert.equal(cfg.kubernetesApi, "https://10.96.0.1");
  assert.equal(cfg.sources.kubernetesApi, "env KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT");
  assert.equal(cfg.serviceAccountDir, "/var/run/secrets/kubernetes.io/serviceaccount");
  assert.equal(cfg.kubernetesFallback, "none");
  assert.deepEqual(cfg.queries, [], "no DNS name is queried");
  const v6 = await load({
    ERLMESH_DISCOVERY: "kubernetes",
    ERLMESH_SERVICE: "app",
    KUBERNETES_SERVICE_HOST: "fd00:10:96::1",
    KUBERNETES_SERVICE_PORT: "6443",
  });
  assert.equal(v6.kubernetesApi, "https://[fd00:10:96::1]:6443");
  // A flag wins, and a POD_NAME node is the StatefulSet FQDN, as with SRV.
  const flagged = await load(
    { KUBERNETES_SERVICE_HOST: "10.96.0.1", POD_NAME: "app-1", ERLMESH_BASENAME: "app" },
    {
      discovery: "kubernetes",
      service: "app",
      kubernetesApi: "https://api.example:8443/",
      kubernetesFallback: "srv",
    },
  );
  assert.equal(flagged.kubernetesApi, "https://api.example:8443");
  assert.equal(flagged.kubernetesFallback, "srv");
  assert.equal(flagged.node, "app@app-1.app.default.svc.cluster.local");
});

Deno.test("discovery kubernetes needs a Service and an API server, and says where each comes from", async () => {
  await assert.rejects(
    load({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, { discovery: "kubernetes" }),
    (e) => e instanceof ConfigError && e.key === "discovery" && /a service/.test(e.message),
  );
  await assert.rejects(
    load({}, { discovery: "kubernetes", service: "app" }),
    (e) =>
      e instanceof ConfigError && e.key === "kubernetesApi" &&
      e.message.includes(
        "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which Kubernetes sets in every pod",
      ),
  );
  await assert.rejects(
    load({}, { discovery: "kubernetes", service: "app", kubernetesApi: "https://10.96.0.1/api?x=1" }),
    (e) => e instanceof ConfigError && e.key === "kubernetesApi" && /an https URL/.test(e.message),
  );
  // A command that does not discover never reads it.
  const cfg = await load({ KUBERNETES_SERVICE_HOST: "bad host" }, {}, { keys: ["interval"] });
  assert.equal(cfg.kubernetesApi, undefined);
});
