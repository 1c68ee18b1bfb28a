import { Command, CommanderError } from "commander";
import { redactCookies } from "../dist/mod.ts";
import { actionExitCode } from "./common.ts";
import { command, type CommandName } from "./commands.ts";

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

const LOADERS: Partial<Record<CommandName, () => Promise<Command>>> = {
  run: () => import("./run.ts").then((m) => m.runCommand()),
  names: () => import("./names.ts").then((m) => m.namesCommand()),
  ping: () => import("./ping.ts").then((m) => m.pingCommand()),
  nodes: () => import("./nodes.ts").then((m) => m.nodesCommand()),
  discover: () => import("./discover.ts").then((m) => m.discoverCommand()),
  agent: () => import("./agent.ts").then((m) => m.agentCommand()),
  status: () => import("./status.ts").then((m) => m.statusCommand()),
  mesh: () => import("./mesh.ts").then((m) => m.meshCommand()),
  wait: () => import("./wait.ts").then((m) => m.waitCommand()),
  probe: () => import("./probe.ts").then((m) => m.probeCommand()),
};

/**
 * Builds the command tree. Only the command named in `args` (or every command, for `help COMMAND`)
 * is loaded in full; the others are listed by name and summary, so start-up stays lean.
 */
export async function buildProgram(args: string[] = []): Promise<Command> {
  const program = new Command("erlmesh")
    .enablePositionalOptions()
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
  const wanted = args[0] === "help" ? args[1] : args[0];
  for (const name of Object.keys(LOADERS) as CommandName[]) {
    const cmd = name === wanted || wanted === undefined ? await LOADERS[name]!() : command(name);
    cmd.exitOverride().showHelpAfterError(`(run 'erlmesh ${name} --help' for usage)`);
    program.addCommand(cmd);
  }
  return program;
}

/** Runs the CLI with `args` (without the program name) and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const verbose = args.includes("--verbose") || args.includes("-v");
  try {
    const program = await buildProgram(args);
    if (args.length === 0) {
      program.outputHelp();
      return 2;
    }
    await program.parseAsync(args, { from: "user" });
    return actionExitCode();
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2; // commander printed the message
    Deno.stderr.writeSync(new TextEncoder().encode(formatError(err, verbose) + "\n"));
    return exitCodeFor(err);
  }
}
