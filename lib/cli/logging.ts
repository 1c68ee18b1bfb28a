import type { LogRecord } from "@logtape/logtape";
import { after, type Disarm } from "../bytes/timer.ts";
import { redactCookies } from "../dist/cookie.ts";

/**
 * Logging through @logtape/logtape, loaded only once the process has done what it was started for.
 *
 * Loading logtape costs ~25 ms of CPU and ~5 MB (it imports `node:util`, Deno's Node-compat layer,
 * because Deno resolves its `#util` import with the `node` condition): ten times that in wall time for a
 * sidecar under a 100-millicore limit, spent while the node it serves boots and waits to be meshed. So
 * {@link setupLogging} only records the settings: a record at or above the level waits in memory, with
 * its own timestamp, until {@link loadLogging} (the first pass with nothing to do, an error record, a
 * few seconds' deadline, or {@link flushLogging} before the process exits) loads logtape and writes it.
 */
let logtape: typeof import("@logtape/logtape") | undefined;

/** How logs are written. */
export type LogFormatChoice = "auto" | "text" | "json";

/** The levels erlmesh logs at. */
export type LogLevelChoice = "debug" | "info" | "warning" | "error";

const RANK: Record<LogLevelChoice, number> = { debug: 0, info: 1, warning: 2, error: 3 };

/** A record written before logtape was loaded. */
interface Pending {
  category: readonly string[];
  level: LogLevelChoice;
  template: string;
  properties: Record<string, unknown>;
  timestamp: number;
}

/** At most this many records wait for logtape; beyond, the oldest are dropped (and counted). */
export const MAX_PENDING = 1000;
/** logtape is loaded at the latest this long after {@link setupLogging}. @default 5000 */
export const LOAD_DEADLINE_MS = 5000;

let settings: { format: LogFormatChoice; lowest: LogLevelChoice } | undefined;
let pending: Pending[] = [];
let dropped = 0;
let loading: Promise<void> | undefined;
/** Set once logtape is configured and the waiting records are written: records then go straight to it. */
let ready = false;
let deadline: Disarm | undefined;

/**
 * Records how logs are written, to stderr through logtape: human text on a terminal, JSON lines
 * otherwise (for log collectors), or as `format` says; every line passes through cookie redaction.
 * logtape itself is loaded later (see the module's comment), at the latest `loadAfterMs` from now.
 */
export function setupLogging(
  format: LogFormatChoice,
  level: LogLevelChoice,
  loadAfterMs = LOAD_DEADLINE_MS,
): Promise<void> {
  settings = { format, lowest: level };
  deadline?.();
  deadline = after(loadAfterMs, () => void loadLogging());
  return Promise.resolve();
}

/** Where logging stands: records wait in memory, logtape is loading, or records go straight to it. */
export function loggingState(): "waiting" | "loading" | "ready" {
  return ready ? "ready" : loading ? "loading" : "waiting";
}

/** Loads logtape now (once), configures it and writes the records that waited for it. */
export function loadLogging(): Promise<void> {
  if (settings === undefined) return Promise.resolve();
  return loading ??= load(settings.format, settings.lowest);
}

/** Writes every waiting record (loading logtape if any waits): before the process exits. */
export async function flushLogging(): Promise<void> {
  if (pending.length > 0 || dropped > 0) await loadLogging();
  else await loading;
  deadline?.();
}

async function load(format: LogFormatChoice, lowest: LogLevelChoice): Promise<void> {
  logtape ??= await import("@logtape/logtape");
  const { configure, getTextFormatter, reset } = logtape;
  const json = format === "json" || (format === "auto" && !Deno.stderr.isTerminal());
  const formatter = json ? jsonLine : getTextFormatter({ timestamp: "date-time-tz", value: "bare" });
  const enc = new TextEncoder();
  const sink = (record: LogRecord) => {
    try {
      Deno.stderr.writeSync(enc.encode(redactCookies(formatter(record))));
    } catch { /* stderr closed: nothing to do */ }
  };
  await reset();
  await configure({
    sinks: { stderr: sink },
    loggers: [
      { category: ["erlmesh"], lowestLevel: lowest, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
  const waiting = pending;
  pending = [];
  if (dropped > 0) {
    logtape.getLogger(["erlmesh"]).warn("{dropped} log records were dropped while the logger was loading", {
      dropped,
    });
    dropped = 0;
  }
  for (const r of waiting) {
    logtape.getLogger([...r.category]).emit({
      level: r.level,
      timestamp: r.timestamp,
      message: renderTemplate(r.template, r.properties),
      rawMessage: r.template,
      properties: r.properties,
    });
  }
  ready = true;
  deadline?.();
}

/**
 * A message template's parts as logtape renders them: text, value, text, …; `{name}` is the property
 * `name`, `{*}` all of them, and any other text stays as it is.
 */
export function renderTemplate(template: string, properties: Record<string, unknown>): unknown[] {
  const parts: unknown[] = [];
  let last = 0;
  for (const m of template.matchAll(/\{(\*|[A-Za-z_][A-Za-z0-9_]*)\}/g)) {
    const key = m[1];
    if (key !== "*" && !(key in properties)) continue;
    parts.push(template.slice(last, m.index), key === "*" ? properties : properties[key]);
    last = m.index + m[0].length;
  }
  parts.push(template.slice(last));
  return parts;
}

/** A logger of one category: `template` names the `properties` it shows as `{name}`. */
export interface Logger {
  debug(template: string, properties?: Record<string, unknown>): void;
  info(template: string, properties?: Record<string, unknown>): void;
  warn(template: string, properties?: Record<string, unknown>): void;
  error(template: string, properties?: Record<string, unknown>): void;
}

function write(
  category: readonly string[],
  level: LogLevelChoice,
  template: string,
  properties: Record<string, unknown> = {},
): void {
  if (settings === undefined) {
    throw new Error("Cannot log before setupLogging(): it says where and how much to log");
  }
  if (RANK[level] < RANK[settings.lowest]) return;
  if (ready && logtape !== undefined) {
    const real = logtape.getLogger([...category]);
    if (level === "warning") real.warn(template, properties);
    else real[level](template, properties);
    return;
  }
  if (pending.length >= MAX_PENDING) {
    pending.shift();
    dropped++;
  }
  pending.push({ category, level, template, properties, timestamp: Date.now() });
  if (level === "error") void loadLogging(); // an error is worth the cost at once
}

/** The logger of `category`. {@link setupLogging} runs first in every command that logs. */
export function logger(category: string[]): Logger {
  const c = [...category];
  return {
    debug: (t, p) => write(c, "debug", t, p),
    info: (t, p) => write(c, "info", t, p),
    warn: (t, p) => write(c, "warning", t, p),
    error: (t, p) => write(c, "error", t, p),
  };
}

const LEVELS: Record<string, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARN",
  error: "ERROR",
  fatal: "FATAL",
};

function bare(v: unknown): string {
  if (typeof v === "string") return v;
  if (v instanceof Error) return v.message;
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** One JSON object per line: time, level, the message with its values written bare, logger, properties. */
export function jsonLine(record: LogRecord): string {
  const message = record.message.map((part, i) => (i % 2 === 0 ? String(part) : bare(part))).join("");
  return JSON.stringify(
    {
      "@timestamp": new Date(record.timestamp).toISOString(),
      level: LEVELS[record.level] ?? record.level,
      message,
      logger: record.category.join("."),
      properties: record.properties,
    },
    (_k, x) => (typeof x === "bigint" ? x.toString() : x),
  ) + "\n";
}
