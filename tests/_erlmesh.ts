/** How tests and benchmarks start erlmesh as a process: the entry point, permissions and environment. */

/** The CLI entry point. */
export const MAIN: string = new URL("../main.ts", import.meta.url).pathname;

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * The npm package conditions erlmesh runs with (`deno task compile`, `deno task erlmesh`, the tests). With
 * Deno's own, `@logtape/logtape` resolves its `#util` import to a module that imports `node:util` (its
 * package lists `node` before `deno`), which loads part of Deno's Node-compat layer, ~20 ms of CPU, in every
 * process that logs, only for a fallback it never uses under Deno (it formats with `Deno.inspect`). Its
 * `browser` entry, listed first, has no such import. tests/bundle_test.ts checks the package still resolves so.
 */
export const PACKAGE_CONDITIONS = "browser";

/**
 * The V8 flags erlmesh runs with (`deno task compile` bakes them into the binary; `deno task erlmesh`, the
 * tests, the benchmark and the demo pass them). `--no-lazy` compiles every function of a module when the module
 * is compiled, instead of pre-parsing it then and parsing it again at its first call. A command runs most of
 * the code it loads (the bundle loads one chunk per command), so the second parse was mostly cost; and Deno
 * writes a module's code cache right after compiling it, so with lazy compilation the cache held little more
 * than the top level, and every process compiled the functions it called again.
 *
 * Measured (hyperfine, the bundle under `deno run`, Deno 2.9.1, each variant with its own DENO_DIR): with a warm
 * code cache, `agent --once` 81.5 → 60.7 ms of wall and 56 → 37 ms of user CPU, `ping` 48.0 → 40.4 ms, agent
 * `--http` to ready 58–63 → 50 ms; with no code cache (`--no-code-cache`) `ping` 46.3 → 41.4, `agent --once`
 * 81.9 → 78.3, `status` 50.2 → 48.0, but `probe liveness` 42.7 → 47.5 and agent `--http` to ready 70 → 74.5.
 * The price: a long-running agent with `--http` holds 1–3 MB more (bytecode of functions it ran once or never).
 *
 * The binary's code cache (Deno's cli/rt/code_cache.rs): its first run writes `$TMPDIR/deno-compile-erlmesh.cache`
 * with every module it compiled until the caches it asked for were all answered, and later runs only read it.
 * `main()` asks for the command's chunk before its first await, so by deno_core's order (a dynamic import is
 * loaded before the event loop's first drain of finished caches) that file should hold the first command's
 * chunks: the first erlmesh process of a pod runs without any cache (the "no code cache" figures), and the later
 * ones (probes, `kubectl exec … erlmesh status`) from it for every chunk that first command loaded. The binary
 * cannot be built here, so this is read from the source, not measured.
 */
export const V8_FLAGS = "--no-lazy";

/**
 * `deno run` with the permissions the compiled binary has, and the package conditions and V8 flags it is
 * compiled with (`--conditions=browser`: see {@link PACKAGE_CONDITIONS}; `--v8-flags=--no-lazy`: see
 * {@link V8_FLAGS}).
 */
