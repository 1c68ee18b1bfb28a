/**
 * The one table of configuration keys. Parsing (load.ts), the command-line options (cli/options.ts) and
 * docs/configuration.md are all derived from {@link CONFIG_KEYS}.
 *
 * Run `deno run --allow-write lib/config/schema.ts` to regenerate docs/configuration.md.
 * @module
 */
import { isIp, splitHostPort } from "../bytes/address.ts";
import { parseNodeName } from "../dist/names.ts";

/** How peers are found: SRV records, A/AAAA records, a static host list, or the local EPMD only. */
export type DiscoveryKind = "srv" | "a" | "static" | "epmd";
/** How a discovered host becomes the host part of a node name. */
export type HostForm = "fqdn" | "ip" | "auto";
/** Log output format; `auto` picks text on a terminal and JSON otherwise. */
export type LogFormat = "auto" | "text" | "json";
/** The lowest level that is logged. */
export type LogLevel = "debug" | "info" | "warning" | "error";
/** When erlmesh reports ready: the local node is reachable, every listed peer is connected, or at least K peers are. */
export type Readiness = "node" | "meshed" | number;

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
}

/** The name of a configuration key. */
export type ConfigKey = Exclude<keyof Config, "sources" | "configFile">;

/** A value parser failed; the loader turns this into a `ConfigError` that names key and source. */
export class ValueProblem extends Error {
  override name = "ValueProblem";
  /** What would have been accepted. */
  readonly expected: string;
  constructor(expected: string, options?: ErrorOptions) {
    super(`expected ${expected}`, options);
    this.expected = expected;
  }
}

/** How the raw text of one key is checked and converted, and how a value is shown in docs. */
export interface ValueType<T> {
  /** What is accepted, in words (used in errors and docs). */
  readonly expected: string;
  /** True for list keys: they accept YAML sequences and `a,b`, `a b`, `['a','b']`, `["a", "b"]` text. */
  readonly list: boolean;
  /** Converts raw text (or the elements of a YAML sequence, for list keys); throws {@link ValueProblem}. */
  parse(raw: string | readonly string[]): T;
  /** Shows a value the way it would be written. */
  format(value: T): string;
}

function scalar<T>(
  expected: string,
  parse: (text: string) => T,
  format: (v: T) => string = String,
): ValueType<T> {
  return {
    expected,
    list: false,
    parse(raw) {
      if (typeof raw !== "string") throw new ValueProblem(expected);
      return parse(raw.trim());
    },
    format,
  };
}

// ---------------------------------------------------------------------------------------------
// Scalars

const DURATION_EXPECTED = "a duration such as 500ms, 2s or 1000 (milliseconds)";
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration into milliseconds: `500ms`, `2s`, `1.5s`, `1m`, `1h`, or a bare whole number of
 * milliseconds.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./schema.ts";
 * parseDuration("2s"); // 2000
 * ```
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/i.exec(text.trim());
  if (!m || (m[2] === undefined && m[1].includes("."))) throw new ValueProblem(DURATION_EXPECTED);
  const ms = Number(m[1]) * UNIT_MS[(m[2] ?? "ms").toLowerCase()];
  if (!Number.isFinite(ms) || !Number.isInteger(ms) || !Number.isSafeInteger(ms)) {
    throw new ValueProblem(`${DURATION_EXPECTED}, a whole number of milliseconds`);
  }
  return ms;
}

/**
 * Shows milliseconds in the largest unit that divides them: `2s`, `1m`, `1500ms`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./schema.ts";
 * formatDuration(2000); // "2s"
 * ```
 */
