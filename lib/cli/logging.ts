import type { Logger, LogRecord } from "@logtape/logtape";
import { redactCookies } from "../dist/cookie.ts";

/** @logtape/logtape, loaded by {@link setupLogging}: only the commands that log pay for it (~20 ms, ~5 MB). */
let logtape: typeof import("@logtape/logtape") | undefined;

/** How logs are written. */
export type LogFormatChoice = "auto" | "text" | "json";

/**
 * Sends the `erlmesh` loggers to stderr: human text on a terminal, JSON lines otherwise (for log
 * collectors), or as `format` says. Every line passes through cookie redaction.
 */
export async function setupLogging(
  format: LogFormatChoice,
  level: "debug" | "info" | "warning" | "error",
): Promise<void> {
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
      { category: ["erlmesh"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** The logger of `category`. {@link setupLogging} runs first in every command that logs. */
export function logger(category: string[]): Logger {
  if (logtape === undefined) {
    throw new Error("Cannot log before setupLogging(): it loads the logging library");
  }
  return logtape.getLogger(category);
}

/** A logger's type, for signatures. */
export type { Logger };

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
