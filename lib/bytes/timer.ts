/**
 * Timers that leave Deno's Node-compat layer unloaded. Since Deno 2.8 the global `setTimeout` and
 * `setInterval` are those of `node:timers`, which Deno loads at their first call: about 5 ms of CPU and
 * 3 MB of memory at the start of every command that sets a deadline (measured with `deno run` on 2.9.1).
 * `AbortSignal.timeout` runs on the web timers Deno has loaded anyway, so these timers are built on it.
 *
 * Such a platform timer cannot be cleared, only ignored, and each one that fires wakes the process (about
 * 0.3 ms of CPU on 2.9.1, measured: a loop polling every 50 ms that also set one 2 s deadline per poll, later
 * disarmed, used 13 ms of CPU a second instead of 7). So the timers of this module share them: every
 * pending timer is kept in one queue, and a platform timer is set only for the earliest one when nothing
 * set earlier is pending. A deadline disarmed before it is due (the usual case) then costs no wake-up of its
 * own. Once no timer is pending, the platform timers left lose their listener, so the process does not wait
 * for them (Deno keeps the event loop alive for an `AbortSignal.timeout` only while it has listeners).
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

/** A pending timer. */
interface Entry {
  due: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/** Pending timers, a binary min-heap by (due, seq); disarmed ones leave it when they reach the top. */
const queue: Entry[] = [];
let pending = 0;
let nextSeq = 0;
/** Platform timers set and not fired yet: when each fires (`performance.now()` ms) and its listener. */
const platform = new Map<AbortSignal, { due: number; fire: () => void }>();

const before = (a: Entry, b: Entry) => a.due < b.due || (a.due === b.due && a.seq < b.seq);

function push(e: Entry): void {
  queue.push(e);
  let i = queue.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(queue[i], queue[parent])) break;
    [queue[i], queue[parent]] = [queue[parent], queue[i]];
    i = parent;
  }
}

function popTop(): void {
  const last = queue.pop()!;
  if (queue.length === 0) return;
  queue[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < queue.length && before(queue[l], queue[m])) m = l;
    if (r < queue.length && before(queue[r], queue[m])) m = r;
    if (m === i) return;
    [queue[i], queue[m]] = [queue[m], queue[i]];
    i = m;
  }
}

/** The earliest pending timer, dropping disarmed ones on the way. */
function earliest(): Entry | undefined {
  while (queue.length > 0 && !queue[0].live) popTop();
  return queue[0];
}

/**
 * Platform timers that lost their listener when no timer was pending; they still wake the process when due,
 * so a timer due a little before one of them takes it back rather than setting another.
 */
const spare = new Map<AbortSignal, number>();

/**
 * How late a timer `delay` ms away may fire so that it can share a platform timer: an eighth of the delay
 * for delays of a second or more (at most 250 ms), so deadlines set one after the other by a polling loop
 * (and disarmed, as most are) share a few platform timers a second instead of one each.
 */
function slackOf(delay: number): number {
  return delay >= 1000 ? Math.min(250, delay / 8) : 0;
}

/** Makes sure a platform timer fires no later than the earliest pending timer; releases them all when none is. */
function schedule(): void {
  const next = earliest();
  if (!next) {
    for (const [signal, p] of platform) {
      signal.removeEventListener("abort", p.fire);
      spare.set(signal, p.due);
    }
    platform.clear();
    return;
  }
  for (const p of platform.values()) if (p.due <= next.due) return;
  const now = performance.now();
  const slack = slackOf(next.due - now);
  let signal: AbortSignal | undefined;
  let due = next.due;
  for (const [s, d] of spare) {
    if (s.aborted) spare.delete(s);
    else if (d >= next.due - 1 && d <= next.due + slack) [signal, due] = [s, d];
  }
  if (signal) {
    spare.delete(signal);
  } else {
    // On a grid of the slack, so that the next deadlines find this one.
    if (slack > 0) due = Math.ceil(next.due / slack) * slack;
    signal = AbortSignal.timeout(delayOf(due - now));
  }
  const s = signal;
  const fire = () => {
    platform.delete(s);
    runDue();
  };
  s.addEventListener("abort", fire, { once: true });
  platform.set(s, { due, fire });
}

/** Runs every timer that is due (within the platform timers' 1 ms resolution), then schedules the next. */
function runDue(): void {
  const now = performance.now() + 1;
  for (;;) {
    const e = earliest();
    if (!e || e.due > now) break;
    popTop();
    e.live = false;
    pending--;
    try {
      e.fn();
    } catch (err) {
      // As a throw from an event listener: an uncaught error, which does not stop the other timers.
      reportError(err);
    }
  }
  schedule();
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
  const e: Entry = { due: performance.now() + delayOf(ms), seq: nextSeq++, fn, live: true };
  push(e);
  pending++;
  schedule();
  return () => {
    if (!e.live) return;
    e.live = false;
    pending--;
    if (pending === 0) schedule();
  };
}

/**
 * A signal that aborts with a `TimeoutError` `DOMException` `ms` from now, or with `signal`'s reason when
 * that aborts first; `clear` drops the timer once the guarded work is done (a deadline left armed costs a
 * wake-up when it comes due).
 */
export function deadline(ms: number, signal?: AbortSignal): { signal: AbortSignal; clear: Disarm } {
  const controller = new AbortController();
  const clear = after(ms, () => {
    controller.abort(new DOMException(`The deadline of ${delayOf(ms)} ms passed`, "TimeoutError"));
  });
  return { signal: signal ? AbortSignal.any([signal, controller.signal]) : controller.signal, clear };
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
