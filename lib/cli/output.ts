import type { OutputFormat } from "./common.ts";
import { UsageError } from "./errors.ts";

/** `--output` and `--verbose` of the commands that read the full configuration. */
export function globalOutput(raw: Record<string, unknown>): { output: OutputFormat; verbose: boolean } {
  const output = String(raw.output ?? "text");
  if (output !== "text" && output !== "json") {
    throw new UsageError(`Invalid --output '${output}': expected 'text' or 'json'`);
  }
  return { output, verbose: Boolean(raw.verbose) };
}
