import { localHostname } from "../dist/names.ts";
import { ConfigError, isCookieKey, severalProblems } from "./errors.ts";
import { splitHostPort } from "../bytes/address.ts";
import { podHost, podIdentity, selfIdentity, serviceFqdn } from "./identity.ts";
import { downwardApiNode, envValue, legacyNode, type NodeContext, resolvConfDefaults } from "./legacy.ts";
import {
  type Config,
  CONFIG_FILE_ENV,
  CONFIG_KEY_NAMES,
  CONFIG_KEYS,
  type ConfigKey,
  type DiscoveryKind,
  type KeySpec,
} from "./schema.ts";
import type { PodIdentity } from "./identity.ts";
import { levenshtein, ValueProblem } from "./values.ts";

/** Where {@link loadConfig} reads from. Every field is optional; tests pass their own. */
export interface LoadConfigInput {
  /**
   * Parsed command-line options keyed by camelCase key (commander's `opts()`); raw strings, parsed here.
   * `config` names the YAML file. Keys that are not configuration keys are ignored.
   * @default {}
   */
  flags?: Record<string, unknown>;
  /** Environment lookup. @default Deno.env.get (every variable unset when env access is denied) */
  env?: (name: string) => string | undefined;
  /** Path of the YAML file; overrides `flags.config` and `ERLMESH_CONFIG`. @default none */
  file?: string;
  /** The text of resolv.conf. @default the content of /etc/resolv.conf, or "" when it cannot be read */
  resolvConf?: string;
  /** This machine's host name, for `RELEASE_NODE` without a host. @default Deno.hostname() */
  hostname?: () => string;
  /**
   * The keys the caller uses: the others are not read (a bad value there cannot fail a command that
   * does not need it) and keep their plain defaults. `node` is derived only when listed.
   * @default every key
   */
  keys?: readonly ConfigKey[];
  /**
   * The name of the Elixir release the command starts (`run`): when `RELEASE_NODE` is unset, the
   * release is given `RELEASE_NODE=<name>@<pod host>` (and `RELEASE_DISTRIBUTION=name` when that is
   * unset), returned in {@link Config.releaseEnv}, and {@link Config.node} is derived as if they were set.
   * @default none
   */
  elixirRelease?: string;
}

type Raw = string | string[];

interface Found {
  raw: Raw;
  source: string;
}

/**
 * Reads an environment variable; undefined when it is unset or env access is denied. The only place
 * erlmesh reads its environment: every other layer takes values from the {@link Config}.
 */
export function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

async function readResolvConf(): Promise<string> {
  try {
    return await Deno.readTextFile("/etc/resolv.conf");
  } catch {
    return "";
  }
}

/** Turns a flag or YAML value into raw text (or list elements); undefined when it is unset. */
function toRaw(key: string, value: unknown, source: string, expected: string): Raw | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  if (
    Array.isArray(value) && value.every((v) => ["string", "number", "boolean", "bigint"].includes(typeof v))
  ) {
    return value.map(String);
  }
  throw ConfigError.invalid({ key, source, value: show(value), expected });
}

