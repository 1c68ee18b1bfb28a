/**
 * The time a loop that decides when to act reads, and the timers it sets: the real one by default, a
 * manual one in tests, so scheduling decisions are checked in milliseconds without waiting for them.
 * @module
 */
import { after } from "../bytes/timer.ts";

/** A timer set with {@link Clock.setTimer}. */
export interface Timer {
  /** Cancels the timer; nothing happens when it already fired. */
  cancel(): void;
}

/** Wall time, a monotonic time for durations, and timers. */
export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number;
  /** Milliseconds on a clock that never goes back, like `performance.now()`: for durations only. */
  monotonic(): number;
  /** Calls `fn` once, `ms` from now. */
  setTimer(fn: () => void, ms: number): Timer;
  /** Resolves `ms` from now; rejects with the signal's reason when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      timer.cancel();
      reject(signal!.reason);
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The real clock: `Date.now()`, `performance.now()` and the timers of `lib/bytes/timer.ts`.
 *
 * @example
 * ```ts
 * import { realClock } from "./clock.ts";
 * const t0 = realClock.monotonic();
 * await realClock.sleep(1);
 * console.log(realClock.monotonic() - t0 >= 0);
 * ```
 */
export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(fn, ms) {
    return { cancel: after(ms, fn) };
  },
  sleep(ms, signal) {
    return sleepOn(realClock, ms, signal);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told: {@link ManualClock.advance} moves time forward and fires the
 * timers that fall due on the way, in order, letting the code each one wakes run before the next.
 * Its monotonic time is its wall time.
 *
 * @example
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock(1_000);
 * let fired = false;
 * clock.setTimer(() => (fired = true), 500);
 * await clock.advance(499); // fired is still false
 * await clock.advance(1); // now it is true, and clock.now() is 1500
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  /** Starts at `startMs` (ms since the epoch). @default 0 */
  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /** The current time. */
  now(): number {
    return this.#now;
  }

  /** The current time (the same as {@link ManualClock.now}). */
  monotonic(): number {
    return this.#now;
  }

  /** Calls `fn` when the clock has been advanced `ms` (at least 0) past now. */
  setTimer(fn: () => void, ms: number): Timer {
    const t: ManualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(t);
    return {
      cancel: () => {
        const i = this.#timers.indexOf(t);
        if (i >= 0) this.#timers.splice(i, 1);
      },
    };
  }

  /** Resolves once the clock has been advanced `ms` past now. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers set and not yet fired or cancelled. */
  get pending(): number {
    return this.#timers.length;
  }

  /** When the earliest pending timer falls due, or undefined when none is pending. */
  get nextAt(): number | undefined {
    return this.#earliest()?.at;
  }

  #earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }

  /**
   * Moves time forward by `ms`, firing each timer due on the way at its own time, earliest first;
   * after each, lets pending promise callbacks run, so timers they set are fired too when due.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + Math.max(0, ms);
    await settle();
    for (;;) {
      const t = this.#earliest();
      if (!t || t.at > end) break;
      this.#timers.splice(this.#timers.indexOf(t), 1);
      this.#now = Math.max(this.#now, t.at);
      t.fn();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /** Moves time to the earliest pending timer and fires it (and any due with it); false when none is pending. */
  async next(): Promise<boolean> {
    const at = this.nextAt;
    if (at === undefined) return false;
    await this.advance(at - this.#now);
    return true;
  }
}

/**
 * Lets every promise callback queued so far run, and those they queue in turn: one turn of the event
 * loop (a zero-delay macrotask runs only once the microtask queue is empty).
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => after(0, resolve));
}
