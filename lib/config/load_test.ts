import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { closeKeys, loadConfig, type LoadConfigInput, serviceNames } from "./load.ts";
import { CONFIG_KEY_NAMES, CONFIG_KEYS, type ConfigKey } from "./schema.ts";

function envOf(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

async function withYaml<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ prefix: "erlmesh-config-", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

/** Loads with nothing from the machine: no env, no resolv.conf, a fixed host name. */
function load(input: LoadConfigInput = {}) {
  return loadConfig({ env: () => undefined, resolvConf: "", hostname: () => "box", ...input });
}

async function rejects(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.name, "ConfigError");
    assert.match(err.message, /^[A-Z]/, "capital first letter");
    assert.doesNotMatch(err.message, /\.$/, "no final period");
    return err;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("loadConfig() gives the defaults, each with source 'default'", async () => {
  const cfg = await load();
  assert.deepEqual({ ...cfg, sources: undefined }, {
    discovery: "epmd",
    service: [],
    namespace: "default",
    clusterDomain: "cluster.local",
    srvPortName: "epmd",
    hosts: [],
    hostForm: "auto",
    serviceAccountDir: "/var/run/secrets/kubernetes.io/serviceaccount",
    kubernetesFallback: "none",
    interval: 5000,
    fastInterval: 100,
    connectTimeout: 2000,
    rpcTimeout: 3000,
    dnsTimeout: 1000,
    concurrency: 16,
    epmdPort: 4369,
    protoDist: "inet_tcp",
    logFormat: "auto",
    logLevel: "info",
    http: "",
    readiness: "node",
    sources: undefined,
    queries: [],
    identity: {},
  });
  assert.equal(cfg.node, undefined);
  assert.equal(cfg.basename, undefined);
  assert.equal(cfg.sources.interval, "default");
  assert.equal(cfg.sources.discovery, "default");
  assert.equal(cfg.sources.node, undefined);
});

Deno.test("loadConfig() takes flags over env over YAML file over defaults, and records each source", async () => {
  await withYaml("interval: 3s\nconcurrency: 16\nlogLevel: debug\n", async (file) => {
    const env = envOf({ ERLMESH_INTERVAL: "4s", ERLMESH_CONCURRENCY: "32" });
    const flags = { interval: "5s" };

    let cfg = await load({ flags, env, file });
    assert.equal(cfg.interval, 5000);
    assert.equal(cfg.sources.interval, "flag --interval");
    assert.equal(cfg.concurrency, 32);
    assert.equal(cfg.sources.concurrency, "env ERLMESH_CONCURRENCY");
    assert.equal(cfg.logLevel, "debug");
    assert.equal(cfg.sources.logLevel, `file ${file} (key logLevel)`);
    assert.equal(cfg.rpcTimeout, 3000);
    assert.equal(cfg.sources.rpcTimeout, "default");
    assert.equal(cfg.configFile, file);

    cfg = await load({ env, file });
    assert.equal(cfg.interval, 4000);
    assert.equal(cfg.sources.interval, "env ERLMESH_INTERVAL");

    cfg = await load({ file });
    assert.equal(cfg.interval, 3000);
    assert.equal(cfg.sources.interval, `file ${file} (key interval)`);
    assert.equal(cfg.concurrency, 16);

    cfg = await load();
    assert.equal(cfg.interval, 5000);
    assert.equal(cfg.sources.interval, "default");
  });
});

Deno.test("loadConfig() reads ERLMESH_* before legacy variables, and legacy variables before the YAML file", async () => {
  await withYaml("service: [fromfile]\nhosts: [f1]\nepmdPort: 4000\nnamespace: filens\n", async (file) => {
    const legacy = {
      K8S_HEADLESS_SVC: "legacy",
      WORLD_LIST: "['l1']",
      ERL_EPMD_PORT: "4100",
      POD_NAMESPACE: "podns",
    };
    let cfg = await load({ file, env: envOf(legacy) });
    assert.deepEqual(cfg.service, ["legacy"]);
    assert.equal(cfg.sources.service, "env K8S_HEADLESS_SVC");
    assert.deepEqual(cfg.hosts, ["l1"]);
    assert.equal(cfg.sources.hosts, "env WORLD_LIST");
    assert.equal(cfg.epmdPort, 4100);
    assert.equal(cfg.sources.epmdPort, "env ERL_EPMD_PORT");
    assert.equal(cfg.namespace, "podns");
    assert.equal(cfg.sources.namespace, "env POD_NAMESPACE");

    const both = {
      ...legacy,
      ERLMESH_SERVICE: "new",
      ERLMESH_HOSTS: "n1",
      ERLMESH_EPMD_PORT: "4200",
      ERLMESH_NAMESPACE: "newns",
    };
    cfg = await load({ file, env: envOf(both) });
    assert.deepEqual([cfg.service, cfg.hosts, cfg.epmdPort, cfg.namespace], [["new"], ["n1"], 4200, "newns"]);
    assert.equal(cfg.sources.service, "env ERLMESH_SERVICE");

    cfg = await load({ file });
    assert.deepEqual([cfg.service, cfg.hosts, cfg.epmdPort, cfg.namespace], [
      ["fromfile"],
      ["f1"],
      4000,
      "filens",
    ]);
  });
});

Deno.test("loadConfig() treats an empty variable as unset, except where empty is a value", async () => {
  const cfg = await load({
    env: envOf({ ERLMESH_INTERVAL: "", ERLMESH_SERVICE: " ", ERLMESH_SRV_PORT_NAME: "", ERLMESH_HTTP: "" }),
  });
  assert.equal(cfg.sources.interval, "default");
  assert.equal(cfg.sources.service, "default");
  assert.equal(cfg.srvPortName, "");
  assert.equal(cfg.sources.srvPortName, "env ERLMESH_SRV_PORT_NAME");
  assert.equal(cfg.http, "");
  assert.equal(cfg.sources.http, "env ERLMESH_HTTP");
});

Deno.test("loadConfig() derives discovery from service or hosts", async () => {
  let cfg = await load({ env: envOf({ ERLMESH_SERVICE: "app" }) });
  assert.equal(cfg.discovery, "srv");
  assert.equal(cfg.sources.discovery, "default (service is set)");
  cfg = await load({ env: envOf({ ERLMESH_HOSTS: "h1 h2" }) });
  assert.equal(cfg.discovery, "static");
  cfg = await load({ flags: { discovery: "a", service: "app" } });
  assert.equal(cfg.discovery, "a");
  assert.equal(cfg.sources.discovery, "flag --discovery");
});

Deno.test("loadConfig() rejects discovery srv or a without a service and static without hosts", async () => {
  let err = await rejects(load({ flags: { discovery: "srv" } }));
  assert.equal(err.key, "discovery");
  assert.equal(err.source, "flag --discovery");
  assert.match(err.message, /^Invalid discovery 'srv' from flag --discovery: expected a service/);
  err = await rejects(load({ env: envOf({ ERLMESH_DISCOVERY: "static" }) }));
  assert.match(err.message, /expected a host list/);
});

Deno.test("loadConfig() accepts YAML sequences, numbers and nulls", async () => {
  const yaml =
    "hosts:\n  - h1\n  - h2.\nservice: app, other\ninterval: 1500\nepmdPort: 4370\nreadiness: 2\n" +
    "dnsServer:\n";
  await withYaml(yaml, async (file) => {
    const cfg = await load({ file });
    assert.deepEqual(cfg.hosts, ["h1", "h2"]);
    assert.deepEqual(cfg.service, ["app", "other"]);
    assert.equal(cfg.interval, 1500);
    assert.equal(cfg.epmdPort, 4370);
    assert.equal(cfg.readiness, 2);
    assert.equal(cfg.dnsServer, undefined);
    assert.equal(cfg.sources.dnsServer, undefined);
  });
});

Deno.test("loadConfig() finds the YAML file through flags.config and ERLMESH_CONFIG", async () => {
  await withYaml("logFormat: json\n", async (file) => {
    let cfg = await load({ flags: { config: file } });
    assert.equal(cfg.logFormat, "json");
    cfg = await load({ env: envOf({ ERLMESH_CONFIG: file }) });
    assert.equal(cfg.logFormat, "json");
    assert.equal(cfg.configFile, file);
  });
});

/** A bad raw value for every key, and the words its `expected` must contain. */
const BAD: Record<ConfigKey, [string, RegExp]> = {
  node: ["no-host", /alive@host/],
  basename: ["app@host", /name part of a node name/],
  discovery: ["dns", /one of 'srv', 'a', 'static', 'epmd' or 'kubernetes'/],
  service: ["bad name!", /Service names/],
  namespace: ["Bad_NS", /Kubernetes namespace/],
  clusterDomain: ["bad..zone", /DNS zone/],
  srvPortName: ["a-port-name-much-too-long", /Service port name/],
  hosts: ["host/1", /host names or IP addresses/],
  hostForm: ["name", /one of 'fqdn', 'ip' or 'auto'/],
  dnsServer: ["dns.example", /IP address/],
  kubernetesApi: ["http://10.96.0.1", /an https URL/],
  serviceAccountDir: ["/var/run\0secrets", /a file path/],
  kubernetesFallback: ["dns", /one of 'none', 'srv' or 'a'/],
  interval: ["5x", /^a duration such as 500ms, 2s or 1000 \(milliseconds\)$/],
  fastInterval: ["0", /^a duration from 1ms to 1h$/],
  connectTimeout: ["2d", /a duration/],
  rpcTimeout: ["-1", /a duration/],
  dnsTimeout: ["2h", /a duration from 1ms to 1h/],
  concurrency: ["300", /a whole number from 1 to 256/],
  cookieFile: ["/run/secret\0cookie", /a file path/],
  epmdPort: ["70000", /a whole number from 1 to 65535/],
  distPort: ["0", /a whole number from 1 to 65535/],
  protoDist: ["tls", /one of 'inet_tcp', 'inet_tls', 'inet6_tcp' or 'inet6_tls'/],
  tlsCaFile: ["/etc/ca\0.pem", /a file path/],
  tlsCertFile: ["/etc/cert\0.pem", /a file path/],
  tlsKeyFile: ["/etc/key\0.pem", /a file path/],
  logFormat: ["xml", /'auto', 'text' or 'json'|one of 'auto', 'text' or 'json'/],
  logLevel: ["warn", /one of 'debug', 'info', 'warning' or 'error'/],
  http: ["9090", /listen address/],
  readiness: ["all", /'node', 'meshed' or a whole number/],
};

function checkBad(err: ConfigError, key: ConfigKey, source: string, raw: string, expected: RegExp): void {
  assert.equal(err.code, "INVALID");
  assert.equal(err.key, key);
  assert.equal(err.source, source);
  assert.match(err.expected ?? "", expected, `${key}: ${err.expected}`);
  assert.ok(err.message.startsWith(`Invalid ${key} `), err.message);
  assert.ok(err.message.includes(`from ${source}: expected ${err.expected}`), err.message);
  if (key === "cookieFile") {
    assert.equal(err.value, undefined, "never the value of a cookie-related key");
    assert.ok(!err.message.includes(raw), err.message);
  } else {
    assert.equal(err.value, raw);
    assert.ok(err.message.includes(`'${raw}'`), err.message);
  }
}

Deno.test("loadConfig() rejects a bad value of every key from a flag, naming key, source and expected", async () => {
  assert.deepEqual(Object.keys(BAD).sort(), [...CONFIG_KEY_NAMES].sort(), "every key has a bad example");
  for (const key of CONFIG_KEY_NAMES) {
    const [raw, expected] = BAD[key];
    const err = await rejects(load({ flags: { [key]: raw } }));
    checkBad(err, key, `flag ${CONFIG_KEYS[key].flag}`, raw, expected);
  }
});

Deno.test("loadConfig() rejects a bad value of every key from ERLMESH_*, naming key, source and expected", async () => {
  for (const key of CONFIG_KEY_NAMES) {
    const [raw, expected] = BAD[key];
    const env = CONFIG_KEYS[key].env;
    const err = await rejects(load({ env: envOf({ [env]: raw }) }));
    checkBad(err, key, `env ${env}`, raw, expected);
  }
});

Deno.test("loadConfig() rejects a bad value of every key from the YAML file, naming key, source and expected", async () => {
  for (const key of CONFIG_KEY_NAMES) {
    const [raw, expected] = BAD[key];
    await withYaml(`${key}: ${JSON.stringify(raw)}\n`, async (file) => {
      const err = await rejects(load({ file }));
      checkBad(err, key, `file ${file} (key ${key})`, raw, expected);
    });
  }
});

Deno.test("loadConfig() rejects bad legacy variables, naming the variable", async () => {
  const cases: [Record<string, string>, string, string][] = [
    [{ K8S_HEADLESS_SVC: "['app.ns.svc.cluster.local'" }, "service", "env K8S_HEADLESS_SVC"],
    [{ WORLD_LIST: "['host1','host2" }, "hosts", "env WORLD_LIST"],
    [{ ERL_EPMD_PORT: "epmd" }, "epmdPort", "env ERL_EPMD_PORT"],
    [{ POD_NAMESPACE: "Not A Namespace" }, "namespace", "env POD_NAMESPACE"],
    [{ ERLANG_NODENAME: "app@host@x" }, "node", "env ERLANG_NODENAME"],
    [{ RELEASE_NODE: "bad name@host" }, "node", "env RELEASE_NODE"],
    [{ RELEASE_NODE: "app", RELEASE_DISTRIBUTION: "long" }, "node", "env RELEASE_DISTRIBUTION"],
    [{ ERLMESH_BASENAME: "app", POD_IP: "10.0.0.7/24" }, "node", "env POD_IP (downward API)"],
  ];
  for (const [vars, key, source] of cases) {
    const err = await rejects(load({ env: envOf(vars) }));
    assert.equal(err.code, "INVALID");
    assert.equal(err.key, key, JSON.stringify(vars));
    assert.equal(err.source, source, JSON.stringify(vars));
    assert.ok(err.expected, JSON.stringify(vars));
  }
});

Deno.test("loadConfig() rejects a YAML value of the wrong shape", async () => {
  await withYaml("interval: [1, 2]\n", async (file) => {
    const err = await rejects(load({ file }));
    assert.equal(err.key, "interval");
    assert.equal(err.value, '["1","2"]');
  });
  await withYaml("hosts: {a: 1}\n", async (file) => {
    const err = await rejects(load({ file }));
    assert.equal(err.key, "hosts");
    assert.equal(err.source, `file ${file} (key hosts)`);
  });
});

Deno.test("loadConfig() rejects an unknown YAML key, listing close matches", async () => {
  await withYaml("intervall: 2s\n", async (file) => {
    const err = await rejects(load({ file }));
    assert.equal(err.code, "UNKNOWN_KEY");
    assert.equal(err.key, "intervall");
    assert.equal(err.source, `file ${file} (key intervall)`);
    assert.equal(
      err.message,
      `Unknown key 'intervall' in the config file '${file}': did you mean 'interval'?`,
    );
  });
  await withYaml("srv-port-name: epmd\n", async (file) => {
    const err = await rejects(load({ file }));
    assert.match(err.message, /did you mean 'srvPortName'\?$/);
  });
  await withYaml("zzz: 1\n", async (file) => {
    const err = await rejects(load({ file }));
    assert.match(err.message, /the known keys are node, basename, discovery/);
  });
  assert.deepEqual(closeKeys("timeout"), ["rpcTimeout", "dnsTimeout", "connectTimeout"]);
  assert.deepEqual(closeKeys("fast_interval"), ["fastInterval", "interval"]);
});

Deno.test("loadConfig() rejects a cookie in the YAML file without printing it", async () => {
  for (const key of ["cookie", "erlangCookie", "Cookie"]) {
    await withYaml(`${key}: SECRETCOOKIEVALUE\n`, async (file) => {
      const err = await rejects(load({ file }));
      assert.equal(err.code, "UNKNOWN_KEY");
      assert.equal(err.key, key);
      assert.equal(err.value, undefined);
      assert.match(err.message, /use cookieFile or RELEASE_COOKIE$/);
      assert.ok(!err.message.includes("SECRETCOOKIEVALUE"));
      assert.ok(!JSON.stringify(err).includes("SECRETCOOKIEVALUE"));
    });
  }
});

Deno.test("loadConfig() reports YAML that does not parse with the parser's line and column", async () => {
  await withYaml("interval: 2s\ninterval: 3s\n", async (file) => {
    const err = await rejects(load({ file }));
    assert.equal(err.code, "FILE");
    assert.equal(err.source, `file ${file}`);
    assert.equal(
      err.message,
      `Cannot parse the config file '${file}': line 2, column 1: Map keys must be unique`,
    );
  });
  await withYaml("a: [1, 2\nb: 3\n", async (file) => {
    const err = await rejects(load({ file }));
    assert.equal(err.code, "FILE");
    assert.match(err.message, /^Cannot parse the config file '.*': line \d+, column \d+: /);
  });
  await withYaml("- interval\n- 2s\n", async (file) => {
    const err = await rejects(load({ file }));
    assert.equal(err.code, "FILE");
    assert.match(err.message, /expected a mapping of keys/);
  });
});

Deno.test("loadConfig() reports a missing YAML file, and takes an empty one as no settings", async () => {
  const err = await rejects(load({ file: "/nonexistent/erlmesh.yaml" }));
  assert.equal(err.code, "FILE");
  assert.match(err.message, /^Cannot read the config file '\/nonexistent\/erlmesh.yaml': /);
  await withYaml("# nothing here\n", async (file) => {
    const cfg = await load({ file });
    assert.equal(cfg.sources.interval, "default");
  });
});

Deno.test("serviceNames() builds absolute SRV and A names from service, namespace and zone", () => {
  const base = {
    service: ["app"],
    srvPortName: "epmd",
    namespace: "default",
    clusterDomain: "cluster.local",
  };
  assert.deepEqual(serviceNames({ ...base, discovery: "srv" }), [
    "_epmd._tcp.app.default.svc.cluster.local.",
  ]);
  assert.deepEqual(serviceNames({ ...base, discovery: "srv", srvPortName: "" }), [
    "app.default.svc.cluster.local.",
  ]);
  assert.deepEqual(serviceNames({ ...base, discovery: "a" }), ["app.default.svc.cluster.local."]);
  assert.deepEqual(
    serviceNames({ ...base, discovery: "srv", service: ["app.other.svc.example.org", "b"], namespace: "ns" }),
    ["_epmd._tcp.app.other.svc.example.org.", "_epmd._tcp.b.ns.svc.cluster.local."],
  );
  assert.deepEqual(serviceNames({ ...base, discovery: "static" }), []);
  assert.deepEqual(serviceNames({ ...base, discovery: "epmd" }), []);
});

Deno.test("loadConfig() normalizes service names, port names and hosts", async () => {
  const cfg = await load({
    env: envOf({
      ERLMESH_SERVICE: "App.Default.Svc.Cluster.Local.",
      ERLMESH_SRV_PORT_NAME: "_EPMD",
      ERLMESH_HOSTS: "h1. fd00::1,10.0.0.1",
    }),
  });
  assert.deepEqual(cfg.service, ["app.default.svc.cluster.local"]);
  assert.equal(cfg.srvPortName, "epmd");
  assert.deepEqual(cfg.hosts, ["h1", "fd00::1", "10.0.0.1"]);
  assert.deepEqual(serviceNames(cfg), ["_epmd._tcp.app.default.svc.cluster.local."]);
});

Deno.test("loadConfig() accepts the documented forms of dnsServer, http and readiness", async () => {
  for (const dns of ["10.96.0.10", "10.96.0.10:53", "[fd00::a]:53", "fd00::a"]) {
    assert.equal((await load({ flags: { dnsServer: dns } })).dnsServer, dns);
  }
  for (const http of [":9090", "0.0.0.0:9090", "[::]:9090", "localhost:8080", ""]) {
    assert.equal((await load({ flags: { http } })).http, http);
  }
  assert.equal((await load({ flags: { readiness: "meshed" } })).readiness, "meshed");
  assert.equal((await load({ flags: { readiness: "0" } })).readiness, 0);
  assert.equal((await load({ flags: { readiness: "3" } })).readiness, 3);
});

Deno.test("loadConfig() refuses --service with --hosts, and a list the chosen discovery does not use", async () => {
  await assert.rejects(
    () => load({ flags: { service: "app", hosts: "h1" } }),
    (e: unknown) =>
      e instanceof ConfigError && e.code === "CONFLICT" && /--service and --hosts/.test(e.message),
  );
  await assert.rejects(
    () => load({ flags: { discovery: "srv", service: "app", hosts: "h1" } }),
    (e: unknown) =>
      e instanceof ConfigError && e.code === "CONFLICT" && /--hosts and discovery 'srv'/.test(e.message),
  );
  // A flag chooses over an ambient variable: `--hosts` in a pod that has K8S_HEADLESS_SVC lists those hosts.
  const cfg = await load({ env: envOf({ K8S_HEADLESS_SVC: "app" }), flags: { hosts: "h1" } });
  assert.equal(cfg.discovery, "static");
  assert.equal(cfg.sources.discovery, "default (flag --hosts)");
});

Deno.test("loadConfig() reports every bad value and every unknown key, not only the first", async () => {
  const path = await Deno.makeTempFile({ prefix: "erlmesh-config-", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, "interval: soon\nconcurrency: -1\nintervall: 2s\nhostz: [a]\n");
    await assert.rejects(() => load({ file: path }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.code, "SEVERAL");
      assert.match(e.message, /intervall/);
      assert.match(e.message, /hostz/);
      return true;
    });
    await Deno.writeTextFile(path, "interval: soon\nconcurrency: -1\n");
    await assert.rejects(() => load({ file: path }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems.length, 2);
      assert.deepEqual(e.problems.map((p) => p.key), ["interval", "concurrency"]);
      assert.match(e.message, /Invalid interval 'soon'/);
      assert.match(e.message, /Invalid concurrency '-1'/);
      return true;
    });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("loadConfig() with keys reads only those: a bad value elsewhere does not fail the command", async () => {
  const env = envOf({ ERLMESH_INTERVAL: "soon", ERL_EPMD_PORT: "4400" });
  const cfg = await load({ env, keys: ["epmdPort", "cookieFile"] });
  assert.equal(cfg.epmdPort, 4400);
  assert.equal(cfg.interval, 5000);
  await assert.rejects(() => load({ env }), ConfigError);
});

Deno.test("loadConfig() derives protoDist inet_tls from a TLS file and checks the TLS keys go together", async () => {
  const tls = { ERLMESH_TLS_CA_FILE: "/etc/erlmesh/ca.pem" };
  let cfg = await load({ env: envOf(tls) });
  assert.equal(cfg.protoDist, "inet_tls");
  assert.equal(cfg.sources.protoDist, "default (tlsCaFile is set)");
  cfg = await load({ env: envOf({ ...tls, ERLMESH_PROTO_DIST: "inet6_tls" }) });
  assert.equal(cfg.protoDist, "inet6_tls");

  let err = await rejects(load({ flags: { protoDist: "inet_tls" } }));
  assert.equal(err.key, "tlsCaFile");
  assert.match(err.message, /^Invalid tlsCaFile from flag --proto-dist: expected the CA file/);

  err = await rejects(load({ env: envOf({ ...tls, ERLMESH_PROTO_DIST: "inet_tcp" }) }));
  assert.equal(err.code, "CONFLICT");
  assert.match(
    err.message,
    /^Conflicting tlsCaFile \(from env ERLMESH_TLS_CA_FILE\) and protoDist 'inet_tcp'/,
  );

  err = await rejects(load({ env: envOf({ ...tls, ERLMESH_TLS_CERT_FILE: "/etc/erlmesh/cert.pem" }) }));
  assert.equal(err.key, "tlsKeyFile");
  assert.match(err.message, /expected tlsKeyFile together with tlsCertFile/);
});