function show(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function parseFound<K extends ConfigKey>(spec: KeySpec<K>, found: Found): NonNullable<Config[K]> {
  const fields = { key: spec.key, source: found.source, value: show(found.raw) };
  if (Array.isArray(found.raw) && !spec.type.list) {
    throw ConfigError.invalid({ ...fields, expected: spec.type.expected });
  }
  try {
    return spec.type.parse(found.raw);
  } catch (err) {
    if (err instanceof ValueProblem) {
      throw ConfigError.invalid({ ...fields, expected: err.expected }, { cause: err.cause ?? err });
    }
    throw err;
  }
}

/** The known keys closest to `key` (typos, other case, kebab or snake case), best first. */
export function closeKeys(key: string, known: readonly string[] = CONFIG_KEY_NAMES): string[] {
  const norm = (s: string) => s.toLowerCase().replace(/[-_\s]/g, "");
  const k = norm(key);
  return known
    .map((name) => {
      const n = norm(name);
      const d = levenshtein(k, n);
      const close = d <= Math.max(2, Math.floor(n.length / 3)) ||
        (k.length >= 4 && (n.includes(k) || k.includes(n)));
      return { name, d, close };
    })
    .filter((c) => c.close)
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((c) => c.name);
}

function quoteList(names: string[]): string {
  const q = names.map((n) => `'${n}'`);
  return q.length === 1 ? q[0] : `${q.slice(0, -1).join(", ")} or ${q.at(-1)}`;
}

/** Reads and checks the YAML file: a mapping of known keys. */
async function readConfigFile(path: string): Promise<Map<string, unknown>> {
  const fileSource = `file ${path}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      "FILE",
      { key: "", source: fileSource },
      `Cannot read the config file '${path}': ${why}`,
      {
        cause: err,
      },
    );
  }
  // Loaded only when there is a file: start-up stays lean without one.
  const { parseDocument } = await import("yaml");
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw severalProblems(doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const what = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
      const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
      return new ConfigError(
        "FILE",
        { key: "", source: fileSource, expected: "a YAML mapping of configuration keys" },
        `Cannot parse the config file '${path}': ${where}${what}`,
        { cause: e },
      );
    }));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      "FILE",
      { key: "", source: fileSource },
      `Cannot parse the config file '${path}': ${why}`,
      {
        cause: err,
      },
    );
  }
  const values = new Map<string, unknown>();
  const problems: ConfigError[] = [];
  if (data === null || data === undefined) return values;
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError(
      "FILE",
      { key: "", source: fileSource, expected: "a YAML mapping of configuration keys" },
      `Cannot use the config file '${path}': expected a mapping of keys such as 'interval: 2s' at the top level`,
    );
  }
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const source = `${fileSource} (key ${key})`;
    if (isCookieKey(key) && key !== "cookieFile") {
      problems.push(
        new ConfigError(
          "UNKNOWN_KEY",
          { key, source, expected: "cookieFile" },
          `Unknown key '${key}' in the config file '${path}': erlmesh does not read the cookie from its config file; ` +
            "use cookieFile or RELEASE_COOKIE",
        ),
      );
      continue;
    }
    if (!Object.hasOwn(CONFIG_KEYS, key)) {
      const close = closeKeys(key);
      const hint = close.length > 0
        ? `did you mean ${quoteList(close)}?`
        : `the known keys are ${CONFIG_KEY_NAMES.join(", ")}`;
      problems.push(
        new ConfigError(
          "UNKNOWN_KEY",
          {
            key,
            source,
            expected: close.length > 0 ? quoteList(close) : `one of ${CONFIG_KEY_NAMES.join(", ")}`,
          },
          `Unknown key '${key}' in the config file '${path}': ${hint}`,
        ),
      );
      continue;
    }
    values.set(key, value);
  }
  if (problems.length > 0) throw severalProblems(problems);
  return values;
}

/**
 * Loads the configuration. Each key comes from the first layer that has it:
 *
 * 1. `flags` (`--interval`),
 * 2. the environment: `ERLMESH_*` first, then the legacy variables (`RELEASE_NODE`, `ERLANG_NODENAME`,
 *    `K8S_HEADLESS_SVC`, `WORLD_LIST`, `POD_NAMESPACE`, `ERL_EPMD_PORT`),
 * 3. the YAML file (`file`, `flags.config` or `ERLMESH_CONFIG`),
 * 4. defaults, some derived: namespace and zone from resolv.conf, `discovery` from `service`/`hosts`,
 *    `node` from the downward API (`POD_NAME`, `POD_IP`) and `basename` from `node`.
 *
 * `sources` records where each value came from. Any bad value is a {@link ConfigError}.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./load.ts";
 * const env: Record<string, string> = { K8S_HEADLESS_SVC: "['app']", POD_IP: "10.0.0.7", ERLMESH_BASENAME: "app" };
 * const cfg = await loadConfig({ env: (n) => env[n], resolvConf: "" });
 * cfg.node; // "app@10.0.0.7" when POD_NAME is unset
 * ```
 */
export async function loadConfig(input: LoadConfigInput = {}): Promise<Config> {
  const flags = input.flags ?? {};
  const env = input.env ?? safeEnv;
  const hostname = input.hostname ?? localHostname;

  let configFile: string | undefined;
  if (input.file !== undefined) configFile = input.file;
  else if (typeof flags.config === "string" && flags.config !== "") configFile = flags.config;
  else configFile = envValue(env, CONFIG_FILE_ENV);
  const file = configFile === undefined ? new Map<string, unknown>() : await readConfigFile(configFile);
  const resolv = resolvConfDefaults(input.resolvConf ?? await readResolvConf());

  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const set = (key: string, value: unknown, source: string) => {
    if (value === undefined) return;
    values[key] = value;
    sources[key] = source;
  };

  /** Flag, then `ERLMESH_*`, then plain aliases; `legacy` runs between env and file. */
  const explicit = <K extends ConfigKey>(
    key: K,
    legacy?: () => { raw: string; source: string } | undefined,
  ): { value: NonNullable<Config[K]>; source: string } | undefined => {
    const spec = CONFIG_KEYS[key] as KeySpec<K>;
    const parse = (found: Found) => ({ value: parseFound(spec, found), source: found.source });
    const flagSource = `flag ${spec.flag}`;
    const flag = toRaw(key, flags[key], flagSource, spec.type.expected);
    if (flag !== undefined) return parse({ raw: flag, source: flagSource });
    for (const name of [spec.env, ...spec.aliases]) {
      const v = env(name);
      if (v === undefined) continue;
      if (v.trim() === "" && !(spec.allowEmpty && name === spec.env)) continue;
      return parse({ raw: v, source: `env ${name}` });
    }
    const fromLegacy = legacy?.();
    if (fromLegacy !== undefined) return parse(fromLegacy);
    if (file.has(key)) {
      const fileSource = `file ${configFile} (key ${key})`;
      const raw = toRaw(key, file.get(key), fileSource, spec.type.expected);
      if (raw !== undefined) return parse({ raw, source: fileSource });
    }
    return undefined;
  };

  const withDefault = (key: ConfigKey) => {
    const found = explicit(key);
    if (found !== undefined) set(key, found.value, found.source);
    else set(key, CONFIG_KEYS[key].default, "default");
  };

  const wanted = new Set(input.keys ?? CONFIG_KEY_NAMES);
  const problems: ConfigError[] = [];
  const collect = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err);
    }
  };
  for (const key of CONFIG_KEY_NAMES) {
    if (key === "node" || key === "basename" || key === "discovery") continue;
    if (!wanted.has(key)) {
      if (CONFIG_KEYS[key].default !== undefined) set(key, CONFIG_KEYS[key].default, "default");
      continue;
    }
    collect(() => {
      if (key === "namespace" || key === "clusterDomain") {
        const found = explicit(key);
        if (found !== undefined) set(key, found.value, found.source);
        else if (resolv[key] !== undefined) set(key, resolv[key], `resolv.conf (search ${resolv.entry})`);
        else set(key, key === "namespace" ? "default" : "cluster.local", "default");
        return;
      }
      if (key === "kubernetesApi") {
        // In a pod, Kubernetes sets KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
        const found = explicit(key) ?? inClusterApi(env);
        if (found !== undefined) set(key, found.value, found.source);
        return;
      }
      withDefault(key);
    });
  }
  if (wanted.has("protoDist")) collect(() => resolveProtoDist(values, sources));
  if (!wanted.has("namespace")) set("namespace", resolv.namespace ?? "default", "default");
  if (!wanted.has("clusterDomain")) set("clusterDomain", resolv.clusterDomain ?? "cluster.local", "default");
  values.service ??= [];
  values.hosts ??= [];

  const service = values.service as string[];
  const hosts = values.hosts as string[];
  collect(() => {
    if (!wanted.has("discovery")) return;
    const discovery = explicit("discovery");
    if (discovery !== undefined) {
      set("discovery", discovery.value, discovery.source);
      checkDiscovery(discovery.value, discovery.source, service, hosts);
      if (
        discovery.value === "kubernetes" && wanted.has("kubernetesApi") &&
        values.kubernetesApi === undefined &&
        !problems.some((p) => p.key === "kubernetesApi") // a bad value is reported already
      ) {
        throw ConfigError.invalid({
          key: "kubernetesApi",
          source: discovery.source,
          expected:
            "the API server with discovery 'kubernetes': --kubernetes-api, or KUBERNETES_SERVICE_HOST and " +
            "KUBERNETES_SERVICE_PORT, which Kubernetes sets in every pod",
        });
      }
      checkUnused(discovery.value, discovery.source, sources, flags);
    } else if (flags.service !== undefined && flags.hosts !== undefined) {
      throw new ConfigError(
        "CONFLICT",
        { key: "discovery", source: "flags --service and --hosts", expected: "one discovery source" },
        "Conflicting --service and --hosts: expected one discovery source; drop one, or choose with " +
          "--discovery srv, a or static",
      );
    } else if (flags.hosts !== undefined && hosts.length > 0) {
      set("discovery", "static", "default (flag --hosts)");
    } else if (service.length > 0) set("discovery", "srv", "default (service is set)");
    else if (hosts.length > 0) set("discovery", "static", "default (hosts are set)");
    else set("discovery", "epmd", "default");
  });
  values.discovery ??= "epmd";

  if (!wanted.has("discovery")) set("discovery", "epmd", "default");

  let pod: PodIdentity = {};
  let releaseEnv: Record<string, string> | undefined;
  if (wanted.has("node") || wanted.has("basename")) {
    collect(() => {
      pod = podIdentity({
        podName: envValue(env, "POD_NAME"),
        podIp: envValue(env, "POD_IP"),
        service,
        namespace: values.namespace as string,
        clusterDomain: values.clusterDomain as string,
      });
    });
  }
  const hostForm = values.hostForm as Config["hostForm"];
  const discovery = values.discovery as DiscoveryKind;
  let nodeEnv = env;
  if (input.elixirRelease !== undefined) {
    releaseEnv = elixirReleaseEnv(input.elixirRelease, podHost(pod, hostForm, discovery)?.host, env);
    const added = releaseEnv;
    nodeEnv = (name) => added[name] ?? env(name);
  }
  const ctx: NodeContext = { env: nodeEnv, pod, hostForm, discovery, hostname };
  if (wanted.has("node") || wanted.has("basename")) {
    collect(() => {
      const basename = explicit("basename");
      if (basename !== undefined) set("basename", basename.value, basename.source);
      const node = explicit("node", () => legacyNode(ctx)) ??
        fromDerived("node", downwardApiNode(basename?.value, ctx));
      if (node !== undefined) {
        set("node", node.value, node.source);
        if (basename === undefined) {
          set("basename", node.value.slice(0, node.value.indexOf("@")), "default (from node)");
        }
      }
    });
  }
  if (values.distPort !== undefined) collect(() => checkEpmdLess(values, sources, wanted));
  if (problems.length > 0) throw severalProblems(problems);

  const ordered: Record<string, unknown> = {};
  for (const key of CONFIG_KEY_NAMES) if (key in values) ordered[key] = values[key];
  const cfg = { ...ordered, sources } as unknown as Config;
  if (configFile !== undefined) cfg.configFile = configFile;
  cfg.queries = serviceNames(cfg);
  const ns = cfg.dnsServer ? splitHostPort(cfg.dnsServer) : undefined;
  if (ns !== undefined) cfg.nameServer = { ipAddr: ns.host, port: ns.port ?? 53 };
  cfg.identity = wanted.has("node") || wanted.has("basename") ? selfIdentity(cfg.node, pod) : {};
  if (releaseEnv !== undefined) cfg.releaseEnv = releaseEnv;
  return cfg;
}

