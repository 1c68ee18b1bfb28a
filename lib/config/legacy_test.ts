import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { resolvConfDefaults } from "./legacy.ts";
import { serviceFqdn } from "./identity.ts";
import { loadConfig, type LoadConfigInput, serviceNames } from "./load.ts";

const KUBELET_RESOLV = `nameserver 10.96.0.10
search default.svc.cluster.local svc.cluster.local cluster.local
options ndots:5
`;

function load(vars: Record<string, string>, more: LoadConfigInput = {}) {
  return loadConfig({ env: (n) => vars[n], resolvConf: "", hostname: () => "box", ...more });
}

Deno.test("K8S_HEADLESS_SVC is read plain, quoted and in Erlang-list and JSON-array forms", async () => {
  const cases: [string, string[]][] = [
    ["app", ["app"]],
    ['"app.default.svc.cluster.local"', ["app.default.svc.cluster.local"]],
    ["'app.default.svc.cluster.local'", ["app.default.svc.cluster.local"]],
    ["['app.ns.svc.cluster.local']", ["app.ns.svc.cluster.local"]],
    ['["a","b"]', ["a", "b"]],
    ["[a, b]", ["a", "b"]],
    ["[]", []],
  ];
  for (const [text, want] of cases) {
    const cfg = await load({ K8S_HEADLESS_SVC: text });
    assert.deepEqual(cfg.service, want, text);
    assert.equal(cfg.sources.service, "env K8S_HEADLESS_SVC", text);
    assert.equal(cfg.discovery, want.length > 0 ? "srv" : "epmd", text);
  }
  const cfg = await load({ K8S_HEADLESS_SVC: "['app.ns.svc.cluster.local']" });
  assert.deepEqual(serviceNames(cfg), ["_epmd._tcp.app.ns.svc.cluster.local."]);
});

Deno.test("WORLD_LIST is read as an Erlang list of atoms or strings, a JSON array, or separated words", async () => {
  const forms = [
    "['host1','host2']",
    "['host1', 'host2']",
    '["host1", "host2"]',
    '["host1","host2"]',
    "[host1,host2]",
    "host1 host2",
    "host1,host2",
    "  host1\thost2\n",
  ];
  for (const text of forms) {
    const cfg = await load({ WORLD_LIST: text });
    assert.deepEqual(cfg.hosts, ["host1", "host2"], text);
    assert.equal(cfg.sources.hosts, "env WORLD_LIST", text);
    assert.equal(cfg.discovery, "static", text);
  }
});

Deno.test("ERLANG_NODENAME gives the full node name and, by default, the basename", async () => {
  const cfg = await load({ ERLANG_NODENAME: "myapp@10.0.0.7" });
  assert.equal(cfg.node, "myapp@10.0.0.7");
  assert.equal(cfg.sources.node, "env ERLANG_NODENAME");
  assert.equal(cfg.basename, "myapp");
  assert.equal(cfg.sources.basename, "default (from node)");
  const err = await load({ ERLANG_NODENAME: "myapp" }).catch((e) => e);
  assert.ok(err instanceof ConfigError);
  assert.equal(err.source, "env ERLANG_NODENAME");
  assert.match(
    err.message,
    /^Invalid node 'myapp' from env ERLANG_NODENAME: expected a node name 'alive@host'/,
  );
});

Deno.test("ERLMESH_NODE wins over RELEASE_NODE, which wins over ERLANG_NODENAME", async () => {
  const all = { ERLMESH_NODE: "a@h1", RELEASE_NODE: "b@h2", ERLANG_NODENAME: "c@h3" };
  assert.equal((await load(all)).node, "a@h1");
  assert.equal((await load({ ...all, ERLMESH_NODE: "" })).node, "b@h2");
  assert.equal((await load({ ERLANG_NODENAME: "c@h3" })).node, "c@h3");
  const cfg = await load({ RELEASE_NODE: "b@h2", ERLANG_NODENAME: "c@h3" });
  assert.equal(cfg.sources.node, "env RELEASE_NODE");
});

Deno.test("RELEASE_NODE with a host is taken as is, whatever RELEASE_DISTRIBUTION says", async () => {
  for (const dist of [undefined, "name", "sname"]) {
    const vars: Record<string, string> = { RELEASE_NODE: "app@app-0.app.default.svc.cluster.local" };
    if (dist) vars.RELEASE_DISTRIBUTION = dist;
    const cfg = await load(vars);
    assert.equal(cfg.node, "app@app-0.app.default.svc.cluster.local");
    assert.equal(cfg.sources.node, "env RELEASE_NODE");
  }
});

