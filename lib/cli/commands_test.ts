import assert from "node:assert/strict";
import { type CommandModule, type CommandName, COMMANDS, LOADERS } from "./commands.ts";
import * as agent from "./agent.ts";
import * as discover from "./discover.ts";
import * as mesh from "./mesh.ts";
import * as names from "./names.ts";
import * as nodes from "./nodes.ts";
import * as ping from "./ping.ts";
import * as probe from "./probe.ts";
import * as run from "./run.ts";
import * as status from "./status.ts";
import * as wait from "./wait.ts";

/** Every command's module, checked by the type checker against what a command module exports. */
const MODULES: Record<CommandName, CommandModule> = {
  run,
  agent,
  wait,
  probe,
  names,
  ping,
  nodes,
  discover,
  status,
  mesh,
};

Deno.test("LOADERS loads each command's own module, one per command", async () => {
  assert.deepEqual(Object.keys(LOADERS).sort(), Object.keys(COMMANDS).sort());
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    const mod = await LOADERS[name]();
    assert.equal(mod, MODULES[name], `LOADERS.${name} loads ./${name}.ts`);
    assert.equal(typeof mod.execute, "function");
    assert.ok(mod.command, `${name} exports its grammar`);
  }
});

Deno.test("main.ts's module graph holds no command module: each is loaded only when chosen", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("../../main.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: { specifier: string }[] };
  const graph = info.modules.map((m) => m.specifier);
  assert.ok(graph.some((s) => s.endsWith("/lib/cli/commands.ts")), "deno info read main.ts's graph");
  for (const name of Object.keys(COMMANDS)) {
    assert.ok(!graph.some((s) => s.endsWith(`/lib/cli/${name}.ts`)), `${name}.ts is not in main.ts's graph`);
  }
});

Deno.test("the bundle's entry loads the same module for each command as LOADERS", async () => {
  const { BUNDLED_LOADERS } = await import("./bundle_main.ts");
  assert.deepEqual(Object.keys(BUNDLED_LOADERS).sort(), Object.keys(COMMANDS).sort());
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    assert.equal(await BUNDLED_LOADERS[name](), MODULES[name], `BUNDLED_LOADERS.${name} loads ./${name}.ts`);
  }
});