/**
 * The variables `run` gives an Elixir release that has no identity of its own: long names
 * (`RELEASE_DISTRIBUTION=name`, when unset) and `RELEASE_NODE=<name>@<host>` (when unset), `host`
 * being this pod's host by the one rule (`podHost`). Nothing without a host; never the cookie.
 */
function elixirReleaseEnv(
  name: string,
  host: string | undefined,
  env: (name: string) => string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (host === undefined || name === "") return out;
  if (envValue(env, "RELEASE_DISTRIBUTION") === undefined) out.RELEASE_DISTRIBUTION = "name";
  if (envValue(env, "RELEASE_NODE") === undefined) out.RELEASE_NODE = `${name}@${host}`;
  return out;
}

function fromDerived(
  key: "node",
  found: { raw: string; source: string } | undefined,
): { value: string; source: string } | undefined {
  if (found === undefined) return undefined;
  return { value: parseFound(CONFIG_KEYS[key], found), source: found.source };
}

const TLS_FILE_KEYS = ["tlsCaFile", "tlsCertFile", "tlsKeyFile"] as const;

/**
 * `protoDist` defaults to `inet_tls` when a TLS file is set; TLS needs `tlsCaFile`, a certificate comes
 * with its key, and TLS files with an explicit TCP `protoDist` are a conflict, never silently unused.
 */
