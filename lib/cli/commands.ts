import type { CommandDef, ParsedCommandLine } from "./options.ts";

/**
 * Every command with its usage and one-line summary, for `erlmesh --help`. A command's module (its
 * options, its code) is loaded only when that command runs or its help is asked for.
 */
export const COMMANDS = {
  run: {
    usage: "[options] -- CMD ARGS...",
    summary: "start the release as a child (PID 1 in a container) and keep its node meshed until it exits",
  },
  agent: {
    usage: "[options]",
    summary: "keep the local node connected to every discovered peer (the sidecar form)",
  },
  wait: { usage: "[options]", summary: "wait until DNS and peers are ready (the initContainer gate)" },
  probe: { usage: "[options] readiness|liveness|startup", summary: "answer a Kubernetes probe" },
  names: {
    usage: "[options] [HOST]",
    summary: "list the nodes EPMD on HOST knows, with their ports (like net_adm:names/1)",
  },
  ping: {
    usage: "[options] NODE...",
    summary: "check that each NODE answers (like net_adm:ping/1); exit 0 only if all answer",
  },
  nodes: { usage: "[options] NODE", summary: "show the nodes NODE is connected to, visible and hidden" },
  discover: {
    usage: "[options]",
    summary: "show the hosts the discovery source yields and the nodes EPMD lists on them",
  },
  status: {
    usage: "[options]",
    summary:
      "show the local node, its peers, which are connected and why the others are not (changes nothing)",
  },
  mesh: {
    usage: "[options]",
    summary: "ask every discovered node who it is connected to: the matrix, missing pairs and splits",
  },
} as const;

/** A command's name. */
export type CommandName = keyof typeof COMMANDS;

/** What a command module exports. */
export interface CommandModule {
  /** Its grammar. */
  readonly command: CommandDef;
  /** Runs it with what the parser returned; resolves to the exit code. */
  execute(cli: ParsedCommandLine): Promise<number>;
}

/** The directory of the command modules, as a specifier prefix (see {@link LOADERS}). */
const HERE = "./";

/**
 * Loads a command's module: `./<name>.ts`.
 *
 * The specifier is computed on purpose. Before it runs anything, `deno run` reads every module that a
 * literal `import("./run.ts")` names, and every module those import: with ten literal imports here, each
 * command read all ten commands' graphs first (about 4 ms of every start, `erlmesh --version` included).
 * `deno task compile` cannot see a computed import either: its `--include` flags name every command
 * module (tests/deploy_compile_test.ts checks that list and the binary's contents).
 */
export const LOADERS: { readonly [K in CommandName]: () => Promise<CommandModule> } = Object.fromEntries(
  Object.keys(COMMANDS).map((name) => [name, () => import(HERE + name + ".ts") as Promise<CommandModule>]),
) as { [K in CommandName]: () => Promise<CommandModule> };