Deno.test("RELEASE_NODE without a host and RELEASE_DISTRIBUTION=name takes the pod FQDN with a service", async () => {
  const cfg = await load({
    RELEASE_NODE: "app",
    RELEASE_DISTRIBUTION: "name",
    POD_NAME: "app-0",
    POD_NAMESPACE: "prod",
    POD_IP: "10.244.0.7",
    K8S_HEADLESS_SVC: "app",
  }, { resolvConf: "search prod.svc.k8s.example svc.k8s.example k8s.example\n" });
  assert.equal(cfg.node, "app@app-0.app.prod.svc.k8s.example");
  assert.equal(cfg.sources.node, "env RELEASE_NODE (host: POD_NAME)");
  assert.equal(cfg.clusterDomain, "k8s.example");
});

Deno.test("RELEASE_NODE without a host and RELEASE_DISTRIBUTION=name takes POD_IP without a service", async () => {
  const cfg = await load({
    RELEASE_NODE: "app",
    RELEASE_DISTRIBUTION: "name",
    POD_NAME: "app-7d9f-x2",
    POD_IP: "10.244.0.7",
  });
  assert.equal(cfg.node, "app@10.244.0.7");
  assert.equal(cfg.sources.node, "env RELEASE_NODE (host: POD_IP)");
});

Deno.test("RELEASE_NODE without a host follows hostForm and discovery a to choose POD_IP", async () => {
  const vars = {
    RELEASE_NODE: "app",
    RELEASE_DISTRIBUTION: "name",
    POD_NAME: "app-0",
    POD_IP: "10.244.0.7",
    ERLMESH_SERVICE: "app",
  };
  assert.equal((await load({ ...vars, ERLMESH_HOST_FORM: "ip" })).node, "app@10.244.0.7");
  assert.equal((await load({ ...vars, ERLMESH_DISCOVERY: "a" })).node, "app@10.244.0.7");
  assert.equal(
    (await load({ ...vars, ERLMESH_HOST_FORM: "fqdn" })).node,
    "app@app-0.app.default.svc.cluster.local",
  );
});

Deno.test("RELEASE_NODE without a host and RELEASE_DISTRIBUTION=name falls back to a FQDN host name, else fails", async () => {
  const vars = { RELEASE_NODE: "app", RELEASE_DISTRIBUTION: "name" };
  const cfg = await load(vars, { hostname: () => "box.example.com" });
  assert.equal(cfg.node, "app@box.example.com");
  const err = await load(vars, { hostname: () => "box" }).catch((e) => e);
  assert.ok(err instanceof ConfigError);
  assert.equal(err.key, "node");
  assert.equal(err.source, "env RELEASE_NODE");
  assert.match(err.message, /^Invalid node 'app' from env RELEASE_NODE: expected 'name@host', or POD_IP/);
});

Deno.test("RELEASE_NODE without a host and RELEASE_DISTRIBUTION=sname or unset takes the short host name", async () => {
  for (const dist of [undefined, "sname"]) {
    const vars: Record<string, string> = { RELEASE_NODE: "app", POD_IP: "10.244.0.7" };
    if (dist) vars.RELEASE_DISTRIBUTION = dist;
    const cfg = await load(vars, { hostname: () => "app-0.app.default.svc.cluster.local" });
    assert.equal(cfg.node, "app@app-0");
    assert.equal(cfg.sources.node, "env RELEASE_NODE (host: the short host name)");
  }
});

Deno.test("RELEASE_DISTRIBUTION=none ignores RELEASE_NODE", async () => {
  let cfg = await load({ RELEASE_NODE: "app", RELEASE_DISTRIBUTION: "none" });
  assert.equal(cfg.node, undefined);
  cfg = await load({ RELEASE_NODE: "app", RELEASE_DISTRIBUTION: "none", ERLANG_NODENAME: "x@h" });
  assert.equal(cfg.node, "x@h");
});

Deno.test("POD_NAME, POD_NAMESPACE and a service build a StatefulSet node name from the basename", async () => {
  const cfg = await load(
    {
      ERLMESH_BASENAME: "app",
      POD_NAME: "app-2",
      POD_NAMESPACE: "prod",
      POD_IP: "10.244.1.4",
      K8S_HEADLESS_SVC: "app",
    },
    { resolvConf: KUBELET_RESOLV },
  );
  assert.equal(cfg.node, "app@app-2.app.prod.svc.cluster.local");
  assert.equal(cfg.sources.node, "env POD_NAME (downward API)");
  assert.equal(cfg.namespace, "prod");
  assert.equal(cfg.sources.namespace, "env POD_NAMESPACE");
  assert.equal(cfg.basename, "app");
  assert.equal(cfg.sources.basename, "env ERLMESH_BASENAME");
  assert.deepEqual(serviceNames(cfg), ["_epmd._tcp.app.prod.svc.cluster.local."]);
});

Deno.test("POD_NAME with a service given as a FQDN builds the pod FQDN under that name", async () => {
  const cfg = await load({
    ERLMESH_BASENAME: "app",
    POD_NAME: "app-0",
    K8S_HEADLESS_SVC: '"app.other.svc.cluster.local"',
  });
  assert.equal(cfg.node, "app@app-0.app.other.svc.cluster.local");
});

