import assert from "node:assert/strict";
import { type CommandName, COMMANDS } from "./commands.ts";

/** One module of `deno info --json`. */
interface InfoModule {
  specifier: string;
  kind?: string;
  dependencies?: { specifier: string; code?: { specifier?: string }; isDynamic?: boolean }[];
}

/** A command module's graph: what loads with it (static imports) and what it may load later (dynamic). */
interface Graph {
  /** Every specifier reached through static imports from the command's module. */
  statics: Set<string>;
  /** Every specifier reached through a dynamic `import()` somewhere in the whole graph. */
  dynamics: Set<string>;
}

async function graphOf(file: string): Promise<Graph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
    redirects?: Record<string, string>;
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (s: string) => info.redirects?.[s] ?? s;
  const statics = new Set<string>();
  const dynamics = new Set<string>();
  const walk = (root: string, into: Set<string>) => {
    const stack = [root];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (into.has(s)) continue;
      into.add(s);
      for (const dep of modules.get(s)?.dependencies ?? []) {
        const target = dep.code?.specifier;
        if (target === undefined) continue; // `import type`: nothing at run time
        if (dep.isDynamic) dynamics.add(resolve(target));
        else stack.push(resolve(target));
      }
    }
  };
  walk(resolve(info.roots[0]), statics);
  // What dynamic imports bring in may itself import statically: follow it, but keep it apart.
  const later = new Set<string>();
  for (const d of [...dynamics]) walk(d, later);
  for (const s of later) if (!statics.has(s)) dynamics.add(s);
  return { statics, dynamics };
}

/** The npm package names (without version) among `specifiers`. */
function npmPackages(specifiers: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const s of specifiers) {
    const m = /^npm:\/?(@[^/@]+\/[^/@]+|[^/@]+)/.exec(s);
    if (m) out.add(m[1]);
  }
  return [...out].sort();
}

/** No command loads an npm package before it runs: logtape is loaded by loadLogging (after the work), yaml with a config file. */
const STATIC_NPM: Partial<Record<CommandName, string[]>> = {};
const LATER_NPM = new Set(["@logtape/logtape", "yaml"]);
const NO_CLUSTER: CommandName[] = ["names", "ping", "nodes"];

for (const name of Object.keys(COMMANDS) as CommandName[]) {
  Deno.test(`startup: 'erlmesh ${name}' loads no Node-compat module and only the npm packages it needs`, async () => {
    const file = new URL(`./${name}.ts`, import.meta.url).pathname;
    const { statics, dynamics } = await graphOf(file);
    assert.ok(statics.size > 1, `deno info found the graph of ${file}`);

    const nodeModules = [...statics].filter((s) => s.startsWith("node:"));
    assert.deepEqual(nodeModules, [], `${name} loads no node: module at start-up`);

    assert.deepEqual(
      npmPackages(statics),
      STATIC_NPM[name] ?? [],
      `${name} loads at start-up only the npm packages it needs`,
    );
    const laterNpm = npmPackages(dynamics).filter((p) => !LATER_NPM.has(p));
    assert.deepEqual(
      laterNpm,
      [],
      `${name} loads yaml and prom-client only on demand, nothing else from npm`,
    );
    assert.deepEqual(
      [...dynamics].filter((s) => s.startsWith("node:")),
      [],
      `${name} loads no node: module later either`,
    );

    if (NO_CLUSTER.includes(name)) {
      const heavy = [...statics].filter((s) => /\/lib\/(cluster|discovery)\//.test(s));
      assert.deepEqual(heavy, [], `${name} does not load lib/cluster or lib/discovery`);
    }
  });
}
