/**
 * The command-line grammar of every command: option and argument definitions, one pure parser, one
 * help writer. No dependency: this runs on the start-up path of every command, every exec probe and
 * every `ping`, so it stays a few hundred lines of plain TypeScript (no Node-compat layer).
 * @module
 */
import {
  CONFIG_FILE_ENV,
  CONFIG_FILE_FLAG,
  CONFIG_KEYS,
  type ConfigKey,
  type KeySpec,
} from "../config/schema.ts";
import { formatDuration, levenshtein, parseDuration } from "../config/values.ts";
import { UsageError } from "./errors.ts";

/** One option of a command. */
export interface OptionDef {
  /** The long name without dashes, kebab-case: `probe-timeout`. */
  readonly long: string;
  /** A one-letter alias without the dash: `o`. */
  readonly short?: string;
  /** The argument's name in help (`duration`); absent for a switch that takes no value. */
  readonly arg?: string;
  /** The key the value is stored under (camelCase). */
  readonly key: string;
  /** One line of help. */
  readonly help: string;
  /** When true, repeating the option appends (`--service a --service b` is `a,b`). */
  readonly repeat?: boolean;
  /** The default shown in help, when there is one. */
  readonly defaultDoc?: string;
}

/** One positional argument of a command. */
export interface ArgDef {
  /** Its name in usage lines: `NODE`. */
  readonly name: string;
  /** One line of help. */
  readonly help: string;
  /** True when the command cannot run without it. */
  readonly required: boolean;
  /** True when it takes every remaining argument. */
  readonly variadic?: boolean;
}

/** A command's grammar. */
export interface CommandDef {
  /** The command's name. */
  readonly name: string;
  /** One sentence: what it does. */
  readonly summary: string;
  /** Positional arguments, in order. */
  readonly args: readonly ArgDef[];
  /** The options it takes (the common ones are added by {@link parseCommandLine}). */
  readonly options: readonly OptionDef[];
  /** Pairs of option keys that cannot be given together. */
  readonly conflicts?: readonly (readonly [string, string])[];
  /** When true, the first positional argument and everything after it (or after `--`) is passed through. */
  readonly passThrough?: boolean;
  /** Text printed after the options in `--help`. */
  readonly notes?: string;
}

/** What {@link parseCommandLine} returns. */
export interface ParsedCommandLine {
  /** The positional arguments (for a pass-through command, everything from the first one on). */
  readonly args: string[];
  /** Option values by key: a string, or `true` for a switch. */
  readonly values: Record<string, string | true>;
  /** `text` or `json`. */
  readonly output: OutputFormat;
  /** True with `--verbose`. */
  readonly verbose: boolean;
  /** True with `--help`: print {@link helpText} and stop. */
  readonly help: boolean;
}

/** Output format of every command. */
export type OutputFormat = "text" | "json";

/** `-o, --output`, `-v, --verbose` and `-h, --help`: every command takes them. */
export const COMMON_OPTIONS: readonly OptionDef[] = [
  { long: "output", short: "o", arg: "format", key: "output", help: "text or json", defaultDoc: "text" },
  { long: "verbose", short: "v", key: "verbose", help: "print the cause chain of errors" },
  { long: "help", short: "h", key: "help", help: "show this help" },
];

/** The `--config <path>` option. */
export const CONFIG_FILE_OPTION: OptionDef = {
  long: CONFIG_FILE_FLAG.slice(2),
  arg: "path",
  key: "config",
  help: `YAML configuration file (env ${CONFIG_FILE_ENV})`,
};

function plain(markdown: string): string {
  return markdown.replaceAll("`", "");
}

/** The options of the configuration keys `keys`, with help from the one table in `config/schema.ts`. */
export function configOptions(keys: readonly ConfigKey[]): OptionDef[] {
  return keys.map((key) => {
    const spec: KeySpec = CONFIG_KEYS[key];
    const envs = [spec.env, ...spec.legacy.map((l) => l.name)].join(", ");
    return {
      long: spec.flag.slice(2),
      arg: spec.arg,
      key,
      help: `${plain(spec.doc)} (env ${envs})`,
      defaultDoc: spec.defaultDoc === "none" ? undefined : plain(spec.defaultDoc),
      repeat: spec.type.list,
    };
  });
}