export function formatDuration(ms: number): string {
  for (const unit of ["h", "m", "s"]) {
    if (ms !== 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

function duration(min: number, max: number): ValueType<number> {
  return scalar(DURATION_EXPECTED, (text) => {
    const ms = parseDuration(text);
    if (ms < min || ms > max) {
      throw new ValueProblem(`a duration from ${formatDuration(min)} to ${formatDuration(max)}`);
    }
    return ms;
  }, formatDuration);
}

function integer(min: number, max: number): ValueType<number> {
  const expected = `a whole number from ${min} to ${max}`;
  return scalar(expected, (text) => {
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new ValueProblem(expected);
    return n;
  });
}

/**
 * Parses a boolean: `true`, `false`, `1`, `0`, `yes`, `no` (any case).
 *
 * @example
 * ```ts
 * import { parseBoolean } from "./schema.ts";
 * parseBoolean("yes"); // true
 * ```
 */
export function parseBoolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "1" || t === "yes") return true;
  if (t === "false" || t === "0" || t === "no") return false;
  throw new ValueProblem("true, false, 1, 0, yes or no");
}

function oneOf<T extends string>(values: readonly T[]): ValueType<T> {
  const expected = values.length === 2
    ? `'${values[0]}' or '${values[1]}'`
    : `one of ${values.slice(0, -1).map((v) => `'${v}'`).join(", ")} or '${values.at(-1)}'`;
  return scalar(expected, (text) => {
    if (!(values as readonly string[]).includes(text)) throw new ValueProblem(expected);
    return text as T;
  });
}

const NODE_EXPECTED =
  "a node name 'alive@host' such as 'app@10.0.0.7' or 'app@app-0.app.default.svc.cluster.local'";

/** Checks a full node name with {@link parseNodeName}; returns its normalized `alive@host`. */
export function checkNodeName(text: string): string {
  try {
    return parseNodeName(text).full;
  } catch (err) {
    throw new ValueProblem(NODE_EXPECTED, { cause: err });
  }
}

const ALIVE_EXPECTED =
  "the name part of a node name, such as 'app' (letters, digits, '_', '-', '.' and '+'; '*' matches any run of them)";
const nodeName = scalar(NODE_EXPECTED, checkNodeName);
const aliveName = scalar(ALIVE_EXPECTED, (text) => {
  if (text.includes("@")) throw new ValueProblem(ALIVE_EXPECTED);
  try {
    if (/^[A-Za-z0-9_.+*-]+$/.test(text) && text.includes("*")) return text;
    return parseNodeName(`${text}@localhost`).alive;
  } catch (err) {
    throw new ValueProblem(ALIVE_EXPECTED, { cause: err });
  }
});

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const DNS_EXPECTED = "a DNS name such as 'app' or 'app.default.svc.cluster.local'";

/** Checks a DNS name; returns it lowercase without a trailing dot. */
function dnsName(text: string, expected = DNS_EXPECTED): string {
  const name = (text.endsWith(".") ? text.slice(0, -1) : text).toLowerCase();
  if (name === "" || name.length > 253 || !name.split(".").every((l) => LABEL.test(l))) {
    throw new ValueProblem(expected);
  }
  return name;
}

const NAMESPACE_EXPECTED = "a Kubernetes namespace: lowercase letters, digits and '-', at most 63 characters";
const namespaceName = scalar(NAMESPACE_EXPECTED, (text) => {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text)) throw new ValueProblem(NAMESPACE_EXPECTED);
  return text;
});

const ZONE_EXPECTED = "a DNS zone such as 'cluster.local'";
const zoneName = scalar(ZONE_EXPECTED, (text) => dnsName(text, ZONE_EXPECTED));

const PORT_NAME_EXPECTED =
  "a Service port name (lowercase letters, digits and '-', at most 15 characters) such as 'epmd', or '' for the bare Service name";
const portName = scalar(PORT_NAME_EXPECTED, (text) => {
  const name = text.replace(/^_/, "").toLowerCase();
  if (name !== "" && !/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/.test(name)) {
    throw new ValueProblem(PORT_NAME_EXPECTED);
  }
  return name;
});

function validPort(port: number | undefined): boolean {
  return port !== undefined && port >= 1;
}

const DNS_SERVER_EXPECTED =
  "an IP address with an optional port, such as '10.96.0.10', '10.96.0.10:53' or '[fd00::a]:53'";
