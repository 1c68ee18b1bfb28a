/**
 * Real Erlang and Elixir releases for the tests, built from the hand-written sources in
 * `tests/fixtures/erlang_app` (rebar3/relx) and `tests/fixtures/elixir_app` (mix), offline, once per
 * machine, into a cache outside the repository:
 * `$ERLMESH_CACHE/releases/<kind>-<hash of the fixture files and tools>/` (default `/var/cache/erlmesh`).
 *
 * A build runs in a scratch folder beside the cache entry and the finished release is moved into place
 * with one `rename`, so two test files building at the same time never see half a release: the loser's
 * rename fails because the entry exists, and it uses the winner's.
 *
 * Both releases run their application under the system OTP (`include_erts: false`), print one line per OS
 * signal the VM reports, stop cleanly on SIGTERM (exit code 0), and halt with `DEMO_EXIT_CODE` after
 * `DEMO_EXIT_AFTER_MS` when that is set.
 *
 * @example
 * ```ts
 * const root = await buildErlangRelease(); // …/bin/demo_app foreground, with NODE_NAME set
 * const ex = await buildElixirRelease(); // …/bin/app start
 * ```
 *
 * @module
 */

import { hasProgram, run } from "./_harness/_process.ts";

/** The relx release's name: its start script is `bin/demo_app` (`foreground` runs it in the foreground). */
export const ERLANG_RELEASE_NAME = "demo_app";
/** The mix release's name: its start script is `bin/app` (`start`), and its default node's alive part. */
export const ELIXIR_RELEASE_NAME = "app";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** The folder that holds the built releases. */
export function releaseCacheDir(): string {
  return `${Deno.env.get("ERLMESH_CACHE") || "/var/cache/erlmesh"}/releases`;
}

/** Why release builds cannot run here (a tool is missing), or undefined when they can. */
export function releaseToolsReason(kind?: "erlang" | "elixir"): string | undefined {
  const needs: [string, string][] = [["erl", "erlang-base"]];
  if (kind !== "elixir") needs.push(["rebar3", "rebar3"]);
  if (kind !== "erlang") needs.push(["mix", "elixir"], ["elixir", "elixir"]);
  for (const [program, pkg] of needs) {
    if (!hasProgram(program)) return `'${program}' is not on PATH (apt-get install ${pkg})`;
  }
  return undefined;
}

const builds = new Map<string, Promise<string>>();

/** Builds (once per machine) the rebar3 release of `tests/fixtures/erlang_app`; returns its root. */
export function buildErlangRelease(): Promise<string> {
  return cached("erlang", ERLANG_RELEASE_NAME, async (work, env) => {
    await buildStep(["rebar3", "release"], work, env);
    return `${work}/_build/default/rel/${ERLANG_RELEASE_NAME}`;
  });
}

/** Builds (once per machine) the mix release of `tests/fixtures/elixir_app`; returns its root. */
export function buildElixirRelease(): Promise<string> {
  return cached("elixir", ELIXIR_RELEASE_NAME, async (work, env) => {
    await buildStep(["mix", "release", "--overwrite"], work, {
      ...env,
      MIX_ENV: "prod",
      MIX_HOME: `${work}/.mix`,
      HEX_HOME: `${work}/.hex`,
      HEX_OFFLINE: "1",
    });
    return `${work}/_build/prod/rel/${ELIXIR_RELEASE_NAME}`;
  });
}

type Builder = (work: string, env: Record<string, string>) => Promise<string>;

function cached(kind: "erlang" | "elixir", name: string, build: Builder): Promise<string> {
  let p = builds.get(kind);
  if (!p) {
    p = buildCached(kind, name, build);
    p.catch(() => builds.delete(kind));
    builds.set(kind, p);
  }
  return p;
}

async function buildCached(kind: "erlang" | "elixir", name: string, build: Builder): Promise<string> {
  const why = releaseToolsReason(kind);
  if (why) throw new Error(`Cannot build the ${kind} release: ${why}`);
  const source = `${FIXTURES}${kind}_app`;
  const cache = releaseCacheDir();
  const target = `${cache}/${kind}-${await fingerprint(source, kind)}`;
  if (await isRelease(target, name)) return target;

  await Deno.mkdir(cache, { recursive: true });
  await removeStaleWork(cache);
  const work = await Deno.makeTempDir({ dir: cache, prefix: `.work-${kind}-` });
  try {
    await copyTree(source, `${work}/src`);
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
      // A home of its own: no global rebar3 or mix configuration, plugins or caches are used.
      HOME: `${work}/home`,
      REBAR_CACHE_DIR: `${work}/home/.cache/rebar3`,
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
    };
    await Deno.mkdir(env.HOME);
    const built = await build(`${work}/src`, env);
    if (!(await isRelease(built, name))) throw new Error(`Cannot find the built release at '${built}'`);
    try {
      await Deno.rename(built, target);
    } catch (err) {
      // Another process finished first: its release is the same build.
      if (!(await isRelease(target, name))) throw err;
    }
    return target;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

async function buildStep(cmd: string[], cwd: string, env: Record<string, string>): Promise<void> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 300_000);
  const out = await child.output().finally(() => clearTimeout(timer));
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(
      `Cannot build a release with '${cmd.join(" ")}' in '${cwd}': exit code ${out.code}\n` +
        dec.decode(out.stdout) + dec.decode(out.stderr),
    );
  }
}

async function isRelease(root: string, name: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${root}/bin/${name}`)).isFile;
  } catch {
    return false;
  }
}

/** Hash of the fixture files (paths and contents) and of the OTP and build tools they are built with. */
async function fingerprint(source: string, kind: string): Promise<string> {
  const parts: string[] = [kind];
  for (const f of await listFiles(source)) {
    parts.push(f, await Deno.readTextFile(`${source}/${f}`));
  }
  const r = await run([
    "sh",
    "-c",
    'ls -d "$(dirname "$(dirname "$(readlink -f "$(command -v erl)")")")"/erts-*' +
    ' ; ls -l --time-style=+%s "$(readlink -f "$(command -v rebar3)")" "$(readlink -f "$(command -v mix)")"' +
    ' "$(readlink -f "$(command -v elixir)")" 2>/dev/null',
  ]);
  parts.push(r.stdout);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return [...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function listFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${rel}`)) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.name === "_build" || e.name === "deps") continue;
    if (e.isDirectory) out.push(...await listFiles(dir, path));
    else if (e.isFile) out.push(path);
  }
  return out.sort();
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for (const f of await listFiles(from)) {
    const dest = `${to}/${f}`;
    await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(`${from}/${f}`, dest);
  }
}

/** Scratch folders of builds that died more than an hour ago. */
async function removeStaleWork(cache: string): Promise<void> {
  for await (const e of Deno.readDir(cache)) {
    if (!e.name.startsWith(".work-")) continue;
    try {
      const st = await Deno.stat(`${cache}/${e.name}`);
      if (Date.now() - (st.mtime?.getTime() ?? Date.now()) > 3_600_000) {
        await Deno.remove(`${cache}/${e.name}`, { recursive: true });
      }
    } catch { /* removed meanwhile */ }
  }
}
