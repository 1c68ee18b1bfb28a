/**
 * The value parsers of configuration keys: durations, whole numbers, names, addresses and lists. Each
 * throws {@link ValueProblem}, which the loader turns into a `ConfigError` naming key and source.
 * @module
 */
import { isIp, splitHostPort } from "../bytes/address.ts";
import { parseNodeName } from "../dist/names.ts";

/** When erlmesh reports ready: the local node is reachable, every listed peer is connected, or at least K peers are. */
export type Readiness = "node" | "meshed" | number;

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
 * import { parseDuration } from "./values.ts";
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
 * import { formatDuration } from "./values.ts";
 * formatDuration(2000); // "2s"
 * ```
 */
export function formatDuration(ms: number): string {
  for (const unit of ["h", "m", "s"]) {
    if (ms !== 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

export function duration(min: number, max: number): ValueType<number> {
  return scalar(DURATION_EXPECTED, (text) => {
    const ms = parseDuration(text);
    if (ms < min || ms > max) {
      throw new ValueProblem(`a duration from ${formatDuration(min)} to ${formatDuration(max)}`);
    }
    return ms;
  }, formatDuration);
}

export function integer(min: number, max: number): ValueType<number> {
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
 * import { parseBoolean } from "./values.ts";
 * parseBoolean("yes"); // true
 * ```
 */
export function parseBoolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "1" || t === "yes") return true;
  if (t === "false" || t === "0" || t === "no") return false;
  throw new ValueProblem("true, false, 1, 0, yes or no");
}

export function oneOf<T extends string>(values: readonly T[]): ValueType<T> {
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
export const nodeName = scalar(NODE_EXPECTED, checkNodeName);
export const aliveName = scalar(ALIVE_EXPECTED, (text) => {
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
export function dnsName(text: string, expected = DNS_EXPECTED): string {
  const name = (text.endsWith(".") ? text.slice(0, -1) : text).toLowerCase();
  if (name === "" || name.length > 253 || !name.split(".").every((l) => LABEL.test(l))) {
    throw new ValueProblem(expected);
  }
  return name;
}

const NAMESPACE_EXPECTED = "a Kubernetes namespace: lowercase letters, digits and '-', at most 63 characters";
export const namespaceName = scalar(NAMESPACE_EXPECTED, (text) => {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text)) throw new ValueProblem(NAMESPACE_EXPECTED);
  return text;
});

const ZONE_EXPECTED = "a DNS zone such as 'cluster.local'";
export const zoneName = scalar(ZONE_EXPECTED, (text) => dnsName(text, ZONE_EXPECTED));

const PORT_NAME_EXPECTED =
  "a Service port name (lowercase letters, digits and '-', at most 15 characters) such as 'epmd', or '' for the bare Service name";
export const portName = scalar(PORT_NAME_EXPECTED, (text) => {
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
export const dnsServer = scalar(DNS_SERVER_EXPECTED, (text) => {
  const hp = splitHostPort(text);
  if (!hp || !isIp(hp.host) || (hp.port !== undefined && !validPort(hp.port))) {
    throw new ValueProblem(DNS_SERVER_EXPECTED);
  }
  return text;
});

const LISTEN_EXPECTED =
  "a listen address 'host:port' such as ':9090', '0.0.0.0:9090' or '[::]:9090', or '' for off";
export const listenAddress = scalar(LISTEN_EXPECTED, (text) => {
  if (text === "") return "";
  const hp = splitHostPort(text);
  if (!hp || !validPort(hp.port) || (hp.host !== "" && !isIp(hp.host) && !/^[A-Za-z0-9.-]+$/.test(hp.host))) {
    throw new ValueProblem(LISTEN_EXPECTED);
  }
  return text;
});

const READINESS_EXPECTED = "'node', 'meshed' or a whole number of peers from 0 to 100000";
export const readiness = scalar<Readiness>(READINESS_EXPECTED, (text) => {
  if (text === "node" || text === "meshed") return text;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n > 100_000) throw new ValueProblem(READINESS_EXPECTED);
  return n;
});

const PATH_EXPECTED = "a file path";
export const path = scalar(PATH_EXPECTED, (text) => {
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
 * import { splitList } from "./values.ts";
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

export function list(
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
export const hostList = list((text) => {
  const host = text.replace(/\.$/, "");
  if (host === "" || !/^[A-Za-z0-9_.:-]+$/.test(host) || host.length > 253) {
    throw new ValueProblem(HOST_EXPECTED);
  }
  return host;
}, HOST_EXPECTED);

const SERVICE_EXPECTED =
  "Service names separated by commas, such as 'app', 'app.default.svc.cluster.local' or ['app','other']";
export const serviceList = list((text) => dnsName(text, SERVICE_EXPECTED), SERVICE_EXPECTED);

/**
 * The edit distance between two names (insertions, deletions, substitutions), for did-you-mean hints.
 *
 * @example
 * ```ts
 * import { levenshtein } from "./values.ts";
 * levenshtein("timout", "timeout"); // 1
 * ```
 */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
