/**
 * Waiting on a condition instead of sleeping: tests poll what they wait for, with a deadline.
 * @module
 */

/** Options of {@link waitUntil}. */
export interface WaitUntilOptions {
  /** Give up after this long, ms. @default 10000 */
  timeoutMs?: number;
  /** Pause between checks, ms. @default 50 */
  intervalMs?: number;
  /** What is awaited, for the error when the deadline passes. @default "the condition" */
  what?: string;
}

/**
 * Checks `cond` until it returns a truthy value and returns that value; fails with an error naming
 * `what` and the last value seen when `timeoutMs` passes first. An error thrown by `cond` counts as
 * "not yet" (a node still starting) and is named in the timeout error if it was the last outcome.
 *
 * @example
 * ```ts ignore
 * const nodes = await waitUntil(async () => {
 *   const seen = await node.eval("nodes().");
 *   return seen.includes("b@127.0.0.1") && seen;
 * }, { timeoutMs: 20000, what: "b in a's nodes()" });
 * ```
 */
export async function waitUntil<T>(
  cond: () => T | Promise<T>,
  options: WaitUntilOptions = {},
): Promise<Exclude<T, false | 0 | "" | null | undefined>> {
  const { timeoutMs = 10000, intervalMs = 50, what = "the condition" } = options;
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await cond();
      if (last) return last as Exclude<T, false | 0 | "" | null | undefined>;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`Cannot wait for ${what}: not true within ${timeoutMs} ms (last seen: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, end - Date.now()))));
  }
}
