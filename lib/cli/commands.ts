import { Command } from "commander";

/** Every command with its one-line summary; the command modules are loaded only when used. */
export const COMMANDS = {
  run:
    "start the release (CMD ARGS...) as PID 1 and keep its node meshed until it exits (the container entrypoint)",
  agent:
    "keep the local node connected to every discovered peer (the reconcile loop, for a node that is already running: the sidecar form)",
  wait: "wait until DNS and peers are ready (the initContainer gate)",
  probe: "answer a readiness, liveness or startup probe",
  names: "list the nodes EPMD on HOST knows, with their distribution ports (like net_adm:names/1)",
  ping: "check that each NODE answers (like net_adm:ping/1); exit 0 only if all answer",
  nodes: "show the nodes NODE is connected to: visible (nodes()) and hidden (nodes(hidden))",
  discover:
    "show the hosts the configured discovery source yields (with the record types seen) and the nodes EPMD lists on them",
  status:
    "show the local node, its discovered peers, which are connected, and why the others are missing (changes nothing); exit 0 when fully meshed",
  mesh:
    "connect to every discovered node and show who is connected to whom, the missing pairs and any split; exit 0 only for a full mesh",
} as const;

/** A command's name. */
export type CommandName = keyof typeof COMMANDS;

/** A new command with its summary from {@link COMMANDS}. */
export function command(name: CommandName): Command {
  return new Command(name).description(COMMANDS[name]);
}