/** Configuration keys by what they are for; commands take the groups they use. */
export const KEY_GROUPS = {
  /** The local node. */
  node: ["node", "basename"],
  /** Where peers come from. */
  discovery: [
    "discovery",
    "service",
    "namespace",
    "clusterDomain",
    "srvPortName",
    "hosts",
    "hostForm",
    "dnsServer",
    "dnsTimeout",
    "kubernetesApi",
    "serviceAccountDir",
    "kubernetesFallback",
  ],
  /** Talking to nodes. */
  connect: [
    "cookieFile",
    "epmdPort",
    "distPort",
    "protoDist",
    "tlsCaFile",
    "tlsCertFile",
    "tlsKeyFile",
    "connectTimeout",
    "rpcTimeout",
    "concurrency",
  ],
  /** The reconcile loop. */
  loop: ["interval", "fastInterval"],
  /** Logs. */
  log: ["logFormat", "logLevel"],
  /** The health and metrics server. */
  serve: ["http", "readiness"],
} as const satisfies Record<string, readonly ConfigKey[]>;

/** The names in `known` closest to `name` (typos), best first, at most three. */
export function closest(name: string, known: readonly string[]): string[] {
  return known
    .map((k) => ({ k, d: levenshtein(name, k) }))
    .filter(({ k, d }) =>
      d <= Math.max(1, Math.floor(k.length / 3)) || (name.length >= 3 && k.startsWith(name))
    )
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ k }) => k);
}

function orList(items: string[]): string {
  return items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

/** The option of `def` (or a common one) named by `--long` or `-s`. */
function findOption(options: readonly OptionDef[], token: string): OptionDef | undefined {
  if (token.startsWith("--")) return options.find((o) => o.long === token.slice(2));
  return options.find((o) => o.short === token.slice(1));
}

/**
 * Finds `--output` in raw arguments without parsing the rest, so that even a command line that fails
 * to parse gets its error in the format it asked for.
 *
 * @example
 * ```ts
 * import { sniffOutput } from "./options.ts";
 * sniffOutput(["nodes", "-o", "json", "--bogus"]); // "json"
 * ```
 */
export function sniffOutput(argv: readonly string[]): OutputFormat {
  let out: OutputFormat = "text";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") break;
    let v: string | undefined;
    if (a === "-o" || a === "--output") v = argv[i + 1];
    else if (a.startsWith("--output=")) v = a.slice(9);
    else if (a.startsWith("-o") && a.length > 2 && !a.startsWith("--")) v = a.slice(2);
    if (v === "json" || v === "text") out = v;
  }
  return out;
}

/**
 * Parses a command's arguments (without the command name). Accepts `--name value`, `--name=value`,
 * `-o json`, `-ojson`, switches, `--` (the end of options) and, for a pass-through command, stops at its
 * first positional argument. Every mistake is a {@link UsageError} that names the option or argument
 * and what was expected.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./options.ts";
 * const def = { name: "ping", summary: "", args: [{ name: "NODE", help: "", required: true, variadic: true }], options: [] };
 * parseCommandLine(def, ["a@h", "-o", "json"]).output; // "json"
 * ```
 */
export function parseCommandLine(def: CommandDef, argv: readonly string[]): ParsedCommandLine {
  const options = [...def.options, ...COMMON_OPTIONS];
  const values: Record<string, string | true> = {};
  const args: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--") {
      i++;
      break;
    }
    if (!token.startsWith("-") || token === "-") {
      if (def.passThrough) break;
      args.push(token);
      continue;
    }
    let name = token;
    let inline: string | undefined;
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      if (eq > 0) {
        name = token.slice(0, eq);
        inline = token.slice(eq + 1);
      }
    } else if (token.length > 2) {
      name = token.slice(0, 2);
      inline = token.slice(2);
    }
    const opt = findOption(options, name);
    if (opt === undefined) throw unknownOption(def, name);
    let value: string | true;
    if (opt.arg === undefined) {
      if (inline !== undefined) {
        throw new UsageError(`Invalid option '${token}': --${opt.long} takes no value`);
      }
      value = true;
    } else if (inline !== undefined) {
      value = inline;
    } else {
      if (i + 1 >= argv.length) {
        throw new UsageError(`Missing value for --${opt.long}: expected <${opt.arg}> (${opt.help})`);
      }
      value = argv[++i];
    }
    const prev = values[opt.key];
    values[opt.key] = opt.repeat && typeof prev === "string" && typeof value === "string"
      ? `${prev},${value}`
      : value;
  }
  if (def.passThrough) args.push(...argv.slice(i));
  else if (i < argv.length) args.push(...argv.slice(i));

  const help = values.help === true;
  const output = values.output ?? "text";
  if (output !== "text" && output !== "json") {
    throw new UsageError(`Invalid --output '${output}': expected 'text' or 'json'`);
  }
  const parsed = { args, values, output, verbose: values.verbose === true, help } as ParsedCommandLine;
  if (help) return parsed;
  for (const [a, b] of def.conflicts ?? []) {
    if (values[a] !== undefined && values[b] !== undefined) {
      const oa = options.find((o) => o.key === a)!, ob = options.find((o) => o.key === b)!;
      throw new UsageError(
        `Conflicting options --${oa.long} and --${ob.long} for 'erlmesh ${def.name}': expected one of them`,
      );
    }
  }
  checkArgs(def, args);
  return parsed;
}