const dnsServer = scalar(DNS_SERVER_EXPECTED, (text) => {
  const hp = splitHostPort(text);
  if (!hp || !isIp(hp.host) || (hp.port !== undefined && !validPort(hp.port))) {
    throw new ValueProblem(DNS_SERVER_EXPECTED);
  }
  return text;
});

const LISTEN_EXPECTED =
  "a listen address 'host:port' such as ':9090', '0.0.0.0:9090' or '[::]:9090', or '' for off";
const listenAddress = scalar(LISTEN_EXPECTED, (text) => {
  if (text === "") return "";
  const hp = splitHostPort(text);
  if (!hp || !validPort(hp.port) || (hp.host !== "" && !isIp(hp.host) && !/^[A-Za-z0-9.-]+$/.test(hp.host))) {
    throw new ValueProblem(LISTEN_EXPECTED);
  }
  return text;
});

const READINESS_EXPECTED = "'node', 'meshed' or a whole number of peers from 0 to 100000";
const readiness = scalar<Readiness>(READINESS_EXPECTED, (text) => {
  if (text === "node" || text === "meshed") return text;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n > 100_000) throw new ValueProblem(READINESS_EXPECTED);
  return n;
});

const PATH_EXPECTED = "a file path";
const path = scalar(PATH_EXPECTED, (text) => {
  if (text === "" || text.includes("\0")) throw new ValueProblem(PATH_EXPECTED);
  return text;
});

// ---------------------------------------------------------------------------------------------
// Lists

/**
 * Splits list text in any of the forms people write: `a,b`, `a b`, `"a"`, `['a','b']`,
 * `["a", "b"]`, `[a, b]` (an Erlang list of atoms or strings, or a JSON array). Empty elements are
 * dropped; `[]` gives an empty list.
 *
 * @example
 * ```ts
 * import { splitList } from "./schema.ts";
 * splitList("['host1','host2']"); // ["host1", "host2"]
 * ```
 */
