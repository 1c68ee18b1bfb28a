/**
 * `deno task bundle`: the form erlmesh ships in. `deno task compile` turns the bundle into the binary,
 * which cannot be built here (its runtime, denort, is a download these machines cannot make), so the
 * bundle is run with `deno run` and the binary's import map (deploy/compile.json) and checked against the
 * sources: the same help and errors for every command, the same answers from a real node, and a start-up
 * graph of a few files with no npm package and no Node-compat module in it.
 */
import assert from "node:assert/strict";
import { COMMANDS } from "../lib/cli/commands.ts";
import { buildBundle, bundledArgv, erlmeshArgv } from "./_erlmesh.ts";
import { type CliResult, runCommand } from "./_cli.ts";
import { freePort, otpAvailability, randomCookie, randomId, startNode } from "./_harness/mod.ts";

const avail = otpAvailability("25");
if (!avail.available) console.warn(`SKIP the bundle against a real node: ${avail.why}`);

/** What a run gave, without its argv (which differs between sources and bundle). */
type Ran = Omit<CliResult, "argv">;

async function run(argv: string[], env: Record<string, string> = {}): Promise<Ran> {
  const { code, stdout, stderr } = await runCommand(argv, env);
  return { code, stdout, stderr };
}

/** Runs `erlmesh ARGS…` from the sources and from the bundle; both results. */
async function both(entry: string, args: string[], env: Record<string, string> = {}): Promise<[Ran, Ran]> {
  return await Promise.all([run(erlmeshArgv(args), env), run(bundledArgv(entry, args), env)]);
}

/** Every specifier the bundle's files import, statically or not. */
async function importsOf(dir: string): Promise<{ statics: Set<string>; dynamics: Set<string> }> {
  const statics = new Set<string>();
  const dynamics = new Set<string>();
  for await (const e of Deno.readDir(dir)) {
    const text = await Deno.readTextFile(`${dir}/${e.name}`);
    for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+"([^"]+)"|^import\s+"([^"]+)"/gm)) {
      statics.add(m[1] ?? m[2]);
    }
    for (const m of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) dynamics.add(m[1]);
  }
  return { statics, dynamics };
}

Deno.test({
  name:
    "bundle: one chunk per command; only logtape and yaml left to the import map; help and errors as from source",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "erlmesh-bundle-test-" });
    try {
      const entry = await buildBundle(dir);

      await t.step(
        "what the bundle imports: its own chunks, and logtape and yaml only when used",
        async () => {
          const { statics, dynamics } = await importsOf(dir);
          for (const s of statics) assert.match(s, /^\.\/[\w-]+\.js$/, `a static import of a chunk: ${s}`);
          const external = [...dynamics].filter((s) => !s.startsWith("./")).sort();
          assert.deepEqual(external, ["@logtape/logtape", "yaml"]);
          for (const c of Object.keys(COMMANDS)) {
            assert.ok(
              [...dynamics].some((s) => new RegExp(`^\\./${c}-[\\w]+\\.js$`).test(s)),
              `${c} is a chunk of its own: ${[...dynamics].join(" ")}`,
            );
          }
        },
      );

      await t.step(
        "deno info: the entry's static graph is a few local files, no npm, no node: module",
        async () => {
          const out = await new Deno.Command(Deno.execPath(), {
            args: [
              "info",
              "--json",
              "--config",
              new URL("../deploy/compile.json", import.meta.url).pathname,
              entry,
            ],
            stdout: "piped",
            stderr: "piped",
          }).output();
          assert.ok(out.success, new TextDecoder().decode(out.stderr));
          const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
            modules: { specifier: string; dependencies?: { specifier: string; isDynamic?: boolean }[] }[];
          };
          const byName = new Map(info.modules.map((m) => [m.specifier, m]));
          const seen = new Set<string>();
          const stack = [info.modules[0].specifier];
          while (stack.length) {
            const s = stack.pop()!;
            if (seen.has(s)) continue;
            seen.add(s);
            for (const d of byName.get(s)?.dependencies ?? []) {
              if (!d.isDynamic) stack.push(new URL(d.specifier, s).href);
            }
          }
          const files = [...seen];
          assert.ok(files.every((s) => s.startsWith(`file://${dir}/`)), files.join("\n"));
          assert.ok(files.length <= 12, `${files.length} files at start-up: ${files.join(" ")}`);
        },
      );

      await t.step("--version, --help and every command's --help print what the sources print", async () => {
        for (const args of [["--version"], ["--help"], ...Object.keys(COMMANDS).map((c) => [c, "--help"])]) {
          const [src, bun] = await both(entry, args);
          assert.equal(src.code, 0, src.stderr);
          assert.deepEqual(bun, src, `erlmesh ${args.join(" ")}`);
        }
      });

      await t.step("bad input: the same error and exit code 2", async () => {
        for (const args of [["pign"], ["ping"], ["agent", "--interval", "fast"], ["probe", "sometimes"]]) {
          const [src, bun] = await both(entry, args);
          assert.equal(src.code, 2, `erlmesh ${args.join(" ")}: ${src.stderr}`);
          assert.deepEqual(bun, src, `erlmesh ${args.join(" ")}`);
        }
      });

      await t.step({
        name: "against a real node: names, ping, nodes, status and agent --once answer as from source",
        ignore: !avail.available,
        fn: async () => {
          const cookie = randomCookie();
          const epmdPort = freePort();
          const alive = `bun${randomId(4)}`;
          const node = `${alive}@127.0.0.1`;
          await using _n = await startNode({ name: node, cookie, epmdPort });
          const env = { RELEASE_COOKIE: cookie, ERL_EPMD_PORT: String(epmdPort) };
          const peers = ["--node", node, "--discovery", "static", "--hosts", "127.0.0.1"];
          for (
            const args of [["names", "--output", "json"], ["nodes", node], [
              "status",
              ...peers,
              "--output",
              "json",
            ]]
          ) {
            const src = await run(erlmeshArgv(args), env);
            const bun = await run(bundledArgv(entry, args), env);
            assert.equal(src.code, 0, src.stderr);
            // Ports, timings and erlmesh's own (random) hidden names differ from run to run: compare the shape.
            const shape = (s: string) =>
              s.replace(/erlmesh-[\w-]+@/g, "erlmesh-X@").replace(/\d+(\.\d+)?/g, "N");
            assert.equal(bun.code, src.code, bun.stderr);
            assert.equal(shape(bun.stdout), shape(src.stdout), `erlmesh ${args.join(" ")}`);
          }
          const ping = await run(bundledArgv(entry, ["ping", node]), env);
          assert.equal(ping.code, 0, ping.stderr);
          assert.match(ping.stdout, new RegExp(`^pong\\s+${alive}@127\\.0\\.0\\.1\\s`, "m"));
          const once = await run(
            bundledArgv(entry, ["agent", "--once", "--log-format", "json", ...peers]),
            env,
          );
          assert.equal(once.code, 0, once.stderr);
          assert.match(
            once.stdout + once.stderr,
            /"event":"local_up"/,
            "the agent loaded logtape through the import map",
          );
          for (const r of [ping, once]) {
            assert.ok(!(r.stdout + r.stderr).includes(cookie), "no cookie in the output");
          }
        },
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
