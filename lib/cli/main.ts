import { Command, CommanderError } from "commander";
import { redactCookies } from "../dist/mod.ts";
import { actionExitCode } from "./common.ts";
import { namesCommand } from "./names.ts";
import { nodesCommand } from "./nodes.ts";
import { pingCommand } from "./ping.ts";

/** The version printed by `erlmesh --version`. */
export const VERSION = "0.1.0";

const USAGE_ERRORS = new Set(["UsageError", "ConfigError", "NodeNameError", "CookieError"]);

/** Exit code for an error: 2 for bad input (usage, configuration, names, cookie), 1 for runtime failures. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof Error && USAGE_ERRORS.has(err.name)) return 2;
  if (err instanceof Error && (err as { code?: unknown }).code === "BAD_PORT") return 2; // ERL_EPMD_PORT
  return 1;
}

/** Formats an error and, when `verbose`, its cause chain; cookies are redacted. */
export function formatError(err: unknown, verbose: boolean): string {
  const lines: string[] = [];
  let e: unknown = err;
  let depth = 0;
  while (e !== undefined && depth < 10) {
    const text = e instanceof Error ? `${depth === 0 ? "" : `${e.name}: `}${e.message}` : String(e);
    lines.push(depth === 0 ? `erlmesh: ${text}` : `  caused by ${text}`);
    if (!verbose) break;
    e = e instanceof Error ? e.cause : undefined;
    depth++;
  }
  if (!verbose && err instanceof Error && err.cause !== undefined) {
    lines.push("  (run with --verbose for the cause chain)");
  }
  return redactCookies(lines.join("\n"));
}

/** Builds the command tree. */
export function buildProgram(): Command {
  const program = new Command("erlmesh")
    .description(
      "Finds the Erlang nodes of a cluster and keeps them meshed, speaking EPMD and the distribution protocol as a hidden node",
    )
    .version(VERSION)
    .showHelpAfterError("(run 'erlmesh help' for the commands, 'erlmesh COMMAND --help' for one)")
    .exitOverride()
    .configureOutput({
      writeErr: (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)),
      writeOut: (s) => Deno.stdout.writeSync(new TextEncoder().encode(s)),
    });
  for (const cmd of [namesCommand(), pingCommand(), nodesCommand()]) {
    cmd.exitOverride().showHelpAfterError(`(run 'erlmesh ${cmd.name()} --help' for usage)`);
    program.addCommand(cmd);
  }
  return program;
}

/** Runs the CLI with `args` (without the program name) and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const verbose = args.includes("--verbose") || args.includes("-v");
  const program = buildProgram();
  if (args.length === 0) {
    program.outputHelp();
    return 2;
  }
  try {
    await program.parseAsync(args, { from: "user" });
    return actionExitCode();
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2; // commander printed the message
    Deno.stderr.writeSync(new TextEncoder().encode(formatError(err, verbose) + "\n"));
    return exitCodeFor(err);
  }
}
