/**
 * The entry of erlmesh's bundle (`deno task bundle`), which `deno task compile` turns into the binary.
 *
 * It loads each command by a literal `import()`, so the bundler splits every command into a chunk of its
 * own, loaded only when that command runs. `main.ts` cannot do the same from source: there `deno run`
 * reads the graph of every literal `import()` before it starts (see `LOADERS` in commands.ts); in the bundle that
 * graph is a handful of files.
 *
 * @module
 */
import type { CommandModule, CommandName } from "./commands.ts";
import { main } from "./main.ts";

/** Each command's module, by a literal specifier the bundler follows. */
export const BUNDLED_LOADERS: { readonly [K in CommandName]: () => Promise<CommandModule> } = {
  run: () => import("./run.ts"),
  agent: () => import("./agent.ts"),
  wait: () => import("./wait.ts"),
  probe: () => import("./probe.ts"),
  names: () => import("./names.ts"),
  ping: () => import("./ping.ts"),
  nodes: () => import("./nodes.ts"),
  discover: () => import("./discover.ts"),
  status: () => import("./status.ts"),
  mesh: () => import("./mesh.ts"),
};

if (import.meta.main) Deno.exit(await main(Deno.args, BUNDLED_LOADERS));
