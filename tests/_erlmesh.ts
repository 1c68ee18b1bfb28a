/** How tests and benchmarks start erlmesh as a process: the entry point, permissions and environment. */

/** The CLI entry point. */
export const MAIN: string = new URL("../main.ts", import.meta.url).pathname;

/** `deno run` and the permissions the compiled binary has. */
export const DENO_FLAGS: readonly string[] = [
  "run",
  "--quiet",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-run",
  "--allow-sys",
  "--allow-ffi",
];

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

/**
 * Variables an erlmesh process must never get, even from `extra`: Deno (2.8.3 and later) honours
 * `--inspect` and `--require` in NODE_OPTIONS under `deno run`, which would open a debugger port or load
 * foreign code into erlmesh.
 */
export const NEVER_PASSED: readonly string[] = ["NODE_OPTIONS"];

/**
 * The environment an erlmesh process gets: PATH, Deno's module cache and TLS settings, no colours,
 * and `extra`; nothing else of the test's own environment (so no stray cookie variable), and never
 * {@link NEVER_PASSED}.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: "/nonexistent",
    NO_COLOR: "1",
    // `deno run` asks dl.deno.land for a newer Deno at start (the compiled binary does not): not in tests.
    DENO_NO_UPDATE_CHECK: "1",
  };
  for (const k of PASS_THROUGH) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  env.DENO_DIR ??= `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
  const all: Record<string, string> = { ...env, ...extra };
  for (const k of NEVER_PASSED) delete all[k];
  return all;
}

/** `env` arguments that drop {@link NEVER_PASSED} from whatever environment the spawner passes on. */
const UNSET: readonly string[] = NEVER_PASSED.flatMap((k) => ["-u", k]);

/**
 * The argv of `erlmesh ARGS…` run from source: `env -u NODE_OPTIONS deno run … main.ts ARGS…`. Use it
 * rather than `Deno.execPath()` + {@link DENO_FLAGS}: the `env` prefix keeps {@link NEVER_PASSED} out
 * even when the spawner (`ip netns exec`, a `Deno.Command` without `clearEnv`) passes on the test's
 * environment. `env` execs Deno, so the pid of the spawned process is erlmesh's.
 */
export function erlmeshArgv(args: string[]): string[] {
  return ["env", ...UNSET, Deno.execPath(), ...DENO_FLAGS, MAIN, ...args];
}

/** Collects a stream's text into `lines`, one entry per line; resolves when the stream ends. */
export async function collectLines(stream: ReadableStream<Uint8Array>, lines: string[]): Promise<void> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    const parts = buf.split("\n");
    buf = parts.pop()!;
    lines.push(...parts);
  }
  if (buf) lines.push(buf);
}

/**
 * The argv of `erlmesh run ARGS -- COMMAND` as a container runs it, with JSON logs. `env
 * --default-signal` undoes an ignored SIGINT/SIGQUIT inherited from a background shell; `-u` drops
 * {@link NEVER_PASSED}.
 */
export function runArgv(args: string[], command: string[]): string[] {
  return [
    "env",
    "--default-signal",
    ...UNSET,
    Deno.execPath(),
    ...DENO_FLAGS,
    MAIN,
    "run",
    "--log-format",
    "json",
    ...args,
    "--",
    ...command,
  ];
}
