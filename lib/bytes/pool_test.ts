import assert from "node:assert/strict";
import { pooledMap } from "./pool.ts";

/** A call that resolves when the test says so. */
function gate<T>() {
  let open!: (v: T) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}

/** Lets every pending promise reaction run. */
const settle = () => new Promise<void>((r) => setTimeout(r, 0));

Deno.test("pooledMap() keeps at most `limit` calls in flight and returns results in item order", async () => {
  const gates = Array.from({ length: 7 }, () => gate<string>());
  let inFlight = 0;
  let most = 0;
  const started: number[] = [];
  const done = pooledMap([0, 1, 2, 3, 4, 5, 6], 3, async (x, i) => {
    assert.equal(x, i);
    started.push(x);
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      return await gates[x].promise;
    } finally {
      inFlight--;
    }
  });
  await settle();
  assert.deepEqual(started, [0, 1, 2]);
  // Finishing out of order frees a slot for the next item in order.
  gates[2].open("c");
  await settle();
  assert.deepEqual(started, [0, 1, 2, 3]);
  for (const i of [6, 5, 4, 3, 1, 0]) {
    gates[i]?.open("abcdefg"[i]);
    await settle();
  }
  assert.deepEqual(await done, ["a", "b", "c", "d", "e", "f", "g"]);
  assert.equal(most, 3);
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6]);
});

Deno.test("pooledMap() of no items resolves with none and calls nothing", async () => {
  assert.deepEqual(await pooledMap([], 4, () => Promise.reject(new Error("called"))), []);
});

Deno.test("pooledMap() rejects with the first failure and starts no further item", async () => {
  const gates = Array.from({ length: 5 }, () => gate<number>());
  const started: number[] = [];
  const done = pooledMap([0, 1, 2, 3, 4], 2, (x) => {
    started.push(x);
    return gates[x].promise;
  });
  await settle();
  gates[0].fail(new Error("Cannot ask item 0"));
  await assert.rejects(done, /Cannot ask item 0/);
  gates[1].open(1);
  await settle();
  assert.deepEqual(started, [0, 1]);
});

Deno.test("pooledMap() rejects a limit that is not a positive integer", async () => {
  for (const limit of [0, -1, 1.5, NaN]) {
    await assert.rejects(pooledMap([1], limit, (x) => Promise.resolve(x)), RangeError, String(limit));
  }
});
