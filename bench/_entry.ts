/**
 * Which erlmesh the benchmarks run: the bundle (`deno task bundle`), the form `deno task compile` turns into
 * the binary, built once when the benchmark starts, so it is also a snapshot of the code for the whole run
 * (the tree may change meanwhile). Every erlmesh process the tests' launchers start runs it
 * (`BUNDLE_ENV`, tests/_erlmesh.ts); `runtime` also runs each command from the sources beside it.
 *
 * @module
 */
import { buildBundle, BUNDLE_ENV } from "../tests/_erlmesh.ts";
import { tempPrefix } from "../tests/_harness/mod.ts";

/** Runs `fn` with erlmesh's processes running a bundle built now (or the one `BUNDLE_ENV` already names). */
export async function withBundle<T>(fn: (entry: string) => Promise<T>): Promise<T> {
  const given = Deno.env.get(BUNDLE_ENV);
  if (given) return await fn(given);
  const dir = await Deno.makeTempDir({ prefix: tempPrefix("bench-bundle") });
  try {
    const entry = await buildBundle(dir);
    Deno.env.set(BUNDLE_ENV, entry);
    return await fn(entry);
  } finally {
    Deno.env.delete(BUNDLE_ENV);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The commit the bench runs at, for the report: `abc1234 subject`, and whether the tree has changes. */
export async function commitLine(): Promise<string> {
  const root = new URL("..", import.meta.url).pathname;
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", {
      args: ["-C", root, ...args],
      stdout: "piped",
      stderr: "null",
    })
      .output().catch(() => undefined);
    return out?.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  };
  const head = await git("log", "-1", "--format=%h %s");
  const dirty = await git("status", "--porcelain", "--untracked-files=no");
  return `${head?.slice(0, 60) ?? "an unknown commit"}${dirty ? " plus uncommitted changes" : ""}`;
}
