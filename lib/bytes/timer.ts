/**
 * Timers that leave Deno's Node-compat layer unloaded. Since Deno 2.8 the global `setTimeout` and
 * `setInterval` are those of `node:timers`, which Deno loads at their first call: about 5 ms of CPU and
 * 3 MB of memory at the start of every command that sets a deadline (measured with `deno run` on 2.9.1).
 * `AbortSignal.timeout` runs on the web timers Deno has loaded anyway, so these timers are built on it.
 *
 * Such a timer cannot be cleared, only disarmed: disarming drops the callback at once and the process no
 * longer waits for it (Deno keeps the event loop alive for an `AbortSignal.timeout` only while it has
 * listeners); the underlying timer, a few bytes, stays pending until its time.
 * @module
 */

/** Drops a timer's callback; nothing happens when it already ran. */
export type Disarm = () => void;

/** The longest delay the platform's timers take; longer ones would fire at once. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

function delayOf(ms: number): number {
  if (Number.isNaN(ms)) return 0;
  return Math.min(Math.max(0, Math.ceil(ms)), MAX_DELAY_MS);
}

/**
 * Calls `fn` once, `ms` from now (at least one macrotask later).
 *
 * @example
 * ```ts
 * import { after } from "./timer.ts";
 * const disarm = after(10, () => console.log("never printed"));
 * disarm();
 * ```
 */
export function after(ms: number, fn: () => void): Disarm {
  const signal = AbortSignal.timeout(delayOf(ms));
  let armed = true;
  const fire = () => {
    if (!armed) return;
    armed = false;
    fn();
  };
  signal.addEventListener("abort", fire, { once: true });
  return () => {
    if (!armed) return;
    armed = false;
    signal.removeEventListener("abort", fire);
  };
}

/**
 * Calls `fn` every `ms` (the next call is armed before `fn` runs, so a throwing `fn` does not stop it)
 * until the returned function is called.
 */
export function every(ms: number, fn: () => void): Disarm {
  let disarm: Disarm;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    disarm = after(ms, tick);
    fn();
  };
  disarm = after(ms, tick);
  return () => {
    stopped = true;
    disarm();
  };
}

/** Resolves `ms` from now; rejects with the signal's reason when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      disarm();
      reject(signal!.reason);
    };
    const disarm = after(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
