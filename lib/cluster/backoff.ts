/**
 * When to try a node again after a failed attempt: one policy for the reconciler's peers and for the
 * link to the local node. Pure: it reads no clock, the caller passes the time.
 * @module
 */

/** The retry schedule after a refusal: `firstMs`, doubling up to `maxMs`. */
export interface RefusedBackoff {
  /** The first delay, ms. */
  firstMs: number;
  /** The longest delay, ms. */
  maxMs: number;
}

/**
 * After a refused handshake: retry in 5 s, 10 s, 20 s, then every 30 s, so a misconfigured erlmesh
 * adds at most 4 lines to the node's log in the first minute and 2 a minute after that. A node that
 * restarts (it leaves EPMD, or comes back on another port) is retried at once.
 */
export const REFUSED_BACKOFF: RefusedBackoff = { firstMs: 5000, maxMs: 30000 };

/**
 * The delay before attempt `n + 1` after `n` refused attempts in a row (`n` ≥ 1).
 *
 * @example
 * ```ts
 * import { refusedDelayMs } from "./backoff.ts";
 * [1, 2, 3, 4, 5].map((n) => refusedDelayMs(n)); // [5000, 10000, 20000, 30000, 30000]
 * ```
 */
export function refusedDelayMs(n: number, backoff: RefusedBackoff = REFUSED_BACKOFF): number {
  return Math.min(backoff.firstMs * 2 ** Math.min(Math.max(n - 1, 0), 30), backoff.maxMs);
}

/**
 * A retry schedule: after `n` failures in a row the delay is `firstMs · 2^(n-1)`, capped at
 * `fastMaxMs` while the outage is younger than `patienceMs` and at `slowMaxMs` after; after `n`
 * refusals in a row, {@link refusedDelayMs} of `refused` instead.
 */
export interface RetryPolicy {
  /** The delay after the first failure, ms. */
  firstMs: number;
  /** The longest delay while the outage is younger than `patienceMs`, ms. */
  fastMaxMs: number;
  /** How long an outage is met with the fast schedule, ms. */
  patienceMs: number;
  /** The longest delay once the outage is `patienceMs` old, ms. */
  slowMaxMs: number;
  /** The schedule after refusals. */
  refused: RefusedBackoff;
}

/**
 * A discovered peer that is missing: tried every 100 ms for 30 s, then every 2 s; after a refusal
 * 5 s, 10 s, 20 s, then every 30 s (the reconciler's defaults: `fastInterval`, `patienceMs`, `maxBackoffMs`).
 */
export const PEER_RETRY: RetryPolicy = {
  firstMs: 100,
  fastMaxMs: 100,
  patienceMs: 30000,
  slowMaxMs: 2000,
  refused: REFUSED_BACKOFF,
};

/**
 * The local node while its link is down: 10 ms doubling to 50 ms for 30 s (to catch a restarted
 * node at once), then every second; after a refusal 5 s, 10 s, 20 s, then every 30 s.
 */
export const LOCAL_RETRY: RetryPolicy = {
  firstMs: 10,
  fastMaxMs: 50,
  patienceMs: 30000,
  slowMaxMs: 1000,
  refused: REFUSED_BACKOFF,
};

/**
 * The delay before the next attempt after `failures` failed attempts in a row (≥ 1), the last
 * `refusals` of them refusals, in an outage `outageMs` old (since the first of those failures).
 *
 * @example
 * ```ts
 * import { PEER_RETRY, retryDelayMs } from "./backoff.ts";
 * retryDelayMs(PEER_RETRY, { failures: 3, refusals: 0, outageMs: 1000 }); // 100
 * retryDelayMs(PEER_RETRY, { failures: 160, refusals: 0, outageMs: 31000 }); // 2000
 * retryDelayMs(PEER_RETRY, { failures: 2, refusals: 2, outageMs: 6000 }); // 10000
 * ```
 */