function resolveProtoDist(values: Record<string, unknown>, sources: Record<string, string>): void {
  const files = TLS_FILE_KEYS.filter((k) => values[k] !== undefined);
  if (values.protoDist === undefined) return; // its own value was bad: reported already
  let proto = values.protoDist as string;
  if (sources.protoDist === "default" && files.length > 0) {
    proto = "inet_tls";
    values.protoDist = proto;
    sources.protoDist = `default (${files[0]} is set)`;
  }
  const tls = proto.endsWith("_tls");
  if (!tls && files.length > 0) {
    throw new ConfigError(
      "CONFLICT",
      { key: files[0], source: sources[files[0]], expected: "protoDist inet_tls or inet6_tls" },
      `Conflicting ${files[0]} (from ${
        sources[files[0]]
      }) and protoDist '${proto}' (from ${sources.protoDist}): ` +
        "TLS files are used only with protoDist inet_tls or inet6_tls; drop them or choose a TLS protoDist",
    );
  }
  if (tls && values.tlsCaFile === undefined) {
    throw ConfigError.invalid({
      key: "tlsCaFile",
      source: sources.protoDist,
      expected:
        `the CA file the nodes' certificates chain to (--tls-ca-file or ERLMESH_TLS_CA_FILE) with protoDist '${proto}'`,
    });
  }
  if ((values.tlsCertFile === undefined) !== (values.tlsKeyFile === undefined)) {
    const [has, lacks] = values.tlsCertFile === undefined
      ? ["tlsKeyFile", "tlsCertFile"]
      : ["tlsCertFile", "tlsKeyFile"];
    throw ConfigError.invalid({
      key: lacks,
      source: sources[has],
      expected: `${lacks} together with ${has} (a certificate and its private key)`,
    });
  }
}

