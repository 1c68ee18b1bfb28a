/**
 * The command-line interface: one file per command.
 * @module
 */
export { buildProgram, exitCodeFor, formatError, main, VERSION } from "./main.ts";
export { UsageError } from "./errors.ts";
