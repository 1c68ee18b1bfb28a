import assert from "node:assert/strict";
import { configTable } from "../tools/config_doc.ts";
import { CONFIG_KEY_NAMES, CONFIG_KEYS } from "../lib/config/mod.ts";
import { renderReadme } from "../tools/readme_table.ts";
import { blockText, commandLine, renderSamples, sampleBlocks, SAMPLES } from "../tools/readme_samples.ts";

Deno.test("README.md carries the current configuration and command option tables (regenerate: deno run -A tools/readme_table.ts)", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.equal(readme, await renderReadme(readme));
  assert.match(readme, /deno task demo/);
  assert.match(readme, /deno task test/);
});

Deno.test("README.md has exactly the sample blocks tools/readme_samples.ts writes, each one command and its output", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const blocks = sampleBlocks(readme);
  assert.deepEqual(
    [...blocks.keys()],
    SAMPLES.map((s) => s.id),
    "README markers, in order, match the script's samples",
  );
  const outputs = new Map<string, string>();
  for (const s of SAMPLES) {
    const block = blocks.get(s.id)!;
    const m = /^\n\n```\n(.*)\n([^]*?)\n```\n\n$/.exec(block);
    assert.ok(m, `Sample '${s.id}' is one fenced block (regenerate: deno run -A tools/readme_samples.ts)`);
    assert.equal(m[1], commandLine(s), `Sample '${s.id}' shows the script's command`);
    assert.ok(m[2].trim().length > 0, `Sample '${s.id}' shows output`);
    assert.equal(blockText(s, m[2]), block);
    outputs.set(s.id, m[2]);
  }
  assert.equal(
    renderSamples(readme, outputs),
    readme,
    "rewriting the blocks with their own text changes nothing",
  );
  assert.doesNotMatch(
    readme,
    /kill -USR1|SIGUSR1 (makes|logs)/,
    "no signal is documented as printing the counters",
  );
});

Deno.test("docs/configuration.md is up to date with configTable()", async () => {
  const path = new URL("../docs/configuration.md", import.meta.url);
  const text = await Deno.readTextFile(path).catch(() => "");
  assert.equal(
    text,
    configTable(),
    "docs/configuration.md is stale: run `deno run --allow-write tools/config_doc.ts` to regenerate it",
  );
});

Deno.test("configTable() lists every key, flag, variable and legacy variable", () => {
  const table = configTable();
  for (const key of CONFIG_KEY_NAMES) {
    const spec = CONFIG_KEYS[key];
    assert.ok(table.includes(`\`${spec.flag} <${spec.arg}>\``), spec.flag);
    assert.ok(table.includes(`\`${spec.env}\``), spec.env);
    for (const l of spec.legacy) assert.ok(table.includes(`\`${l.name}\``), l.name);
  }
  for (
    const v of [
      "RELEASE_NODE",
      "RELEASE_DISTRIBUTION",
      "ERLANG_NODENAME",
      "POD_NAME",
      "POD_IP",
      "ERLMESH_CONFIG",
    ]
  ) {
    assert.ok(table.includes(v), v);
  }
});
