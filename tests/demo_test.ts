import assert from "node:assert/strict";
import { hasProgram } from "./_harness/_process.ts";

const hasErl = hasProgram("erl");
if (!hasErl) console.warn("SKIP demo test: 'erl' is not on the PATH");

Deno.test({
  name: "deno task demo runs to the end with every step as expected",
  ignore: !hasErl,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "demo"],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      signal: AbortSignal.timeout(120000),
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /Demo finished: every step gave the expected result/);
    assert.match(text, /Full mesh: all 2 nodes are connected to each other/);
    assert.match(text, /refused our cookie/);
  },
});