export const DENO_FLAGS: readonly string[] = [
  "run",
  "--quiet",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-run",
  "--allow-sys",
  "--allow-ffi",
  `--conditions=${PACKAGE_CONDITIONS}`,
  `--v8-flags=${V8_FLAGS}`,
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

/** How a spawned erlmesh starts. */
export interface StartOptions {
  /**
   * As the first erlmesh process of a new pod: without Deno's code cache (`--no-code-cache`). The binary
   * writes its code cache in `$TMPDIR` at its first run (see {@link V8_FLAGS}), and a new pod's `/tmp` is empty,
   * so the process that forms the cluster (the agent, or `erlmesh run`) compiles every module it loads.
   * @default false: a warm cache, as for every later process of the pod
   */
  freshPod?: boolean;
}

/** {@link DENO_FLAGS}, without the code cache for {@link StartOptions.freshPod}. */
export function denoFlags(options: StartOptions = {}): readonly string[] {
  return options.freshPod ? [DENO_FLAGS[0], "--no-code-cache", ...DENO_FLAGS.slice(1)] : DENO_FLAGS;
}

/** `env` arguments that drop {@link NEVER_PASSED} from whatever environment the spawner passes on. */
const UNSET: readonly string[] = NEVER_PASSED.flatMap((k) => ["-u", k]);

/**
 * The argv of `erlmesh ARGS…` run from source: `env -u NODE_OPTIONS deno run … main.ts ARGS…`. Use it
 * rather than `Deno.execPath()` + {@link DENO_FLAGS}: the `env` prefix keeps {@link NEVER_PASSED} out
 * even when the spawner (`ip netns exec`, a `Deno.Command` without `clearEnv`) passes on the test's
 * environment. `env` execs Deno, so the pid of the spawned process is erlmesh's.
 */
export function erlmeshArgv(args: string[], options: StartOptions = {}): string[] {
  return ["env", ...UNSET, Deno.execPath(), ...denoFlags(options), ...entryArgs(), ...args];
}

/**
 * The variable naming a bundle's entry ({@link buildBundle}) that the erlmesh processes of tests and
 * benchmarks run instead of the sources: `deno task bench` sets it to a bundle it builds at its start (the
 * form erlmesh ships in, and a snapshot of the code for the whole run); set it by hand to run the tests
 * against a bundle.
 */
export const BUNDLE_ENV = "ERLMESH_TEST_BUNDLE";

/**
 * What follows `deno run FLAGS` to run erlmesh: `main.ts`, or, with {@link BUNDLE_ENV} set, the binary's
 * import map and the bundle's entry.
 */
export function entryArgs(): string[] {
  const bundle = Deno.env.get(BUNDLE_ENV);
  return bundle ? ["--config", `${ROOT}deploy/compile.json`, bundle] : [MAIN];
}

/**
 * The argv of `deno task bundle` (deno.json's `bundle` task), writing into `outdir` instead of
 * `dist/bundle`, so concurrent tests each build their own.
 */
export async function bundleArgv(outdir: string): Promise<string[]> {
  const tasks = (JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as { tasks: Record<string, string> })
    .tasks;
  // `rm -rf dist/bundle && deno bundle …`: the outdir is emptied first, so no chunk of an older build stays.
  const command = tasks.bundle.split(/\s*&&\s*/).find((c) => c.startsWith("deno bundle ")) ?? "";
  const words = command.split(/\s+/);
  if (words[0] !== "deno" || !words.includes("--outdir")) {
    throw new Error(
      `Cannot read deno.json's bundle task: expected 'deno bundle … --outdir DIR …', got '${tasks.bundle}'`,
    );
  }
  words[words.indexOf("--outdir") + 1] = outdir;
  return [Deno.execPath(), ...words.slice(1)];
}

/** Builds erlmesh's bundle (as `deno task bundle` does) into `outdir`; resolves to its entry file. */
export async function buildBundle(outdir: string): Promise<string> {
  const argv = await bundleArgv(outdir);
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `Cannot build the bundle into '${outdir}': ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return `${outdir}/bundle_main.js`;
}

/**
 * The argv of `erlmesh ARGS…` run from a bundle ({@link buildBundle}) with the binary's import map
 * (deploy/compile.json: logtape and yaml), as {@link erlmeshArgv} runs the sources.
 */
export function bundledArgv(entry: string, args: string[]): string[] {
  return [
    "env",
    ...UNSET,
    Deno.execPath(),
    ...DENO_FLAGS,
    "--config",
    `${ROOT}deploy/compile.json`,
    entry,
    ...args,
  ];
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
export function runArgv(args: string[], command: string[], options: StartOptions = {}): string[] {
  return [
    "env",
    "--default-signal",
    ...UNSET,
    Deno.execPath(),
    ...denoFlags(options),
    ...entryArgs(),
    "run",
    "--log-format",
    "json",
    ...args,
    "--",
    ...command,
  ];
}
