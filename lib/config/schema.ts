/**
 * The one table of configuration keys. Parsing (load.ts), the command-line options (cli/options.ts) and
 * docs/configuration.md (tools/config_doc.ts) are all derived from {@link CONFIG_KEYS}; the value
 * parsers are in values.ts.
 * @module
 */
import {
  aliveName,
  dnsServer,
  duration,
  hostList,
  integer,
  listenAddress,
  namespaceName,
  nodeName,
  oneOf,
  path,
  portName,
  type Readiness,
  readiness,
  serviceList,
  ValueProblem,
  type ValueType,
  zoneName,
} from "./values.ts";
import type { NameServer } from "../discovery/resolver.ts";
import type { PodIdentity } from "./identity.ts";
import type { ProtoDist } from "../dist/transport.ts";

export type { Readiness, ValueType } from "./values.ts";
export type { ProtoDist } from "../dist/transport.ts";

/**
 * How peers are found: SRV records, A/AAAA records, a static host list, the local EPMD only, or the
 * Service's EndpointSlices through the Kubernetes API.
 */
export type DiscoveryKind = "srv" | "a" | "static" | "epmd" | "kubernetes";
/** What discovery `kubernetes` asks when the API refuses it (403): nothing, or the Service's DNS. */
export type KubernetesFallback = "none" | "srv" | "a";
/** How a discovered host becomes the host part of a node name. */
export type HostForm = "fqdn" | "ip" | "auto";
/** Log output format; `auto` picks text on a terminal and JSON otherwise. */
export type LogFormat = "auto" | "text" | "json";
/** The lowest level that is logged. */
export type LogLevel = "debug" | "info" | "warning" | "error";

/** The whole configuration, after flags, environment, YAML file and defaults were merged. */
export interface Config {
  /** The local node to mesh, `alive@host`; undefined when nothing names or implies it. */
  node?: string;
  /** The alive part peers are expected to have; defaults to the alive part of {@link Config.node}. */
  basename?: string;
  /** How peers are found. */
  discovery: DiscoveryKind;
  /** Headless Services to query: short names (`app`) or FQDNs, lowercase, without trailing dot. */
  service: string[];
  /** The namespace of short service names. */
  namespace: string;
  /** The cluster DNS zone, without trailing dot. */
  clusterDomain: string;
  /** The port name of the SRV query `_<name>._tcp.<svc>`; `""` queries the bare Service name. */
  srvPortName: string;
  /** The static host list (discovery `static`), without trailing dots. */
  hosts: string[];
  /** How a discovered host becomes the host part of a node name. */
  hostForm: HostForm;
  /** The DNS server, `ip` or `ip:port`; undefined for the system resolver. */
  dnsServer?: string;
  /** The Kubernetes API server for discovery `kubernetes`, `https://host:port`; undefined outside a pod. */
  kubernetesApi?: string;
  /** The directory of the pod's service-account `token` and `ca.crt`, for discovery `kubernetes`. */
  serviceAccountDir: string;
  /** What discovery `kubernetes` asks instead when the API refuses it (403). */
  kubernetesFallback: KubernetesFallback;
  /** Steady-state reconcile interval, in milliseconds. */
  interval: number;
  /** Reconcile interval while any peer is missing, in milliseconds. */
  fastInterval: number;
  /** Deadline of one connection attempt (EPMD plus handshake), in milliseconds. */
  connectTimeout: number;
  /** Deadline of one remote call, in milliseconds. */
  rpcTimeout: number;
  /** Deadline of one DNS query, in milliseconds. */
  dnsTimeout: number;
  /** How many peers are contacted at the same time. */
  concurrency: number;
  /** The file holding the Erlang cookie; undefined to use RELEASE_COOKIE and the other usual places. */
  cookieFile?: string;
  /** The port EPMD listens on. */
  epmdPort: number;
  /** The distribution port of every node, for nodes that run without EPMD; undefined to ask EPMD. */
  distPort?: number;
  /** How nodes carry the distribution, as their `-proto_dist`. */
  protoDist: ProtoDist;
  /** The CA certificate file the nodes' TLS certificates must chain to. */
  tlsCaFile?: string;
  /** The certificate file erlmesh presents to TLS nodes. */
  tlsCertFile?: string;
  /** The private key file of {@link Config.tlsCertFile}. */
  tlsKeyFile?: string;
  /** Log output format. */
  logFormat: LogFormat;
  /** The lowest level that is logged. */
  logLevel: LogLevel;
  /** The `host:port` the health and metrics server listens on; `""` when it is off. */
  http: string;
  /** When erlmesh reports ready. */
  readiness: Readiness;
  /** The YAML file that was read, if any. */
  configFile?: string;
  /** For each key that has a value: where it came from (`flag --interval`, `env ERLMESH_INTERVAL`, `default`, …). */
  sources: Record<string, string>;

