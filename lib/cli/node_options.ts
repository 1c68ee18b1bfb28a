import { localHostname, parseNodeName } from "../dist/names.ts";
import { UsageError } from "./errors.ts";
import type { OptionDef } from "./options.ts";

/** `--timeout` of the commands that talk to one node at a time (`names`, `ping`, `nodes`). */
export const TIMEOUT_OPTION: OptionDef = {
  long: "timeout",
  arg: "duration",
  key: "timeout",
  help: "deadline of each network operation: EPMD, connect and handshake, each call",
  defaultDoc: "5s",
};

/** A node name from the command line; a name without `@host` means this host (as `erl -sname`). */
export function nodeArgument(text: string): string {
  try {
    return parseNodeName(text, localHostname().split(".")[0]).full;
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
}