export function splitList(text: string): string[] {
  let t = text.trim();
  if (t.startsWith("[")) {
    if (!t.endsWith("]")) throw new ValueProblem("a list with a closing ']'");
    t = t.slice(1, -1);
  }
  const out: string[] = [];
  let i = 0;
  while (i < t.length) {
    const c = t[i];
    if (c === "," || /\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      const end = t.indexOf(c, i + 1);
      if (end < 0) throw new ValueProblem(`a closing ${c} after ${t.slice(i)}`);
      const item = t.slice(i + 1, end).trim();
      if (item !== "") out.push(item);
      i = end + 1;
    } else {
      let j = i;
      while (j < t.length && t[j] !== "," && !/\s/.test(t[j])) j++;
      const item = t.slice(i, j);
      if (/[\[\]'"]/.test(item)) throw new ValueProblem("a flat list of names");
      out.push(item);
      i = j;
    }
  }
  return out;
}

function list(
  item: (text: string) => string,
  expected: string,
  format = (v: string[]) => v.join(","),
): ValueType<string[]> {
  return {
    expected,
    list: true,
    parse(raw) {
      try {
        const items = typeof raw === "string"
          ? splitList(raw)
          : raw.map((r) => r.trim()).filter((r) => r !== "");
        return items.map(item);
      } catch (err) {
        if (err instanceof ValueProblem) throw new ValueProblem(expected, { cause: err });
        throw err;
      }
    },
    format,
  };
}

const HOST_EXPECTED =
  "host names or IP addresses separated by commas or spaces, such as 'host1,host2' or ['host1','host2']";
const hostList = list((text) => {
  const host = text.replace(/\.$/, "");
  if (host === "" || !/^[A-Za-z0-9_.:-]+$/.test(host) || host.length > 253) {
    throw new ValueProblem(HOST_EXPECTED);
  }
  return host;
}, HOST_EXPECTED);

const SERVICE_EXPECTED =
  "Service names separated by commas, such as 'app', 'app.default.svc.cluster.local' or ['app','other']";
const serviceList = list((text) => dnsName(text, SERVICE_EXPECTED), SERVICE_EXPECTED);

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
    type: oneOf<DiscoveryKind>(["srv", "a", "static", "epmd"]),
    defaultDoc: "`srv` when a service is set, `static` when hosts are set, else `epmd`",
    doc: "How peers are found: SRV records, A/AAAA records, the static host list, or the local EPMD only",
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
  interval: {
    arg: "duration",
    type: duration(1, MAX_DURATION),
    default: 5000,
    doc: "Steady-state reconcile interval (the settle window after a change polls every 500 ms)",
  },
  fastInterval: {
    arg: "duration",
    type: duration(1, MAX_DURATION),
    default: 200,
    doc: "Reconcile interval while any peer is missing; also the first retry delay of a peer",
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

// ---------------------------------------------------------------------------------------------
// Docs

/** Fills a paragraph greedily to the formatter's line width (110), as `deno fmt` does. */
function wrap(text: string, width = 110): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

function mdTable(header: string[], rows: string[][]): string[] {
  const cells = [header, ...rows].map((r) => r.map((c) => c.replaceAll("|", "\\|")));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(cells[0]), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...cells.slice(1).map(line)];
}

/**
 * The Markdown reference of every key (flag, variables, YAML key, default, meaning) and of the legacy
 * variables: the content of docs/configuration.md.
 *
 * @example
 * ```ts
 * import { configTable } from "./schema.ts";
 * configTable().startsWith("# Configuration"); // true
 * ```
 */
export function configTable(): string {
  const rows = CONFIG_KEY_NAMES.map((name) => {
    const s: KeySpec = CONFIG_KEYS[name];
    const envs = [s.env, ...s.aliases].map((e) => `\`${e}\``).join(", ");
    return [`\`${s.key}\``, `\`${s.flag} <${s.arg}>\``, envs, `\`${s.key}\``, s.defaultDoc, s.doc];
  });
  rows.push([
    "(file)",
    `\`${CONFIG_FILE_FLAG} <path>\``,
    `\`${CONFIG_FILE_ENV}\``,
    "",
    "none",
    "The YAML configuration file",
  ]);
  const legacyRows = CONFIG_KEY_NAMES.flatMap((name) =>
    CONFIG_KEYS[name].legacy.map((l) => [`\`${l.name}\``, `\`${name}\``, l.doc])
  );
  return [
    "# Configuration",
    "",
    "<!-- Generated from lib/config/schema.ts: run `deno run --allow-write lib/config/schema.ts`. Do not edit. -->",
    "",
    ...wrap(
      "Each setting is taken from the first of: a command-line flag; an environment variable (`ERLMESH_*` first, " +
        "then the legacy variables); the YAML file named by `--config` or `ERLMESH_CONFIG`; the default. The YAML " +
        "keys are the camelCase key names. `erlmesh` never reads the cookie from flags, `ERLMESH_*` variables or " +
        "the YAML file: use `cookieFile` or `RELEASE_COOKIE`.",
    ),
    "",
    ...mdTable(["Key", "Flag", "Environment", "YAML", "Default", "Meaning"], rows),
    "",
    "## Value formats",
    "",
    "- Durations: `500ms`, `2s`, `1.5s`, `1m`, `1h`, or a whole number of milliseconds (`1000`).",
    "- Lists (`service`, `hosts`): `a,b`, `a b`, `['a','b']`, `[\"a\", \"b\"]`, or a YAML sequence.",
    "- Booleans: `true`, `false`, `1`, `0`, `yes`, `no`.",
    "- An empty environment variable counts as unset, except for `srvPortName` and `http`, where empty is a value.",
    "",
    "## Legacy variables",
    "",
    ...wrap(
      "Read after the `ERLMESH_*` variable of the same key and before the YAML file. Downward-API values that " +
        "only build a default (`POD_NAME`, `POD_IP`) come after the YAML file.",
    ),
    "",
    ...mdTable(["Variable", "Key", "Meaning"], legacyRows),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const target = new URL("../../docs/configuration.md", import.meta.url);
  await Deno.mkdir(new URL(".", target), { recursive: true });
  await Deno.writeTextFile(target, configTable());
  console.log(`Wrote ${target.pathname}`);
}