  // Resolved from the keys above by loadConfig: consumers map these, they never derive them again.

  /**
   * The absolute DNS names to query, with a trailing dot, one per service: `_<srvPortName>._tcp.<svc FQDN>.`
   * for discovery `srv` (`<svc FQDN>.` when `srvPortName` is empty), `<svc FQDN>.` for `a`; none otherwise.
   */
  queries: string[];
  /** The DNS server to ask, from {@link Config.dnsServer} (port 53 when it names none); undefined for the system resolver. */
  nameServer?: NameServer;
  /**
   * This pod as its Service lists it, for recognising it in an answer: the host of `node` when that is a
   * name, else `<POD_NAME>.<svc FQDN>`; `POD_IP`, else the host of `node` when that is an IP. Empty when
   * the command does not read `node`.
   */
  identity: PodIdentity;
  /**
   * Only with `LoadConfigInput.elixirRelease`: the variables an Elixir release gets when it has no identity of its
   * own (`RELEASE_DISTRIBUTION=name`, `RELEASE_NODE=<name>@<pod host>`); {@link Config.node} already
   * takes them into account.
   */
  releaseEnv?: Record<string, string>;
}

/** The fields of {@link Config} that loadConfig resolves from the keys. */
export type ResolvedField = "queries" | "nameServer" | "identity" | "releaseEnv";

/** The name of a configuration key. */
export type ConfigKey = Exclude<keyof Config, "sources" | "configFile" | ResolvedField>;

// ---------------------------------------------------------------------------------------------
// The table

/** A legacy environment variable, documented with the key it feeds. */
export interface LegacyVariable {
  /** The variable's name. */
  readonly name: string;
  /** What it holds and how it is read. */
  readonly doc: string;
}

/** One configuration key: how it is named in each layer, parsed, defaulted and documented. */
export interface KeySpec<K extends ConfigKey = ConfigKey> {
  /** The camelCase name; also the YAML key and the commander attribute. */
  readonly key: K;
  /** The long flag, `--kebab-case`. */
  readonly flag: string;
  /** The flag's argument name in help text. */
  readonly arg: string;
  /** The `ERLMESH_*` variable. */
  readonly env: string;
  /** Other variables read, after {@link KeySpec.env}, with the same parser (`K8S_HEADLESS_SVC`, …). */
  readonly aliases: readonly string[];
  /** All legacy variables that can feed this key, for the docs (aliases and those read by legacy.ts). */
  readonly legacy: readonly LegacyVariable[];
  /** Checks and converts raw text. */
  readonly type: ValueType<NonNullable<Config[K]>>;
  /** The plain default, when there is one that does not depend on other keys. */
  readonly default?: NonNullable<Config[K]>;
  /** The default as documented (may describe a derivation). */
  readonly defaultDoc: string;
  /** One line of meaning. */
  readonly doc: string;
  /** When true, an empty value (`ERLMESH_HTTP=`) is a value; otherwise an empty variable counts as unset. */
  readonly allowEmpty: boolean;
}

