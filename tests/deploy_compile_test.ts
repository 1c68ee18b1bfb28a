/**
 * `deno task compile`: the bundle (`deno task bundle`, tests/bundle_test.ts) compiled into one binary, and
 * what that binary embeds. The runtime it builds on (`denort`) is a download these machines cannot make, so
 * the compile here builds on this Deno instead (`DENORT_BIN`), which makes a file that does not run as
 * erlmesh; what is checked is the list of embedded files `deno compile` prints: the bundle's entry and every
 * command's chunk, the two npm packages erlmesh loads, and none of the test-only ones (12 MB: fast-check,
 * kubernetes-models and what they pull in), no TypeScript source. The Dockerfile's build runs each command's
 * `--help` in the real binary.
 */
import assert from "node:assert/strict";
import { COMMANDS } from "../lib/cli/commands.ts";
import { buildBundle, DENO_FLAGS, erlmeshArgv, PACKAGE_CONDITIONS, V8_FLAGS } from "./_erlmesh.ts";
import { runCommand } from "./_cli.ts";

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

/** The bundle's entry, as the compile task names it. */
const BUNDLE_ENTRY = "dist/bundle/bundle_main.js";

/** The compile task's `deno compile` words after `deno` (the task bundles first). */
function compileArgs(): string[] {
  const [first, second, ...rest] = denoJson.tasks.compile.split(/\s*&&\s*/);
  assert.equal(first, "deno task bundle", "the compile task bundles first");
  assert.equal(rest.length, 0);
  const words = second.split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "compile"]);
  return words.slice(1);
}

Deno.test("compile task: the bundle's entry, and a config with only erlmesh's own npm packages", async () => {
  const args = compileArgs();
  assert.equal(args.at(-1), BUNDLE_ENTRY);
  assert.ok(!args.includes("--include"), "the bundle's literal imports name every chunk");
  // Emptied first: `deno compile` embeds the bundle's whole directory, chunks of older builds included.
  assert.match(
    denoJson.tasks.bundle,
    /^rm -rf dist\/bundle && deno bundle .*--outdir dist\/bundle lib\/cli\/bundle_main\.ts$/,
  );
  await Deno.stat(`${ROOT}lib/cli/bundle_main.ts`);
  assert.equal(args[args.indexOf("--config") + 1], "deploy/compile.json");
  // The same versions as deno.json, whose lock file the tests run with; nothing else.
  assert.deepEqual(
    compileJson.imports,
    Object.fromEntries(RUNTIME_PACKAGES.map((p) => [p, denoJson.imports[p]])),
  );
  for (const p of TEST_PACKAGES) assert.ok(denoJson.imports[p], `deno.json still pins ${p} for the tests`);
  // That lib/ loads no other npm package is lib/cli/startup_test.ts's check.
});

