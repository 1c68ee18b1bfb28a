import assert from "node:assert/strict";
import {
  Backoff,
  LOCAL_RETRY,
  PEER_RETRY,
  REFUSED_BACKOFF,
  refusedDelayMs,
  retryDelayMs,
  type RetryPolicy,
} from "./backoff.ts";

/** The times of the attempts at a node that fails each one, each made as soon as it may be, up to `untilMs`. */
function attemptTimes(policy: RetryPolicy, untilMs: number, refused = false): number[] {
  const b = new Backoff(policy);
  const times: number[] = [];
  for (let t = 0; t < untilMs; t = b.nextAttemptAt) {
    assert.ok(b.ready(t));
    times.push(t);
    b.fail(t, refused);
  }
  return times;
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]);

Deno.test("a missing peer is retried every 100 ms for 30 s, then every 2 s", () => {
  const times = attemptTimes(PEER_RETRY, 40_000);
  const g = gaps(times);
  const fast = g.filter((_, i) => times[i] < 30_000);
  const slow = g.filter((_, i) => times[i] >= 30_000);
  assert.deepEqual(new Set(fast), new Set([100]));
  assert.equal(fast.length, 300);
  assert.deepEqual(new Set(slow), new Set([2000]));
  assert.deepEqual(times.filter((t) => t >= 29_800).slice(0, 5), [29_800, 29_900, 30_000, 32_000, 34_000]);
  assert.deepEqual(times.filter((t) => t >= 29_000).slice(0, 8), [
    29_000,
    29_100,
    29_200,
    29_300,
    29_400,
    29_500,
    29_600,
    29_700,
  ]);
});

Deno.test("the local node is retried after 10, 20, 40, then 50 ms for 30 s, then every second", () => {
  const g = gaps(attemptTimes(LOCAL_RETRY, 35_000));
  assert.deepEqual(g.slice(0, 6), [10, 20, 40, 50, 50, 50]);
  assert.equal(Math.max(...g), 1000);
  const times = attemptTimes(LOCAL_RETRY, 35_000);
  assert.deepEqual(new Set(gaps(times.filter((t) => t >= 30_000))), new Set([1000]));
});

Deno.test("refusedDelayMs() waits 5 s, 10 s, 20 s, then 30 s between refused attempts", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 50, 5000].map((n) => refusedDelayMs(n)), [
    5000,
    10000,
    20000,
    30000,
    30000,
    30000,
    30000,
  ]);
  assert.deepEqual([1, 2, 3].map((n) => refusedDelayMs(n, { firstMs: 100, maxMs: 250 })), [100, 200, 250]);
});

Deno.test("the refused schedule makes at most 4 attempts in the first minute and 2 a minute after", () => {
  const attempts: number[] = [0];
  while (attempts.at(-1)! < 600_000) attempts.push(attempts.at(-1)! + refusedDelayMs(attempts.length));
  const inWindow = (from: number) => attempts.filter((t) => t >= from && t < from + 60_000).length;
  assert.equal(inWindow(0), 4);
  for (let from = 60_000; from < 540_000; from += 5000) assert.ok(inWindow(from) <= 2, `${from}`);
  assert.equal(REFUSED_BACKOFF.maxMs, 30000);
});

Deno.test("a refusing peer or local node follows the refused schedule, not the fast one", () => {
  for (const policy of [PEER_RETRY, LOCAL_RETRY]) {
    assert.deepEqual(gaps(attemptTimes(policy, 100_000, true)), [5000, 10000, 20000, 30000, 30000]);
  }
});

Deno.test("a failure that is not a refusal ends the refused schedule", () => {
  const b = new Backoff(PEER_RETRY);
  b.fail(0, true);
  b.fail(5000, true);
  assert.equal(b.refusals, 2);
  assert.equal(b.fail(15_000, false), 15_100);
  assert.equal(b.refusals, 0);
  assert.equal(b.failures, 3);
  assert.equal(b.since, 0);
});

Deno.test("retryDelayMs() caps by the outage's age, not by the failure count alone", () => {
  assert.equal(retryDelayMs(PEER_RETRY, { failures: 200, refusals: 0, outageMs: 29_999 }), 100);
  assert.equal(retryDelayMs(PEER_RETRY, { failures: 200, refusals: 0, outageMs: 30_000 }), 2000);
  assert.equal(retryDelayMs(LOCAL_RETRY, { failures: 1, refusals: 0, outageMs: 0 }), 10);
  assert.equal(retryDelayMs(LOCAL_RETRY, { failures: 10_000, refusals: 0, outageMs: 0 }), 50);
  assert.equal(retryDelayMs(LOCAL_RETRY, { failures: 3, refusals: 3, outageMs: 0 }), 20_000);
});

Deno.test("Backoff asks EPMD before every retry, with the patient deadline every fourth time", () => {
  const b = new Backoff(PEER_RETRY);
  const seen: [boolean, boolean][] = [];
  for (let i = 0; i < 9; i++) {
    seen.push([b.probeFirst, b.patientProbe]);
    b.fail(i * 200, false);
  }
  assert.deepEqual(seen, [
    [false, false],
    [true, false],
    [true, false],
    [true, true],
    [true, false],
    [true, false],
    [true, false],
    [true, true],
    [true, false],
  ]);
});

Deno.test("Backoff asks a refusing peer for a diagnosis again only every fourth refused attempt", () => {
  const b = new Backoff(PEER_RETRY);
  const rediagnose: boolean[] = [];
  for (let i = 0; i < 9; i++) {
    rediagnose.push(b.rediagnose);
    b.fail(b.nextAttemptAt, true);
  }
  assert.deepEqual(rediagnose, [true, false, false, false, true, false, false, false, true]);
});

Deno.test("Backoff.reset() forgets the failures and retryNow() only the wait", () => {
  const b = new Backoff(LOCAL_RETRY);
  b.fail(100, true);
  assert.equal(b.ready(100), false);
  b.retryNow();
  assert.equal(b.ready(100), true);
  assert.equal(b.refusals, 1);
  b.reset();
  assert.deepEqual([b.failures, b.refusals, b.since, b.nextAttemptAt], [0, 0, undefined, 0]);
  assert.equal(b.fail(1000, false), 1010);
});

Deno.test("Backoff.pace() lets the next attempt start one retry delay after a long one started, keeping the count", () => {
  const b = new Backoff(PEER_RETRY);
  for (let t = 0; t < 300; t += 100) b.fail(t, false);
  assert.equal(b.patientProbe, true);
  assert.equal(b.pace(600), 700);
  assert.equal(b.failures, 3);
  assert.equal(b.ready(699), false);
  assert.equal(b.ready(700), true);
  // After 30 s of outage, the slow delay; after refusals, the refused one.
  let t = 600;
  while (t < 40_000) t = b.fail(t, false);
  assert.equal(b.pace(t), t + 2000);
  const r = new Backoff(PEER_RETRY);
  r.fail(0, true);
  assert.equal(r.pace(5_000), 10_000);
});