/**
 * Nodes run without EPMD (`distPort`) are named `basename@host` from discovered hosts: a glob
 * basename cannot name them.
 */
function checkEpmdLess(
  values: Record<string, unknown>,
  sources: Record<string, string>,
  wanted: Set<string>,
): void {
  const from = `distPort (from ${sources.distPort})`;
  const basename = values.basename as string | undefined;
  if (wanted.has("basename") && basename?.includes("*")) {
    throw new ConfigError(
      "CONFLICT",
      { key: "basename", source: sources.basename, expected: "a basename without '*' with distPort" },
      `Conflicting ${from} and basename '${basename}' (from ${sources.basename}): without EPMD each peer is ` +
        "named '<basename>@<host>', which needs a basename without '*'",
    );
  }
}

/** A list given on the command line that the chosen discovery does not use is a conflict, not a silent no-op. */
function checkUnused(
  discovery: DiscoveryKind,
  source: string,
  sources: Record<string, string>,
  flags: Record<string, unknown>,
): void {
  const unused = discovery === "static" ? "service" : discovery === "epmd" ? undefined : "hosts";
  for (const key of unused ? [unused] : ["service", "hosts"]) {
    if (flags[key] === undefined) continue;
    throw new ConfigError(
      "CONFLICT",
      { key, source: sources[key], expected: `no --${key} with discovery '${discovery}'` },
      `Conflicting --${key} and discovery '${discovery}' (from ${source}): discovery '${discovery}' does not use ` +
        `${key === "hosts" ? "a host list" : "a service"}; drop --${key} or change --discovery`,
    );
  }
}