Deno.test("compile task: the binary embeds the bundle, logtape and yaml, and no test-only package or source", async () => {
  const dir = await Deno.makeTempDir({ prefix: "erlmesh-compile-test-" });
  try {
    const entry = await buildBundle(`${dir}/bundle`);
    const args = compileArgs();
    args[args.indexOf("--output") + 1] = `${dir}/erlmesh`;
    args[args.length - 1] = entry;
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
    // `deno compile` lists a directory it embeds whole as `dir/*`: the bundle's, every chunk of it.
    assert.match(listing, /── \S*\/bundle\/\* \(/, "the binary embeds the bundle's directory");
    const chunks = [];
    for await (const e of Deno.readDir(`${dir}/bundle`)) chunks.push(e.name);
    for (const c of Object.keys(COMMANDS)) {
      assert.ok(chunks.some((f) => new RegExp(`^${c}-\\w+\\.js$`).test(f)), `a chunk for ${c}: ${chunks}`);
    }
    assert.doesNotMatch(listing, /\blib\//, "no source directory");
    assert.match(listing, /@logtape\/logtape/);
    assert.match(listing, /yaml\/2\.9\.1/);
    for (const p of [...TEST_PACKAGES, "ajv", "pure-rand"]) {
      assert.ok(!listing.includes(`${p}/`), `the binary embeds no ${p}:\n${listing}`);
    }
    assert.doesNotMatch(listing, /\.ts \(/, "no TypeScript source: the bundle only");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("package conditions: the binary, the erlmesh task and the tests resolve logtape's #util without node:util", async () => {
  const flag = `--conditions=${PACKAGE_CONDITIONS}`;
  assert.ok(compileArgs().includes(flag), "deno task compile");
  assert.ok(denoJson.tasks.erlmesh.split(/\s+/).includes(flag), "deno task erlmesh");
  assert.ok(DENO_FLAGS.includes(flag), "the tests' and benchmarks' erlmesh processes");
  // The pinned logtape, as Deno's npm cache holds it: the first key of its `#util` entry that a condition
  // matches (package order decides) must be ours, and its module must import nothing from node:.
  const version = /@([\d.]+)$/.exec(denoJson.imports["@logtape/logtape"])![1];
  const dir = `${Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`}/npm/registry.npmjs.org/` +
    `@logtape/logtape/${version}`;
  const pkg = JSON.parse(await Deno.readTextFile(`${dir}/package.json`)) as {
    imports: Record<string, Record<string, string | Record<string, string>>>;
  };
  const active = new Set([PACKAGE_CONDITIONS, "deno", "node", "import", "default"]);
  const util = pkg.imports["#util"];
  const first = Object.keys(util).find((k) => active.has(k));
  assert.equal(first, PACKAGE_CONDITIONS, `#util resolves by '${first}': ${JSON.stringify(util)}`);
  const target = util[first!] as string | Record<string, string>;
  const file = typeof target === "string" ? target : target.import ?? target.default;
  const text = await Deno.readTextFile(`${dir}/${file}`);
  assert.doesNotMatch(text, /["']node:/, `${file} imports nothing from node:`);
  // What the Deno default would pick imports node:util: the reason for the flag.
  const node = util.node as string | Record<string, string>;
  const nodeFile = typeof node === "string" ? node : node.import;
  assert.match(await Deno.readTextFile(`${dir}/${nodeFile}`), /from "node:util"/);
});

Deno.test("V8 flags: the binary, the erlmesh task, the tests and the demo compile eagerly (--no-lazy)", async () => {
  const flag = `--v8-flags=${V8_FLAGS}`;
  assert.equal(V8_FLAGS, "--no-lazy");
  assert.ok(compileArgs().includes(flag), "deno task compile bakes it into the binary");
  assert.ok(denoJson.tasks.erlmesh.split(/\s+/).includes(flag), "deno task erlmesh");
  assert.ok(DENO_FLAGS.includes(flag), "the tests' and benchmarks' erlmesh processes");
  assert.ok((await Deno.readTextFile(`${ROOT}tests/demo.ts`)).includes(`"${flag}"`), "deno task demo");
  // Nothing else: each further flag would need its own measurement (see V8_FLAGS).
  for (const words of [compileArgs(), denoJson.tasks.erlmesh.split(/\s+/), [...DENO_FLAGS]]) {
    assert.deepEqual(words.filter((w) => w.startsWith("--v8-flags")), [flag]);
  }
});

Deno.test("a new pod's first process runs without Deno's code cache, with the same flags otherwise", async () => {
  const fresh = erlmeshArgv(["--version"], { freshPod: true });
  const warm = erlmeshArgv(["--version"]);
  assert.ok(fresh.includes("--no-code-cache") && !warm.includes("--no-code-cache"));
  assert.deepEqual(fresh.filter((w) => w !== "--no-code-cache"), warm);
  assert.equal(fresh[fresh.indexOf("--no-code-cache") - 1], "run", "a flag of deno run, before the entry");
  const r = await runCommand(fresh, {}, 30_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^erlmesh \d+\.\d+\.\d+\n$/);
});
