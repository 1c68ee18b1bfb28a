import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { podHost, podIdentity, selfIdentity } from "./identity.ts";
import { loadConfig, type LoadConfigInput } from "./load.ts";

/** Loads with only `vars` in the environment, no resolv.conf and a fixed host name. */
function load(vars: Record<string, string>, input: LoadConfigInput = {}) {
  return loadConfig({ env: (n) => vars[n], resolvConf: "", hostname: () => "box", ...input });
}

const POD = { POD_NAME: "app-0", POD_IP: "10.0.0.7", POD_NAMESPACE: "ns" };
const FQDN = "app-0.app.ns.svc.cluster.local";

Deno.test("podHost() is one rule: hostForm forces a form, auto prefers the FQDN except with discovery 'a'", () => {
  const pod = { fqdn: FQDN, ip: "10.0.0.7" };
  assert.equal(podHost(pod, "auto", "srv")?.host, FQDN);
  assert.equal(podHost(pod, "auto", "a")?.host, "10.0.0.7");
  assert.equal(podHost(pod, "fqdn", "a")?.host, FQDN);
  assert.equal(podHost(pod, "ip", "srv")?.host, "10.0.0.7");
  assert.equal(podHost({ ip: "10.0.0.7" }, "auto", "srv")?.host, "10.0.0.7");
  assert.equal(podHost({ fqdn: FQDN }, "auto", "a")?.host, FQDN);
  assert.equal(podHost({ ip: "10.0.0.7" }, "fqdn", "srv"), undefined);
});

Deno.test("podIdentity() needs POD_NAME and a Service for the FQDN, and a real IP in POD_IP", () => {
  const ctx = { service: ["app"], namespace: "ns", clusterDomain: "cluster.local" };
  assert.deepEqual(podIdentity({ ...ctx, podName: "App-0", podIp: "fd00::7" }), {
    fqdn: FQDN,
    ip: "fd00::7",
  });
  assert.deepEqual(podIdentity({ ...ctx, service: [], podName: "app-0" }), {});
  assert.throws(
    () => podIdentity({ ...ctx, podIp: "10.0.0.7/24" }),
    (e) => e instanceof ConfigError && e.key === "node" && /10\.0\.0\.7\/24/.test(e.message),
  );
});

Deno.test("selfIdentity() takes the node's host when it names the pod, the downward API otherwise", () => {
  assert.deepEqual(selfIdentity("app@Other.Example", { fqdn: FQDN, ip: "10.0.0.7" }), {
    fqdn: "other.example",
    ip: "10.0.0.7",
  });
  assert.deepEqual(selfIdentity("app@10.0.0.9", { fqdn: FQDN }), { fqdn: FQDN, ip: "10.0.0.9" });
  assert.deepEqual(selfIdentity(undefined, {}), {});
});

Deno.test("loadConfig() with --discovery a --host-form fqdn: node, identity and an Elixir release's RELEASE_NODE agree on the pod FQDN", async () => {
  const flags = { discovery: "a", hostForm: "fqdn", service: "app", basename: "app" };
  const cfg = await load(POD, { flags });
  assert.equal(cfg.node, `app@${FQDN}`);
  assert.deepEqual(cfg.identity, { fqdn: FQDN, ip: "10.0.0.7" });
  assert.deepEqual(cfg.queries, ["app.ns.svc.cluster.local."]);

  // `run` with an Elixir release named 'shop' and no RELEASE_NODE: one load, the same rule.
  const run = await load(POD, {
    flags: { discovery: "a", hostForm: "fqdn", service: "app" },
    elixirRelease: "shop",
  });
  assert.deepEqual(run.releaseEnv, { RELEASE_DISTRIBUTION: "name", RELEASE_NODE: `shop@${FQDN}` });
  assert.equal(run.node, `shop@${FQDN}`);
  assert.equal(run.sources.node, "env RELEASE_NODE");
});

Deno.test("loadConfig() gives an Elixir release the IP with discovery 'a' and hostForm auto, and nothing it already has", async () => {
  const a = await load(POD, { flags: { discovery: "a", service: "app" }, elixirRelease: "shop" });
  assert.deepEqual(a.releaseEnv, { RELEASE_DISTRIBUTION: "name", RELEASE_NODE: "shop@10.0.0.7" });
  assert.equal(a.node, "shop@10.0.0.7");

  const own = await load({ ...POD, RELEASE_NODE: "mine@host.example", RELEASE_DISTRIBUTION: "name" }, {
    flags: { service: "app" },
    elixirRelease: "shop",
  });
  assert.deepEqual(own.releaseEnv, {});
  assert.equal(own.node, "mine@host.example");

  const flagged = await load(POD, { flags: { service: "app", node: "x@h.example" }, elixirRelease: "shop" });
  assert.equal(flagged.node, "x@h.example", "--node wins over the release's identity");
  assert.equal(flagged.releaseEnv?.RELEASE_NODE, `shop@${FQDN}`);

  const nowhere = await load({}, { elixirRelease: "shop" });
  assert.deepEqual(nowhere.releaseEnv, {}, "no pod host, no identity");
});

Deno.test("loadConfig() resolves the name server once: ip, ip:port, [v6]:port", async () => {
  const cases: [string, { ipAddr: string; port: number }][] = [
    ["10.96.0.10", { ipAddr: "10.96.0.10", port: 53 }],
    ["127.0.0.1:5353", { ipAddr: "127.0.0.1", port: 5353 }],
    ["[fd00::a]:53", { ipAddr: "fd00::a", port: 53 }],
    ["fd00::a", { ipAddr: "fd00::a", port: 53 }],
  ];
  for (const [text, want] of cases) {
    const cfg = await load({}, { flags: { dnsServer: text } });
    assert.deepEqual(cfg.nameServer, want, text);
  }
  assert.equal((await load({})).nameServer, undefined);
});

Deno.test("loadConfig() without the discovery keys leaves discovery alone: ERLMESH_DISCOVERY=srv does not fail ping", async () => {
  const cfg = await load({ ERLMESH_DISCOVERY: "srv" }, { keys: ["cookieFile", "epmdPort"] });
  assert.equal(cfg.discovery, "epmd");
  assert.deepEqual(cfg.queries, []);
});
