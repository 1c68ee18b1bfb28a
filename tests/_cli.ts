/** Runs the erlmesh CLI as a process, the way a user runs it. */
const MAIN = new URL("../main.ts", import.meta.url).pathname;

const PASS_THROUGH = [
  "DENO_DIR",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
];

/** The environment a CLI run inherits: PATH, Deno's cache and TLS settings, nothing else. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: "/nonexistent",
    NO_COLOR: "1",
  };
  for (const k of PASS_THROUGH) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  env.DENO_DIR ??= `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
  return env;
}

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
  const argv = [
    "run",
    "--quiet",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-run",
    "--allow-sys",
    MAIN,
    ...args,
  ];
  const cmd = new Deno.Command(Deno.execPath(), {
    args: argv,
    env: { ...baseEnv(), ...env },
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