Deno.test("POD_IP builds a Deployment node name from the basename when there is no service", async () => {
  const cfg = await load({ ERLMESH_BASENAME: "app", POD_NAME: "app-5d8c7-x2x9q", POD_IP: "10.244.0.7" });
  assert.equal(cfg.node, "app@10.244.0.7");
  assert.equal(cfg.sources.node, "env POD_IP (downward API)");
  const v6 = await load({ ERLMESH_BASENAME: "app", POD_IP: "fd00:10:244::7" });
  assert.equal(v6.node, "app@fd00:10:244::7");
});

Deno.test("the downward API builds no node name without a basename, and ranks below the YAML file", async () => {
  let cfg = await load({ POD_NAME: "app-0", POD_IP: "10.244.0.7", K8S_HEADLESS_SVC: "app" });
  assert.equal(cfg.node, undefined);
  assert.equal(cfg.basename, undefined);
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, "node: app@fromfile.example\nbasename: app\n");
    cfg = await load({ POD_NAME: "app-0", K8S_HEADLESS_SVC: "app" }, { file: path });
    assert.equal(cfg.node, "app@fromfile.example");
    assert.equal(cfg.sources.node, `file ${path} (key node)`);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("resolvConfDefaults() reads namespace and zone from the first search entry", () => {
  assert.deepEqual(resolvConfDefaults(KUBELET_RESOLV), {
    namespace: "default",
    clusterDomain: "cluster.local",
    entry: "default.svc.cluster.local",
  });
  const custom =
    "# kubelet\nnameserver 169.254.20.10\nsearch team-a.svc.k8s.corp.example. svc.k8s.corp.example\n";
  assert.deepEqual(resolvConfDefaults(custom), {
    namespace: "team-a",
    clusterDomain: "k8s.corp.example",
    entry: "team-a.svc.k8s.corp.example.",
  });
  assert.deepEqual(
    resolvConfDefaults("search a.svc.z\nsearch b.svc.cluster.local\n").namespace,
    "b",
    "last line wins",
  );
  assert.deepEqual(resolvConfDefaults("search  ns1.svc.cluster.local ; comment\r\n").namespace, "ns1");
  assert.deepEqual(resolvConfDefaults("nameserver 1.1.1.1\n"), {});
  assert.deepEqual(resolvConfDefaults("search example.com svc.cluster.local\n"), {});
  assert.deepEqual(resolvConfDefaults("search svc.cluster.local\n"), {});
  assert.deepEqual(resolvConfDefaults(""), {});
});

Deno.test("loadConfig() takes namespace and zone from resolv.conf below the environment", async () => {
  const resolvConf = "search team-a.svc.k8s.example svc.k8s.example k8s.example\n";
  let cfg = await load({}, { resolvConf });
  assert.equal(cfg.namespace, "team-a");
  assert.equal(cfg.clusterDomain, "k8s.example");
  assert.equal(cfg.sources.namespace, "resolv.conf (search team-a.svc.k8s.example)");
  cfg = await load({ POD_NAMESPACE: "other", ERLMESH_CLUSTER_DOMAIN: "cluster.local." }, { resolvConf });
  assert.equal(cfg.namespace, "other");
  assert.equal(cfg.clusterDomain, "cluster.local");
  assert.equal(cfg.sources.clusterDomain, "env ERLMESH_CLUSTER_DOMAIN");
});

Deno.test("serviceFqdn() keeps names with a dot and completes short names", () => {
  assert.equal(serviceFqdn("app", "ns", "cluster.local"), "app.ns.svc.cluster.local");
  assert.equal(serviceFqdn("app.ns.svc.cluster.local", "x", "cluster.local"), "app.ns.svc.cluster.local");
  assert.equal(serviceFqdn("app.ns.svc.cluster.local.", "x", "cluster.local"), "app.ns.svc.cluster.local");
});

Deno.test("a glob basename derives no node from POD_IP or POD_NAME: the local EPMD names it", async () => {
  for (const basename of ["*", "app*"]) {
    const cases: Record<string, string>[] = [{ POD_IP: "127.0.0.1" }, {
      POD_NAME: "app-0",
      POD_IP: "10.0.0.7",
    }];
    for (const vars of cases) {
      const cfg = await load({ ...vars, ERLMESH_BASENAME: basename, ERLMESH_SERVICE: "app" });
      assert.equal(cfg.node, undefined, `${basename} ${JSON.stringify(vars)}`);
      assert.equal(cfg.basename, basename);
    }
    const fromFlag = await load({ POD_IP: "127.0.0.1" }, { flags: { basename, hosts: "127.0.0.1" } });
    assert.equal(fromFlag.node, undefined);
  }
  // A plain basename still derives the node.
  assert.equal((await load({ POD_IP: "10.0.0.7", ERLMESH_BASENAME: "app" })).node, "app@10.0.0.7");
});
