import assert from "node:assert/strict";
import { loadConfig } from "../config/mod.ts";
import { sourceFrom } from "./cluster_setup.ts";

const env: Record<string, string> = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
const config = (flags: Record<string, unknown>) =>
  loadConfig({ env: (n) => env[n], flags: { discovery: "kubernetes", ...flags }, resolvConf: "" });

Deno.test("sourceFrom(): discovery kubernetes watches the Service in its namespace, with the DNS fallback asked for", async () => {
  const plain = sourceFrom(await config({ service: "app", namespace: "prod" }));
  assert.equal(plain.kind, "kubernetes");
  assert.equal(typeof plain.subscribe, "function");
  assert.equal(
    plain.description,
    "Kubernetes EndpointSlices of Service 'app' in namespace 'prod' at https://10.96.0.1",
  );

  const withSrv = sourceFrom(await config({ service: "app", namespace: "prod", kubernetesFallback: "srv" }));
  assert.match(withSrv.description, /\(fallback: DNS SRV _epmd\._tcp\.app\.prod\.svc\.cluster\.local\.\)$/);
  const withA = sourceFrom(await config({ service: "app", kubernetesFallback: "a", hostForm: "ip" }));
  assert.match(withA.description, /\(fallback: DNS A app\.default\.svc\.cluster\.local\. as ip names\)$/);

  // A Service named by its FQDN is in its own namespace; two Services are watched together.
  const two = sourceFrom(await config({ service: ["app", "db.data.svc.cluster.local"] }));
  assert.equal(two.kind, "kubernetes");
  assert.match(
    two.description,
    /Service 'app' in namespace 'default'.* \+ .*Service 'db' in namespace 'data'/,
  );
  assert.equal(typeof two.subscribe, "function", "the merged source passes subscriptions on");
});
