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
export async function erlmesh(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30000,
): Promise<CliResult> {
  const argv = [...DENO_FLAGS, ...entryArgs(), ...args];
  const cmd = new Deno.Command(Deno.execPath(), {
    args: argv,
    env: childEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const out = await cmd.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    argv: [Deno.execPath(), ...argv],
  };
}
