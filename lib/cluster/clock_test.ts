import assert from "node:assert/strict";
import { ManualClock, realClock } from "./clock.ts";

Deno.test("ManualClock fires due timers in time order, each at its own time, and not before", async () => {
  const clock = new ManualClock(1000);
  const fired: [string, number][] = [];
  clock.setTimer(() => fired.push(["b", clock.now()]), 300);
  clock.setTimer(() => fired.push(["a", clock.now()]), 100);
  clock.setTimer(() => fired.push(["c", clock.now()]), 300);
  await clock.advance(99);
  assert.deepEqual(fired, []);
  assert.equal(clock.now(), 1099);
  await clock.advance(250);
  assert.deepEqual(fired, [["a", 1100], ["b", 1300], ["c", 1300]]);
  assert.equal(clock.now(), 1349);
  assert.equal(clock.monotonic(), 1349);
  assert.equal(clock.pending, 0);
});

Deno.test("ManualClock.advance() fires timers set by code a timer woke, when they fall due in the span", async () => {
  const clock = new ManualClock();
  const ticks: number[] = [];
  const loop = async () => {
    while (ticks.length < 5) {
      await clock.sleep(200);
      ticks.push(clock.now());
    }
  };
  const done = loop();
  await clock.advance(700);
  assert.deepEqual(ticks, [200, 400, 600]);
  await clock.advance(400);
  await done;
  assert.deepEqual(ticks, [200, 400, 600, 800, 1000]);
});

Deno.test("ManualClock: a cancelled timer never fires, and next() jumps to the earliest pending one", async () => {
  const clock = new ManualClock();
  let fired = 0;
  const t = clock.setTimer(() => fired++, 50);
  clock.setTimer(() => fired += 10, 5000);
  t.cancel();
  t.cancel();
  assert.equal(clock.nextAt, 5000);
  assert.equal(await clock.next(), true);
  assert.equal(clock.now(), 5000);
  assert.equal(fired, 10);
  assert.equal(await clock.next(), false);
});

Deno.test("Clock.sleep() rejects with the abort reason and leaves no timer behind", async () => {
  const clock = new ManualClock();
  const ac = new AbortController();
  const slept = clock.sleep(1000, ac.signal);
  assert.equal(clock.pending, 1);
  ac.abort(new Error("Stopped"));
  await assert.rejects(slept, /Stopped/);
  assert.equal(clock.pending, 0);
  await assert.rejects(clock.sleep(10, AbortSignal.abort(new Error("Already"))), /Already/);
  // The real clock too: an aborted sleep clears its timer (the test's sanitizer checks that).
  const real = new AbortController();
  const r = realClock.sleep(60_000, real.signal);
  real.abort(new Error("Stopped"));
  await assert.rejects(r, /Stopped/);
  await realClock.sleep(1);
});
