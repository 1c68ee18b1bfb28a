import assert from "node:assert/strict";
import { abortable } from "./transport.ts";
import { BytesError } from "./errors.ts";

Deno.test("abortable() disposes a value that arrives after the deadline exactly once", async () => {
  let disposed = 0;
  let release!: (v: string) => void;
  const late = new Promise<string>((r) => (release = r));
  const ctl = new AbortController();
  const p = abortable(late, ctl.signal, () => {
    disposed++;
    if (disposed > 1) throw new Error("disposed twice");
  });
  ctl.abort(new DOMException("late", "TimeoutError"));
  await assert.rejects(p, (e: unknown) => e instanceof BytesError && e.code === "TIMEOUT");
  release("conn");
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(disposed, 1);
});

Deno.test("abortable() passes a value that arrives in time and never disposes it", async () => {
  let disposed = 0;
  const v = await abortable(Promise.resolve(7), AbortSignal.timeout(1000), () => disposed++);
  assert.equal(v, 7);
  assert.equal(disposed, 0);
});
