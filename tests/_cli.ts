/** Runs the erlmesh CLI as a process, the way a user runs it. */
import { childEnv, DENO_FLAGS, entryArgs } from "./_erlmesh.ts";

/** What one CLI run gave. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  argv: string[];
}

/** Runs `erlmesh ARGS…` with `env` (and only a minimal inherited environment). */
export function erlmesh(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30000,
): Promise<CliResult> {
  return runCommand([Deno.execPath(), ...DENO_FLAGS, ...entryArgs(), ...args], env, timeoutMs);
}

/** Runs `argv` (program first) as {@link erlmesh} does: `env` on a minimal environment, a deadline, output kept. */
export async function runCommand(
  argv: string[],
  env: Record<string, string> = {},
  timeoutMs = 30000,
): Promise<CliResult> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: childEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), argv };
}