export function retryDelayMs(
  policy: RetryPolicy,
  state: { failures: number; refusals: number; outageMs: number },
): number {
  if (state.refusals > 0) return refusedDelayMs(state.refusals, policy.refused);
  const cap = state.outageMs < policy.patienceMs ? policy.fastMaxMs : policy.slowMaxMs;
  return Math.min(policy.firstMs * 2 ** Math.min(Math.max(state.failures - 1, 0), 30), cap);
}

/**
 * The retry state of one node: failures and refusals in a row, since when, and when the next attempt
 * may start. {@link Backoff.fail} records a failed attempt and schedules the next by its policy.
 *
 * @example
 * ```ts
 * import { Backoff, PEER_RETRY } from "./backoff.ts";
 * const b = new Backoff(PEER_RETRY);
 * b.fail(1_000, false); // 1100: the next attempt may start 100 ms later
 * b.ready(1_050); // false
 * b.ready(1_100); // true
 * ```
 */
export class Backoff {
  /** The policy. */
  readonly policy: RetryPolicy;
  /** Failed attempts in a row. */
  failures = 0;
  /** Refused attempts in a row (the last ones of `failures`). */
  refusals = 0;
  /** When the first of the failures in a row happened (ms since epoch), undefined before any. */
  since: number | undefined;
  /** When the next attempt may start (ms since epoch); 0 for at once. */
  nextAttemptAt = 0;

  /** Starts with no failure. */
  constructor(policy: RetryPolicy) {
    this.policy = policy;
  }

  /**
   * Records a failed attempt at `now` (a refusal when `refused`) and returns when the next attempt may
   * start.
   */
  fail(now: number, refused: boolean): number {
    this.failures++;
    this.since ??= now;
    this.refusals = refused ? this.refusals + 1 : 0;
    this.nextAttemptAt = now +
      retryDelayMs(this.policy, {
        failures: this.failures,
        refusals: this.refusals,
        outageMs: now - this.since,
      });
    return this.nextAttemptAt;
  }

  /**
   * Records that an attempt started at `now` that may run long (a patient EPMD check): the next
   * attempt may start one retry delay later, beside it, instead of after it fails. Returns that time.
   *
   * @example
   * ```ts
   * import { Backoff, PEER_RETRY } from "./backoff.ts";
   * const b = new Backoff(PEER_RETRY);
   * b.fail(1_000, false);
   * b.pace(1_200); // 1300: another attempt may start 100 ms after this one did
   * ```
   */
  pace(now: number): number {
    this.nextAttemptAt = now +
      retryDelayMs(this.policy, {
        failures: Math.max(this.failures, 1),
        refusals: this.refusals,
        outageMs: now - (this.since ?? now),
      });
    return this.nextAttemptAt;
  }

  /** Forgets the failures: the next attempt may start at once. */
  reset(): void {
    this.failures = 0;
    this.refusals = 0;
    this.since = undefined;
    this.nextAttemptAt = 0;
  }

  /** Lets the next attempt start at once, keeping the count (a node that restarted). */
  retryNow(): void {
    this.nextAttemptAt = 0;
  }

  /** True when an attempt may start at `now`. */
  ready(now: number): boolean {
    return this.nextAttemptAt <= now;
  }

  /**
   * True when the next attempt at a peer should first ask its EPMD whether it is registered: after
   * any failure (a first attempt goes straight to the node, its host's EPMD has just listed it).
   */
  get probeFirst(): boolean {
    return this.failures > 0;
  }

  /** True when that EPMD check should have the long deadline, for slow networks: every fourth attempt. */
  get patientProbe(): boolean {
    return this.failures % 4 === 3;
  }

  /**
   * True when a refusing peer should be asked for a diagnosis handshake of erlmesh's own again: each
   * handshake it refuses is a line in its log, so only every fourth refused attempt.
   */
  get rediagnose(): boolean {
    return this.refusals === 0 || this.refusals % 4 === 0;
  }
}
