import { configure, getJsonLinesFormatter, getTextFormatter, type LogRecord, reset } from "@logtape/logtape";
import { redactCookies } from "../dist/mod.ts";

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
  const json = format === "json" || (format === "auto" && !Deno.stderr.isTerminal());
  const formatter = json ? getJsonLinesFormatter() : getTextFormatter({ timestamp: "date-time-tz", value: "bare" });
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
