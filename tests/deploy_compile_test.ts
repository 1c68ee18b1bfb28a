/**
 * `deno task compile`: what the single binary embeds. The runtime it builds on (`denort`) is a download
 * these machines cannot make, so the compile here builds on this Deno instead (`DENORT_BIN`), which makes
 * a file that does not run as erlmesh; what is checked is the list of embedded files `deno compile`
 * prints: every command module (they are loaded by a computed specifier, see lib/cli/commands.ts), the two
 * npm packages erlmesh loads, and none of the test-only ones (12 MB: fast-check, kubernetes-models and
 * what they pull in). The Dockerfile's build runs each command's `--help` in the real binary.
 */
import assert from "node:assert/strict";
import { COMMANDS } from "../lib/cli/commands.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
  imports: Record<string, string>;
  tasks: Record<string, string>;
};
const compileJson = JSON.parse(await Deno.readTextFile(`${ROOT}deploy/compile.json`)) as {
  imports: Record<string, string>;
  lock: unknown;
};
/** The npm packages lib/ imports (by their deno.json names); the others are the tests'. */
const RUNTIME_PACKAGES = ["@logtape/logtape", "yaml"];
const TEST_PACKAGES = ["fast-check", "kubernetes-models"];

/** The compile task's words after `deno`. */
function compileArgs(): string[] {
  const words = denoJson.tasks.compile.split(/\s+/);
  assert.equal(words[0], "deno");
  return words.slice(1);
}

Deno.test("compile task: --include names every command module, and the config holds only erlmesh's own npm packages", async () => {
  const args = compileArgs();
  const included = args.flatMap((a, i) => (args[i - 1] === "--include" ? [a] : []));
  assert.deepEqual(included.sort(), Object.keys(COMMANDS).map((c) => `lib/cli/${c}.ts`).sort());
  for (const f of included) await Deno.stat(`${ROOT}${f}`);
  assert.equal(args[args.indexOf("--config") + 1], "deploy/compile.json");
  // The same versions as deno.json, whose lock file the tests run with; nothing else.
  assert.deepEqual(
    compileJson.imports,
    Object.fromEntries(RUNTIME_PACKAGES.map((p) => [p, denoJson.imports[p]])),
  );
  for (const p of TEST_PACKAGES) assert.ok(denoJson.imports[p], `deno.json still pins ${p} for the tests`);
  // That lib/ loads no other npm package is lib/cli/startup_test.ts's check.
});

Deno.test("compile task: the binary embeds every command module, logtape and yaml, and no test-only package", async () => {
  const dir = await Deno.makeTempDir({ prefix: "erlmesh-compile-test-" });
  try {
    const args = compileArgs();
    args[args.indexOf("--output") + 1] = `${dir}/erlmesh`;
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      env: { DENORT_BIN: Deno.execPath(), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.success, text);
    const listing = text.slice(text.indexOf("Embedded Files"));
    assert.ok(listing.length > 0, text);
    for (const c of Object.keys(COMMANDS)) {
      assert.match(listing, new RegExp(`── ${c}\\.ts \\(`), `the binary embeds lib/cli/${c}.ts`);
    }
    assert.match(listing, /@logtape\/logtape/);
    assert.match(listing, /yaml\/2\.9\.1/);
    for (const p of [...TEST_PACKAGES, "ajv", "pure-rand"]) {
      assert.ok(!listing.includes(`${p}/`), `the binary embeds no ${p}:\n${listing}`);
    }
    assert.doesNotMatch(listing, /_test\.ts/, "no test file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
