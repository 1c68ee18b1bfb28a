import type { Command } from "commander";
import { type Cookie, redactCookies, resolveCookie } from "../dist/mod.ts";
import { UsageError } from "./errors.ts";

/** Output format of every command. */
export type OutputFormat = "text" | "json";

/** Options every command takes. */
export interface GlobalOptions {
  output: OutputFormat;
  verbose: boolean;
  cookieFile?: string;
  timeout: number;
  epmdPort?: number;
}

/** Adds the options every command shares. */
export function withGlobalOptions(cmd: Command): Command {
  return cmd
    .option("-o, --output <format>", "output format: text or json", "text")
    .option("-v, --verbose", "print the cause chain of errors", false)
    .option("--timeout <ms>", "deadline for each network operation, in milliseconds", "5000")
    .option("--epmd-port <port>", "the port EPMD listens on (default: ERL_EPMD_PORT or 4369)");
}

/** Adds `--cookie-file` for the commands that connect to nodes. */
export function withCookieOption(cmd: Command): Command {
  return cmd.option(
    "--cookie-file <path>",
    "file holding the Erlang cookie (default: RELEASE_COOKIE, ERLANG_COOKIE, CLUSTER_ERLANG_COOKIE, ~/.erlang.cookie)",
  );
}

/** Checks and converts the raw commander options. */
export function globalOptions(raw: Record<string, unknown>): GlobalOptions {
  const output = String(raw.output ?? "text");
  if (output !== "text" && output !== "json") {
    throw new UsageError(`Invalid --output '${output}': expected 'text' or 'json'`);
  }
  const timeout = positiveInt(
    String(raw.timeout ?? "5000"),
    "--timeout",
    "a number of milliseconds from 1 to 3600000",
    3600000,
  );
  const epmdPort = raw.epmdPort === undefined
    ? undefined
    : positiveInt(String(raw.epmdPort), "--epmd-port", "a port number from 1 to 65535", 65535);
  return {
    output,
    verbose: Boolean(raw.verbose),
    cookieFile: raw.cookieFile === undefined ? undefined : String(raw.cookieFile),
    timeout,
    epmdPort,
  };
}

/** Parses a whole number in `[1, max]`, or fails with a usage error naming the option. */
export function positiveInt(text: string, option: string, expected: string, max: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(`Invalid ${option} '${text}': expected ${expected}`);
  }
  return n;
}

/** Reads the cookie from the configured sources. */
export function loadCookie(opts: GlobalOptions): Promise<Cookie> {
  return resolveCookie({ cookieFile: opts.cookieFile });
}

/** Writes a line to stdout. */
export function println(text = ""): void {
  Deno.stdout.writeSync(new TextEncoder().encode(redactCookies(text) + "\n"));
}

/** Prints a value as JSON on one line. */
export function printJson(value: unknown): void {
  println(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

/** Formats rows as aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** A short description of an error for one line of output: its message, without the cause chain. */
export function errorSummary(err: unknown): { code: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : err.name, message: redactCookies(err.message) };
  }
  return { code: "UNKNOWN", message: redactCookies(String(err)) };
}

/** Milliseconds with one decimal, from a `performance.now()` difference. */
export function ms(d: number): number {
  return Math.round(d * 10) / 10;
}

let lastExitCode = 0;

/** Wraps a command action that returns its exit code. */
export function act<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    lastExitCode = await fn(...args);
  };
}

/** The exit code the last action returned. */
export function actionExitCode(): number {
  return lastExitCode;
}
