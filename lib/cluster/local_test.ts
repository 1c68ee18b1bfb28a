import assert from "node:assert/strict";
import { HandshakeError } from "../dist/mod.ts";
import { ClusterError } from "./errors.ts";
import { isRefusal, REFUSED_BACKOFF, refusedDelayMs } from "./local.ts";

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

Deno.test("isRefusal() is true for a refused cookie, name or not_allowed, and an ambiguous glob only", () => {
  for (const code of ["COOKIE_REJECTED", "BAD_DIGEST", "NAME_MISMATCH", "NOT_ALLOWED"] as const) {
    assert.equal(isRefusal(new HandshakeError(code, "a@h", "x")), true, code);
  }
  for (const code of ["UNREACHABLE", "NOT_REGISTERED", "TIMEOUT", "CLOSED"] as const) {
    assert.equal(isRefusal(new HandshakeError(code, "a@h", "x")), false, code);
  }
  assert.equal(isRefusal(new ClusterError("LOCAL_NODE_AMBIGUOUS", "x")), true);
  assert.equal(isRefusal(new Error("x")), false);
});
