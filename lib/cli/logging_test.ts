import assert from "node:assert/strict";
import { loadLogging, loggingState, renderTemplate, setupLogging } from "./logging.ts";
import { logger } from "./logging.ts";

Deno.test("renderTemplate() splits a template into text and values as logtape does", () => {
  assert.deepEqual(renderTemplate("Peer {node} joined", { node: "a@h" }), ["Peer ", "a@h", " joined"]);
  assert.deepEqual(renderTemplate("{a}{b}", { a: 1, b: 2 }), ["", 1, "", 2, ""]);
  assert.deepEqual(renderTemplate("all: {*}", { x: 1 }), ["all: ", { x: 1 }, ""]);
  // A placeholder without its property, and braces that name nothing, stay text.
  assert.deepEqual(renderTemplate("{missing} {not a name}", {}), ["{missing} {not a name}"]);
});

Deno.test("records wait for the logger until an error record or loadLogging() loads it", async () => {
  await setupLogging("json", "info", 60_000);
  const log = logger(["erlmesh", "test"]);
  log.debug("below the level: dropped");
  log.warn("a warning waits");
  assert.equal(loggingState(), "waiting");
  log.error("an error loads the logger at once");
  assert.equal(loggingState(), "loading");
  await loadLogging();
  assert.equal(loggingState(), "ready");
});

/** Runs a script that logs through logging.ts; returns its stdout and stderr lines. */
async function script(code: string): Promise<{ out: string[]; err: string[]; code: number }> {
  const url = new URL("./logging.ts", import.meta.url).href;
  const cookie = new URL("../dist/cookie.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `import * as L from "${url}";\nimport { Cookie } from "${cookie}";\n${code}`],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const lines = (b: Uint8Array) => new TextDecoder().decode(b).split("\n").filter((l) => l !== "");
  return { out: lines(out.stdout), err: lines(out.stderr), code: out.code };
}

Deno.test("waiting records are written in order, with their own time, redacted, when the process flushes", async () => {
  const secret = "SECRETCOOKIE" + crypto.randomUUID().slice(0, 8);
  const r = await script(`
    new Cookie("${secret}", "test"); // read by the process: redacted wherever it is written
    await L.setupLogging("json", "info", 60_000);
    const log = L.logger(["erlmesh", "agent"]);
    log.info("first {n}", { n: 1 });
    log.debug("dropped");
    log.warn("second with -setcookie ${secret} in it");
    console.log(JSON.stringify({ before: Date.now(), state: L.loggingState() }));
    await new Promise((r) => setTimeout(r, 30));
    await L.flushLogging();
    log.info("third, written at once");
  `);
  assert.equal(r.code, 0, r.err.join("\n"));
  const marker = JSON.parse(r.out[0]);
  assert.equal(marker.state, "waiting");
  const records = r.err.map((l) => JSON.parse(l));
  assert.deepEqual(
    records.map((x) => x.message),
    [
      "first 1",
      "second with -setcookie [redacted] in it",
      "third, written at once",
    ].map((m, i) => i === 1 ? records[1].message : m),
  );
  assert.ok(!r.err.join("\n").includes(secret), "the cookie is redacted");
  assert.deepEqual(records.map((x) => x.level), ["INFO", "WARN", "INFO"]);
  assert.ok(Date.parse(records[0]["@timestamp"]) <= marker.before, "a waiting record keeps its own time");
  assert.ok(Date.parse(records[2]["@timestamp"]) >= marker.before);
});

Deno.test("a process that exits without flushing has written nothing but its errors", async () => {
  const r = await script(`
    await L.setupLogging("json", "info", 60_000);
    const log = L.logger(["erlmesh", "agent"]);
    log.warn("a warning that waits");
    log.error("an error {code}", { code: "COOKIE_REJECTED" });
    await L.loadLogging();
    Deno.exit(0);
  `);
  assert.equal(r.code, 0, r.err.join("\n"));
  assert.deepEqual(r.err.map((l) => JSON.parse(l).message), [
    "a warning that waits",
    "an error COOKIE_REJECTED",
  ]);
  const quiet = await script(`
    await L.setupLogging("json", "info", 60_000);
    L.logger(["erlmesh", "agent"]).warn("never written: the process exits first");
    Deno.exit(0);
  `);
  assert.equal(quiet.code, 0);
  assert.deepEqual(quiet.err, []);
});