interface KeyInput<K extends ConfigKey> {
  arg: string;
  type: ValueType<NonNullable<Config[K]>>;
  default?: NonNullable<Config[K]>;
  defaultDoc?: string;
  doc: string;
  aliases?: readonly LegacyVariable[];
  legacy?: readonly LegacyVariable[];
  allowEmpty?: boolean;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function defineKeys<T extends { [K in ConfigKey]: KeyInput<K> }>(input: T): { [K in ConfigKey]: KeySpec<K> } {
  const out: Record<string, KeySpec> = {};
  for (const [key, k] of Object.entries(input) as [ConfigKey, KeyInput<ConfigKey>][]) {
    const type = k.type as ValueType<unknown>;
    out[key] = {
      key,
      flag: `--${kebab(key)}`,
      arg: k.arg,
      env: `ERLMESH_${kebab(key).replaceAll("-", "_").toUpperCase()}`,
      aliases: (k.aliases ?? []).map((a) => a.name),
      legacy: [...(k.aliases ?? []), ...(k.legacy ?? [])],
      type: k.type,
      default: k.default,
      defaultDoc: k.defaultDoc ?? (k.default === undefined ? "none" : `\`${type.format(k.default)}\``),
      doc: k.doc,
      allowEmpty: k.allowEmpty ?? false,
    } as KeySpec;
  }
  return out as { [K in ConfigKey]: KeySpec<K> };
}

const MAX_DURATION = 3_600_000;

const HTTPS_URL_EXPECTED = "an https URL with a host and an optional port, such as 'https://10.96.0.1:443'";
/** An `https://host[:port]` URL without path, query or credentials; kept without a trailing slash. */
const httpsUrl: ValueType<string> = {
  expected: HTTPS_URL_EXPECTED,
  list: false,
  parse(raw) {
    if (typeof raw !== "string") throw new ValueProblem(HTTPS_URL_EXPECTED);
    let url: URL;
    try {
      url = new URL(raw.trim());
    } catch (err) {
      throw new ValueProblem(HTTPS_URL_EXPECTED, { cause: err });
    }
    const bare = url.pathname === "/" && url.search === "" && url.hash === "" && url.username === "" &&
      url.password === "";
    if (url.protocol !== "https:" || url.hostname === "" || !bare) throw new ValueProblem(HTTPS_URL_EXPECTED);
    return url.origin;
  },
  format: String,
};

/** Every configuration key, by name. The order here is the order of the docs and of `--help`. */
export const CONFIG_KEYS: { readonly [K in ConfigKey]: KeySpec<K> } = defineKeys({
  node: {
    arg: "name",
    type: nodeName,
    defaultDoc: "`<basename>@<pod FQDN>` with POD_NAME and a service, else `<basename>@<POD_IP>`, else none",
    doc: "The local node to mesh, `alive@host`, exactly as it was started (`-name`)",
    legacy: [
      {
        name: "RELEASE_NODE",
        doc:
          "Elixir release node, `name` or `name@host`. Without a host: with RELEASE_DISTRIBUTION=name the host is " +
          "the pod FQDN (POD_NAME and a service set) or POD_IP; with sname (the default) the short host name",
      },
      {
        name: "RELEASE_DISTRIBUTION",
        doc: "Elixir release: `name`, `sname` (default) or `none`; read with RELEASE_NODE",
      },
      { name: "ERLANG_NODENAME", doc: "The full node name, `alive@host`" },
      {
        name: "POD_NAME",
        doc:
          "Downward API `metadata.name`: with a service, the default node is `<basename>@<POD_NAME>.<svc FQDN>`",
      },
      {
        name: "POD_IP",
        doc: "Downward API `status.podIP`: otherwise the default node is `<basename>@<POD_IP>`",
      },
    ],
  },
  basename: {
    arg: "alive",
    type: aliveName,
    defaultDoc: "the alive part of `node`, else none",
    doc: "The alive part (before `@`) that peers are expected to have",
  },
  discovery: {
    arg: "method",
    type: oneOf<DiscoveryKind>(["srv", "a", "static", "epmd", "kubernetes"]),
    defaultDoc: "`srv` when a service is set, `static` when hosts are set, else `epmd`",
    doc:
      "How peers are found: SRV records, A/AAAA records, the static host list, the local EPMD only, or the " +
      "Service's EndpointSlices watched through the Kubernetes API",
  },
  service: {
    arg: "names",
    type: serviceList,
    default: [],
    defaultDoc: "none",
    doc: "Headless Service(s), `app` or `app.default.svc.cluster.local`; a comma-separated list queries each",
    aliases: [
      {
        name: "K8S_HEADLESS_SVC",
        doc: 'The service, plain, quoted (`"app.default.svc.cluster.local"`) or as a list ' +
          '(`[\'app.ns.svc.cluster.local\']`, `["a","b"]`)',
      },
    ],
  },
  namespace: {
    arg: "ns",
    type: namespaceName,
    defaultDoc: "the namespace of the first resolv.conf `search` entry `<ns>.svc.<zone>`, else `default`",
    doc: "The namespace of short service names",
    aliases: [{ name: "POD_NAMESPACE", doc: "Downward API `metadata.namespace`" }],
  },
  clusterDomain: {
    arg: "zone",
    type: zoneName,
    defaultDoc: "the zone of the first resolv.conf `search` entry `<ns>.svc.<zone>`, else `cluster.local`",
    doc: "The cluster DNS zone",
  },
  srvPortName: {
    arg: "name",
    type: portName,
    default: "epmd",
    doc: "The Service port name of the SRV query `_<name>._tcp.<svc>`; empty queries the bare Service name",
    allowEmpty: true,
  },
  hosts: {
    arg: "hosts",
    type: hostList,
    default: [],
    defaultDoc: "none",
    doc: "Static host list, separated by commas or spaces",
    aliases: [
      {
        name: "WORLD_LIST",
        doc:
          "The host list as an Erlang list (`['host1','host2']`, `[\"host1\", \"host2\"]`) or `host1 host2`",
      },
    ],
  },
  hostForm: {
    arg: "form",
    type: oneOf<HostForm>(["fqdn", "ip", "auto"]),
    default: "auto",
    doc:
      "How a discovered host becomes a node's host part: `auto` takes SRV targets as FQDNs, A answers as IPs " +
      "and static hosts as given",
  },
  dnsServer: {
    arg: "addr",
    type: dnsServer,
    defaultDoc: "none (the system resolver)",
    doc: "DNS server to query, `ip` or `ip:port`",
  },
  kubernetesApi: {
    arg: "url",
    type: httpsUrl,
    defaultDoc: "`https://<KUBERNETES_SERVICE_HOST>:<KUBERNETES_SERVICE_PORT>` (set in every pod), else none",
    doc: "The Kubernetes API server that discovery `kubernetes` watches the Service's EndpointSlices at",
  },
  serviceAccountDir: {
    arg: "path",
    type: path,
    default: "/var/run/secrets/kubernetes.io/serviceaccount",
    doc: "Directory of the pod's service-account `token` (read again before each request) and `ca.crt`, " +
      "for discovery `kubernetes`",
  },
  kubernetesFallback: {
    arg: "method",
    type: oneOf<KubernetesFallback>(["none", "srv", "a"]),
    default: "none",
    doc:
      "What discovery `kubernetes` asks while the API refuses it (403, a missing Role): nothing (an error " +
      "naming the permission), or the Service's SRV or A/AAAA records",
  },
  interval: {
    arg: "duration",
    type: duration(1, MAX_DURATION),
    default: 5000,
    doc: "Steady-state reconcile interval (the settle window after a change polls every 500 ms)",
  },
  fastInterval: {
    arg: "duration",
    type: duration(1, MAX_DURATION),
    default: 100,
    doc: "Retry interval of a missing peer (for 30 s, then every 2 s), and the fastest reconcile interval",
  },
  connectTimeout: {
    arg: "duration",
    type: duration(1, MAX_DURATION),
    default: 2000,
    doc: "Deadline of one connection attempt (EPMD and handshake)",
  },
  rpcTimeout: {
    arg: "duration",
    type: duration(1, MAX_DURATION),
    default: 3000,
    doc: "Deadline of one remote call",
  },
  dnsTimeout: {
    arg: "duration",
    type: duration(1, MAX_DURATION),
    default: 1000,
    doc: "Deadline of one DNS query",
  },
  concurrency: {
    arg: "n",
    type: integer(1, 256),
    default: 16,
    doc: "How many peers are contacted at the same time",
  },
  cookieFile: {
    arg: "path",
    type: path,
    defaultDoc: "none (RELEASE_COOKIE, ERLANG_COOKIE, CLUSTER_ERLANG_COOKIE, ~/.erlang.cookie)",
    doc: "File holding the Erlang cookie; there is no key for the cookie itself",
  },
  epmdPort: {
    arg: "port",
    type: integer(1, 65535),
    default: 4369,
    doc: "The port EPMD listens on",
    aliases: [{ name: "ERL_EPMD_PORT", doc: "The EPMD port, as OTP reads it" }],
  },
  distPort: {
    arg: "port",
    type: integer(1, 65535),
    defaultDoc: "none (ask EPMD)",
    doc: "The distribution port of nodes run without EPMD: erlmesh dials it and never asks EPMD",
    aliases: [{
      name: "ERL_DIST_PORT",
      doc: "The distribution port, as a relx release's start script reads it (it then starts no EPMD)",
    }],
  },
  protoDist: {
    arg: "proto",
    type: oneOf<ProtoDist>(["inet_tcp", "inet_tls", "inet6_tcp", "inet6_tls"]),
    default: "inet_tcp",
    defaultDoc: "`inet_tls` when a TLS file is set, else `inet_tcp`",
    doc: "The nodes' `-proto_dist`: TCP or TLS over IPv4 or IPv6 (EPMD is always plain TCP)",
  },
  tlsCaFile: {
    arg: "path",
    type: path,
    doc: "PEM file of the CA(s) that sign the nodes' TLS certificates (their `cacertfile`)",
  },
  tlsCertFile: {
    arg: "path",
    type: path,
    doc: "PEM certificate (chain) erlmesh presents to TLS nodes, signed by a CA they trust",
  },
  tlsKeyFile: {
    arg: "path",
    type: path,
    doc: "PEM private key of tlsCertFile",
  },
  logFormat: {
    arg: "format",
    type: oneOf<LogFormat>(["auto", "text", "json"]),
    default: "auto",
    doc: "Log format; `auto` is text on a terminal, JSON otherwise",
  },
  logLevel: {
    arg: "level",
    type: oneOf<LogLevel>(["debug", "info", "warning", "error"]),
    default: "info",
    doc: "The lowest level logged",
  },
  http: {
    arg: "addr",
    type: listenAddress,
    default: "",
    defaultDoc: '`""` (off)',
    doc: "Listen address `host:port` of the health and metrics server; empty turns it off",
    allowEmpty: true,
  },
  readiness: {
    arg: "when",
    type: readiness,
    default: "node",
    doc:
      "When erlmesh is ready: `node` (the local node answers), `meshed` (every listed peer is connected) " +
      "or K (at least K peers are connected)",
  },
});

/** The keys in table order. */
export const CONFIG_KEY_NAMES: readonly ConfigKey[] = Object.keys(CONFIG_KEYS) as ConfigKey[];

/** The flag and variable naming the YAML file. */
export const CONFIG_FILE_FLAG = "--config";
/** The variable naming the YAML file. */
export const CONFIG_FILE_ENV = "ERLMESH_CONFIG";

/** The variables that are the cookie itself: never a configuration key, never printed. */
export const COOKIE_VALUE_VARIABLES = ["RELEASE_COOKIE", "ERLANG_COOKIE", "CLUSTER_ERLANG_COOKIE"] as const;
