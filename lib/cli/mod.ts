/**
 * The command-line interface: one file per command.
 * @module
 */
export { errorJson, exitCodeFor, formatError, main, programHelp, VERSION } from "./main.ts";
export { UsageError } from "./errors.ts";
