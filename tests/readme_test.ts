import assert from "node:assert/strict";
import { renderReadme } from "../tools/readme_table.ts";

Deno.test("README.md carries the current configuration and command option tables (regenerate: deno run -A tools/readme_table.ts)", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.equal(readme, await renderReadme(readme));
  assert.match(readme, /deno task demo/);
  assert.match(readme, /deno task test/);
});