/** The API server a pod is given: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`. */
function inClusterApi(
  env: (name: string) => string | undefined,
): { value: string; source: string } | undefined {
  const host = envValue(env, "KUBERNETES_SERVICE_HOST");
  if (host === undefined) return undefined;
  const port = envValue(env, "KUBERNETES_SERVICE_PORT") ?? "443";
  const source = "env KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT";
  const raw = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return { value: parseFound(CONFIG_KEYS.kubernetesApi, { raw, source }), source };
}

function checkDiscovery(discovery: DiscoveryKind, source: string, service: string[], hosts: string[]): void {
  if ((discovery === "srv" || discovery === "a" || discovery === "kubernetes") && service.length === 0) {
    throw ConfigError.invalid({
      key: "discovery",
      source,
      value: discovery,
      expected:
        `a service (--service, ERLMESH_SERVICE or K8S_HEADLESS_SVC) to query with discovery '${discovery}'`,
    });
  }
  if (discovery === "static" && hosts.length === 0) {
    throw ConfigError.invalid({
      key: "discovery",
      source,
      value: discovery,
      expected: "a host list (--hosts, ERLMESH_HOSTS or WORLD_LIST) with discovery 'static'",
    });
  }
}

/**
 * The absolute DNS names to query, with a trailing dot, one per service: for discovery `srv`,
 * `_<srvPortName>._tcp.<svc FQDN>.` (or `<svc FQDN>.` when `srvPortName` is empty); for `a`,
 * `<svc FQDN>.`; none for `static` and `epmd`. A service with a dot is taken as a FQDN, otherwise it
 * becomes `<service>.<namespace>.svc.<clusterDomain>`.
 *
 * @example
 * ```ts
 * import { serviceNames } from "./load.ts";
 * serviceNames({ discovery: "srv", service: ["app"], srvPortName: "epmd", namespace: "default", clusterDomain: "cluster.local" });
 * // ["_epmd._tcp.app.default.svc.cluster.local."]
 * ```
 */
export function serviceNames(
  cfg: Pick<Config, "discovery" | "service" | "srvPortName" | "namespace" | "clusterDomain">,
): string[] {
  if (cfg.discovery !== "srv" && cfg.discovery !== "a") return [];
  return cfg.service.map((s) => {
    const fqdn = serviceFqdn(s, cfg.namespace, cfg.clusterDomain);
    return cfg.discovery === "srv" && cfg.srvPortName !== ""
      ? `_${cfg.srvPortName}._tcp.${fqdn}.`
      : `${fqdn}.`;
  });
}
