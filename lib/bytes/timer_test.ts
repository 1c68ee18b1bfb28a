import assert from "node:assert/strict";
import { after, deadline, every, sleep } from "./timer.ts";

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

Deno.test("after(): timers due at once run in the order they were set; a timer never fires early", async () => {
  const order: number[] = [];
  for (let i = 0; i < 5; i++) after(3, () => order.push(i));
  const t0 = performance.now();
  let firedAt = 0;
  const done = new Promise<void>((resolve) =>
    after(1000, () => {
      firedAt = performance.now();
      resolve();
    })
  );
  await sleep(20);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  await done;
  assert.ok(firedAt - t0 >= 999, `fired after ${firedAt - t0} ms, not before 1000`);
});

Deno.test("deadlines set and disarmed one after the other by a polling loop share the platform's timers", async () => {
  const original = AbortSignal.timeout;
  const delays: number[] = [];
  AbortSignal.timeout = (ms: number) => {
    delays.push(ms);
    return original.call(AbortSignal, ms);
  };
  try {
    for (let i = 0; i < 20; i++) {
      const d = deadline(2000);
      await Promise.resolve();
      d.clear();
      await sleep(2);
    }
  } finally {
    AbortSignal.timeout = original;
  }
  const long = delays.filter((ms) => ms >= 1000);
  assert.ok(long.length <= 3, `20 deadlines of 2 s set ${long.length} platform timers: ${long.join(" ")}`);
  assert.ok(delays.filter((ms) => ms < 1000).length >= 20, "each 2 ms sleep its own");
});

Deno.test("deadline(): aborts with a TimeoutError when due, with the caller's reason first, never once cleared", async () => {
  const d = deadline(5);
  await new Promise((r) => d.signal.addEventListener("abort", r, { once: true }));
  assert.ok(d.signal.reason instanceof DOMException && d.signal.reason.name === "TimeoutError");
  const caller = new AbortController();
  const c = deadline(60_000, caller.signal);
  caller.abort(new Error("caller"));
  assert.match(String(c.signal.reason), /caller/);
  c.clear();
  const cleared = deadline(5);
  cleared.clear();
  await sleep(30);
  assert.equal(cleared.signal.aborted, false);
});

Deno.test("a process does not wait for timers it disarmed, nor for the platform timers they shared", async () => {
  const mod = new URL("./timer.ts", import.meta.url).href;
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { after, deadline, sleep } from ${JSON.stringify(mod)};
       after(20_000, () => console.log("fired"))();
       for (let i = 0; i < 3; i++) { const d = deadline(30_000); await sleep(1); d.clear(); }
       console.log("done");`,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(15_000),
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout), "done\n", new TextDecoder().decode(out.stderr));
  assert.ok(performance.now() - t0 < 10_000, "exited without waiting 20 s");
});
