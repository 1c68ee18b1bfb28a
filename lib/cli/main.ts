import { redactCookies } from "../dist/cookie.ts";
import { type CommandModule, type CommandName, COMMANDS, LOADERS } from "./commands.ts";
import { StdoutClosed, writeErr, writeOut } from "./common.ts";
import { UsageError } from "./errors.ts";
import { flushLogging } from "./logging.ts";
import { closest, helpText, type OutputFormat, parseCommandLine, sniffOutput } from "./options.ts";

/** The version printed by `erlmesh --version`. */
export const VERSION = "0.1.0";

/** Exit code when stdout was closed under us (`erlmesh … | head`), as a process killed by SIGPIPE. */
export const EXIT_STDOUT_CLOSED = 141;

const USAGE_ERRORS = new Set(["UsageError", "ConfigError", "NodeNameError", "CookieError"]);

/** Exit code for an error: 2 for bad input (usage, configuration, names, cookie), 1 for runtime failures. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof StdoutClosed) return EXIT_STDOUT_CLOSED;
  if (err instanceof Error && USAGE_ERRORS.has(err.name)) return 2;
  return 1;
}

/** The causes of `err` that say something its message does not already say. */
function newCauses(err: unknown): Error[] {
  const out: Error[] = [];
  let said = err instanceof Error ? err.message : String(err);
  let e = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; e !== undefined && depth < 10; depth++) {
    if (!(e instanceof Error)) {
      if (!said.includes(String(e))) out.push(new Error(String(e)));
      break;
    }
    if (e.message !== "" && !said.includes(e.message)) {
      out.push(e);
      said += `\n${e.message}`;
    }
    e = e.cause;
  }
  return out;
}

/**
 * Formats an error for stderr; with `verbose`, its cause chain (only causes that add something).
 * Cookies are redacted.
 */
export function formatError(err: unknown, verbose: boolean): string {
  const msg = err instanceof Error ? err.message : String(err);
  const lines = [`erlmesh: ${msg}`];
  const causes = newCauses(err);
  if (verbose) { for (const c of causes) lines.push(`  caused by ${c.name}: ${c.message}`); }
  else if (causes.length > 0) lines.push("  (run with --verbose for the cause chain)");
  return redactCookies(lines.join("\n"));
}

/** The error as the JSON object `--output json` prints on stdout; cookies are redacted. */
export function errorJson(err: unknown, verbose: boolean): { error: Record<string, unknown> } {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  const out: Record<string, unknown> = {
    code: typeof code === "string" ? code : e.name,
    message: redactCookies(e.message),
    exitCode: exitCodeFor(err),
  };
  if (verbose) {
    out.causes = newCauses(err).map((c) => ({ name: c.name, message: redactCookies(c.message) }));
  }
  return { error: out };
}

/** `erlmesh --help`: every command with its arguments. */
export function programHelp(): string {
  const names = Object.keys(COMMANDS) as CommandName[];
  const w = Math.max(...names.map((n) => n.length)) + 2;
  return [
    "Usage: erlmesh COMMAND [options] [ARGS]",
    "",
    "Finds the Erlang nodes of a cluster and keeps them meshed, speaking EPMD and the distribution",
    "protocol as a hidden node. No code in the release.",
    "",
    "Commands:",
    ...names.flatMap((
      n,
    ) => [`  ${n.padEnd(w)}erlmesh ${n} ${COMMANDS[n].usage}`, `  ${" ".repeat(w)}${COMMANDS[n].summary}`]),
    "",
    "Run 'erlmesh COMMAND --help' for a command's options, 'erlmesh --version' for the version.",
  ].join("\n");
}

function commandName(word: string | undefined, what: string): CommandName {
  if (word !== undefined && Object.hasOwn(COMMANDS, word)) return word as CommandName;
  const names = Object.keys(COMMANDS);
  if (word === undefined) throw new UsageError(`Missing command: expected one of ${names.join(", ")}`);
  const close = word.startsWith("-") ? [] : closest(word, names);
  const hint = close.length > 0 ? `did you mean '${close[0]}'? ` : "";
  throw new UsageError(
    `Unknown ${what} '${word}': ${hint}expected one of ${names.join(", ")} (run 'erlmesh --help')`,
  );
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code. `loaders` load the
 * command modules (the bundle's entry passes its own, see lib/cli/bundle_main.ts).
 */
export async function main(
  args: string[],
  loaders: { readonly [K in CommandName]: () => Promise<CommandModule> } = LOADERS,
): Promise<number> {
  let output: OutputFormat = sniffOutput(args);
  let verbose = args.includes("--verbose") || args.includes("-v");
  try {
    const [first, ...rest] = args;
    if (first === undefined) {
      writeErr(programHelp() + "\n");
      return 2;
    }
    if (first === "--help" || first === "-h") {
      writeOut(programHelp() + "\n");
      return 0;
    }
    if (first === "--version" || first === "-V") {
      writeOut(`erlmesh ${VERSION}\n`);
      return 0;
    }
    if (first === "help") {
      if (rest[0] === undefined) {
        writeOut(programHelp() + "\n");
        return 0;
      }
      const mod = await loaders[commandName(rest[0], "command")]();
      writeOut(helpText(mod.command) + "\n");
      return 0;
    }
    const mod = await loaders
      [commandName(first, first.startsWith("-") ? "option before the command" : "command")]();
    const cli = parseCommandLine(mod.command, rest);
    output = cli.output;
    verbose = cli.verbose;
    if (cli.help) {
      writeOut(helpText(mod.command) + "\n");
      return 0;
    }
    return await mod.execute(cli);
  } catch (err) {
    if (err instanceof StdoutClosed) return EXIT_STDOUT_CLOSED;
    try {
      if (output === "json") writeOut(JSON.stringify(errorJson(err, verbose)) + "\n");
      else writeErr(formatError(err, verbose) + "\n");
    } catch { /* nowhere left to say it */ }
    return exitCodeFor(err);
  } finally {
    await flushLogging();
  }
}
