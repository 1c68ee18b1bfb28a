import assert from "node:assert/strict";
import { after, every, sleep } from "./timer.ts";

Deno.test("after() calls back once, in a later macrotask; a disarmed timer never calls back", async () => {
  const calls: string[] = [];
  after(0, () => calls.push("a"));
  const disarm = after(0, () => calls.push("b"));
  disarm();
  disarm(); // a second disarm is a no-op
  assert.deepEqual(calls, []); // never synchronously
  await sleep(20);
  assert.deepEqual(calls, ["a"]);
});

Deno.test("after() takes delays beyond the platform's limit and nonsense delays without firing at once", async () => {
  const calls: number[] = [];
  const far = after(2 ** 40, () => calls.push(1));
  after(Number.NaN, () => calls.push(2));
  after(-5, () => calls.push(3));
  await sleep(10);
  far();
  assert.deepEqual(calls.sort(), [2, 3]);
});

Deno.test("every() repeats until stopped, also when the callback throws", async () => {
  let n = 0;
  let stop!: () => void;
  const third = new Promise<void>((resolve) => {
    stop = every(1, () => {
      n++;
      if (n === 3) resolve();
      if (n === 1) throw new Error("one bad tick");
    });
  });
  // The throw of the first tick surfaces as an uncaught error event, which this test expects.
  const onError = (e: ErrorEvent) => {
    if (e.error instanceof Error && e.error.message === "one bad tick") e.preventDefault();
  };
  globalThis.addEventListener("error", onError);
  try {
    await third;
  } finally {
    stop();
    globalThis.removeEventListener("error", onError);
  }
  const seen = n;
  await sleep(15);
  assert.equal(n, seen);
});

Deno.test("sleep() resolves after the delay and rejects with the signal's reason when aborted", async () => {
  await sleep(1);
  const ac = new AbortController();
  const p = sleep(60_000, ac.signal);
  ac.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
  await assert.rejects(sleep(1, AbortSignal.abort(new Error("already"))), /already/);
});

Deno.test("lib/ never calls the global timers: since Deno 2.8 they load node:timers at start-up", async () => {
  const offenders: string[] = [];
  const root = new URL("../", import.meta.url);
  async function walk(dir: URL) {
    for await (const e of Deno.readDir(dir)) {
      const url = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
      if (e.isDirectory) await walk(url);
      else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") && !e.name.startsWith("_")) {
        const text = await Deno.readTextFile(url);
        text.split("\n").forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, "");
          if (/\b(setTimeout|setInterval|clearTimeout|clearInterval)\s*\(/.test(code)) {
            offenders.push(`${url.pathname.slice(root.pathname.length)}:${i + 1}`);
          }
        });
      }
    }
  }
  await walk(root);
  assert.deepEqual(offenders, []);
});

Deno.test("an armed timer keeps a process alive until it fires; a disarmed one does not", async () => {
  const timer = new URL("./timer.ts", import.meta.url).href;
  const script = (code: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", `import { after } from "${timer}"; ${code}`],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000), // a process still running after 30 s is killed: the test fails
    }).output();
  const [armed, disarmed] = await Promise.all([
    script(`after(50, () => console.log("fired"));`),
    script(`const disarm = after(60_000, () => console.log("fired")); disarm(); console.log("exited");`),
  ]);
  const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();
  assert.equal(armed.code, 0, text(armed.stderr));
  assert.equal(text(armed.stdout), "fired");
  assert.equal(disarmed.code, 0, text(disarmed.stderr));
  assert.equal(text(disarmed.stdout), "exited");
});