function unknownOption(def: CommandDef, name: string): UsageError {
  const longs = [...def.options, ...COMMON_OPTIONS].map((o) => `--${o.long}`);
  const close = name.startsWith("--") ? closest(name, longs) : [];
  const hint = close.length > 0
    ? `did you mean ${orList(close.map((c) => `'${c}'`))}?`
    : `run 'erlmesh ${def.name} --help' for its options`;
  return new UsageError(`Unknown option '${name}' for 'erlmesh ${def.name}': ${hint}`);
}

function checkArgs(def: CommandDef, args: string[]): void {
  const required = def.args.filter((a) => a.required).length;
  const variadic = def.args.some((a) => a.variadic);
  if (args.length < required) {
    const missing = def.args[args.length];
    throw new UsageError(
      `Missing ${missing.name} for 'erlmesh ${def.name}': expected ${missing.help} (usage: ${
        usageLine(def)
      })`,
    );
  }
  if (!variadic && args.length > def.args.length) {
    throw new UsageError(
      `Unexpected argument '${args[def.args.length]}' for 'erlmesh ${def.name}': expected ${
        def.args.length === 0 ? "no arguments" : `at most ${def.args.length}`
      } (usage: ${usageLine(def)})`,
    );
  }
}

/** `erlmesh ping [options] NODE...` */
export function usageLine(def: Pick<CommandDef, "name" | "args" | "passThrough">): string {
  const args = def.args.map((a) => {
    const n = a.variadic ? `${a.name}...` : a.name;
    return a.required ? n : `[${n}]`;
  });
  return ["erlmesh", def.name, "[options]", ...(def.passThrough ? ["--"] : []), ...args].join(" ");
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** The `--help` text of a command: usage, summary, arguments and only the options it takes. */
export function helpText(def: CommandDef, width = 100): string {
  const summary = def.summary.charAt(0).toUpperCase() + def.summary.slice(1);
  const out = [`Usage: ${usageLine(def)}`, "", ...wrap(summary, width)];
  const column = (rows: [string, string][]) => {
    const w = Math.min(30, Math.max(...rows.map(([l]) => l.length)) + 2);
    for (const [left, right] of rows) {
      const body = wrap(right, width - w - 2);
      if (left.length + 2 > w) {
        out.push(`  ${left}`);
        for (const l of body) out.push(`  ${" ".repeat(w)}${l}`);
      } else {
        body.forEach((l, i) => out.push(`  ${(i === 0 ? left : "").padEnd(w)}${l}`));
      }
    }
  };
  if (def.args.length > 0) {
    out.push("", "Arguments:");
    column(def.args.map((a) => [a.variadic ? `${a.name}...` : a.name, a.help]));
  }
  out.push("", "Options:");
  column([...def.options, ...COMMON_OPTIONS].map((o) => [
    `${o.short ? `-${o.short}, ` : ""}--${o.long}${o.arg ? ` <${o.arg}>` : ""}`,
    `${o.help}${o.defaultDoc ? ` (default: ${o.defaultDoc})` : ""}${o.repeat ? "; repeat to add" : ""}`,
  ]));
  if (def.notes) out.push("", ...def.notes.split("\n").flatMap((p) => (p === "" ? [""] : wrap(p, width))));
  return out.join("\n");
}

/**
 * Reads a duration option (`500ms`, `2s`, `1m` or a bare number of milliseconds), the same syntax as every
 * configuration key.
 *
 * @example
 * ```ts
 * import { durationValue } from "./options.ts";
 * durationValue("5s", "--timeout", 1, 3_600_000); // 5000
 * ```
 */
export function durationValue(text: string, option: string, min: number, max: number): number {
  let ms = NaN;
  try {
    ms = parseDuration(text);
  } catch { /* reported below */ }
  if (!(ms >= min && ms <= max)) {
    throw new UsageError(
      `Invalid ${option} '${text}': expected a duration from ${formatDuration(min)} to ${
        formatDuration(max)
      } such as 500ms, 5s or 1m (a bare number is milliseconds)`,
    );
  }
  return ms;
}

/** The configuration flags among parsed values, as `loadConfig` takes them (`config` names the file). */
export function configFlags(values: Record<string, string | true>): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === "string" && (k === "config" || Object.hasOwn(CONFIG_KEYS, k))) flags[k] = v;
  }
  return flags;
}
