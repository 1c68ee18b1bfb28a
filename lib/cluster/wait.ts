/**
 * The logic of `erlmesh wait`, the initContainer gate: poll a discovery source (and the peers' EPMD)
 * with backoff under a deadline until every requested condition holds. No CLI here.
 * @module
 */
import { pooledMap } from "../bytes/pool.ts";
import { sleep } from "../bytes/timer.ts";
import { names as epmdNames } from "../epmd/mod.ts";
import {
  canonicalIp,
  dashedIp,
  type DiscoveredHost,
  type Discovery,
  type DiscoverySource,
  isHelperName,
  type NamesFn,
  normalizeHost,
} from "../discovery/mod.ts";

/** The name of one condition `erlmesh wait` can wait for. */
export type WaitConditionName = "dns" | "self" | "peers" | "epmd";

/** The conditions to wait for; each is optional, and all given ones must hold at the same time. */
export interface WaitConditions {
  /**
   * The DNS server answers for the Service. Any answer counts, "no records" too: `Deno.resolveDns`
   * reports NXDOMAIN, NODATA, SERVFAIL and REFUSED alike as "no records found", so only a timeout or a
   * connection error counts as "not answering".
   * @default {false}
   */
  dns?: boolean;
  /**
   * This pod ({@link WaitOptions.self}) is listed in the Service's answer: among the SRV targets or the
   * A/AAAA addresses. Never checked through the pod's own name, which `/etc/hosts` always answers.
   * @default {false}
   */
  self?: boolean;
  /**
   * At least this many peers other than this pod are discoverable. Peers are hosts (the Service's
   * answer, this pod left out), or nodes when {@link WaitConditions.epmd} is requested: the nodes the
   * hosts' EPMD lists (this pod's host included, this pod's node, helpers and names that do not match
   * {@link WaitOptions.basename} left out), so three nodes on one host are three peers. 0 holds even on an
   * empty answer, so the first pod of an `OrderedReady` StatefulSet is not deadlocked.
   * @default {undefined} (not checked)
   */
  peers?: number;
  /**
   * Every discovered peer host's EPMD answers NAMES; with {@link WaitConditions.peers} K, the answering
   * EPMDs list at least K peer nodes.
   * @default {false}
   */
  epmd?: boolean;
}

/** How this pod appears in the Service's answer. */
export interface WaitSelf {
  /** Its FQDN (`app-2.app.default.svc.cluster.local`), compared case-insensitively without trailing dot. */
  host?: string;
  /**
   * Its IP address (`POD_IP`), compared in canonical form; also matched as the dashed label CoreDNS
   * gives a pod without a hostname (`10-244-7-12.app.default.svc.cluster.local`).
   */
  ip?: string;
  /**
   * The alive part of this pod's node: when peers are counted as nodes, a node of this name on this
   * pod's host is this pod, not a peer. Unset: every node on this pod's host counts (in an
   * initContainer this pod's node is not running yet).
   */
  alive?: string;
}

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Where the Service's hosts come from (usually `srvSource` or `aSource`). */
  source: DiscoverySource;
  /** This pod, required by the `self` condition and excluded from the peers. @default {{}} */
  self?: WaitSelf;
  /** The EPMD NAMES client; tests pass a fake. @default {names} from `lib/epmd` */
  names?: NamesFn;
  /**
   * When peers are counted as nodes, only nodes whose alive part matches this (`*` matches any run of
   * characters). @default {undefined} (every node other than helpers)
   */
  basename?: string;
  /** The EPMD port of the peers. @default {4369} */
  epmdPort?: number;
  /** The deadline of one NAMES request, in milliseconds. @default {2000} */
  epmdTimeoutMs?: number;
  /** How many NAMES requests run at once. @default {8} */
  concurrency?: number;
  /**
   * The overall deadline, in milliseconds. Keep it at 60 s or more in a cluster: a negative answer may
   * be cached for 30 s. The attempt running when it passes is finished first (each DNS and EPMD request
   * has its own deadline), so the wait can overrun by one request's deadline.
   * @default {120000}
   */
  timeoutMs?: number;
  /** The pause after the first attempt, in milliseconds; it doubles after each attempt. @default {250} */
  initialDelayMs?: number;
  /** The longest pause between attempts, in milliseconds. @default {5000} */
  maxDelayMs?: number;
  /** Called after every attempt (also the last one). */
  onProgress?: (attempt: WaitAttempt) => void;
  /** Stops waiting: {@link waitFor} then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Pauses between attempts; tests pass a fake that advances a fake clock. @default {sleep} of lib/bytes/timer.ts */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The clock, in milliseconds. @default {performance.now} */
  now?: () => number;
}

/** The state of one condition after one attempt. */
export interface WaitConditionState {
  /** Which condition. */
  name: WaitConditionName;
  /** Whether it holds. */
  ok: boolean;
  /** A few words for a progress line, such as `1/2` or `not listed`. */
  summary: string;
  /** What was seen, as a sentence fragment for messages. */
  seen: string;
}

/** What one peer's EPMD said in one attempt. */
export interface WaitEpmdCheck {
  /** The peer host, as discovered. */
  host: string;
  /** Whether EPMD answered NAMES. */
  ok: boolean;
  /** The alive parts registered there, when it answered. */
  nodes?: string[];
  /** Why it did not answer. */
  error?: string;
}

/** One attempt: what the source answered and the state of every requested condition. */
export interface WaitAttempt {
  /** The attempt number, from 1. */
  attempt: number;
  /** Milliseconds since {@link waitFor} started. */
  elapsedMs: number;
  /** Whether every requested condition held. */
  ok: boolean;
  /** The requested conditions, in the order dns, self, peers, epmd. */
  conditions: WaitConditionState[];
  /** Whether the DNS server answered (a "no records" answer counts). */
  dnsAnswered: boolean;
  /** The hosts of the answer (with the last good answer when this lookup failed: see `stale`). */
  hosts: string[];
  /** True when `hosts` is the last good answer, kept because this lookup got no answer. */
  stale: boolean;
  /** Whether this pod is among `hosts`. */
  selfListed: boolean;
  /** The hosts other than this pod. */
  peers: string[];
  /** What `peers` counts: `nodes` when the `epmd` condition is requested (EPMD is asked), else `hosts`. */
  peersCounted: "nodes" | "hosts";
  /** The peer nodes EPMD listed (empty unless the `epmd` condition is requested). */
  peerNodes: string[];
  /** The EPMD checks of the peer hosts in this attempt (empty unless the `epmd` condition is requested). */
  epmd: WaitEpmdCheck[];
  /** The EPMD check of this pod's host, asked for the other nodes on it (with the `epmd` condition). */
  selfEpmd?: WaitEpmdCheck;
  /** The pause before the next attempt, in milliseconds; undefined after the last attempt. */
  nextDelayMs?: number;
}

/** The result of {@link waitFor}. */
export interface WaitReport {
  /** Whether every requested condition held before the deadline. */
  ok: boolean;
  /** How many attempts were made. */
  attempts: number;
  /** Milliseconds from start to the end of the last attempt. */
  elapsedMs: number;
  /** The deadline that applied, in milliseconds. */
  timeoutMs: number;
  /** The source's description. */
  source: string;
  /** The last attempt. */
  last: WaitAttempt;
  /** The conditions that did not hold in the last attempt (empty when `ok`). */
  failed: WaitConditionName[];
  /**
   * One line: what held, or (on failure) which condition failed and the last thing seen, such as
   * `Cannot finish waiting after 120 s: condition 'self' failed: …`.
   */
  message: string;
}

const ORDER: readonly WaitConditionName[] = ["dns", "self", "peers", "epmd"];

/** The conditions that are requested, in order. */
function requested(conditions: WaitConditions): WaitConditionName[] {
  return ORDER.filter((n) => n === "peers" ? conditions.peers !== undefined : conditions[n] === true);
}

/** Seconds for messages: `120`, `2.5`. */
function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

function listHosts(hosts: string[], max = 6): string {
  if (hosts.length <= max) return hosts.join(", ");
  return `${hosts.slice(0, max).join(", ")} and ${hosts.length - max} more`;
}

/**
 * A matcher for this pod in a source's answer: its FQDN, its IP (as host or address), or the dashed
 * label of its IP. Exported for tests. @internal
 */
export function selfMatcher(self: WaitSelf): (h: DiscoveredHost) => boolean {
  const host = self.host === undefined ? undefined : normalizeHost(self.host.trim());
  const ip = self.ip === undefined ? undefined : canonicalIp(self.ip.trim());
  const dashed = ip === undefined ? undefined : `${dashedIp(ip)}.`;
  return (h) => {
    if (host !== undefined && h.host === host) return true;
    if (ip === undefined) return false;
    if (h.host === ip) return true;
    if (h.address !== undefined && canonicalIp(h.address) === ip) return true;
    return dashed !== undefined && h.host.startsWith(dashed);
  };
}

function describeSelf(self: WaitSelf): string {
  return [self.host, self.ip].filter((x) => x !== undefined && x !== "").join(" / ") || "unknown";
}

/** "the Service answer (SRV …)" from a source description. */
function answerName(source: DiscoverySource): string {
  const what = source.description.replace(/^DNS /, "");
  return source.kind === "srv" || source.kind === "a"
    ? `the Service answer (${what})`
    : `the answer of the ${what}`;
}

/** A matcher for an alive part against a basename that may hold `*`. */
function aliveMatcher(basename: string | undefined): (alive: string) => boolean {
  if (basename === undefined) return () => true;
  if (!basename.includes("*")) return (alive) => alive === basename;
  const re = new RegExp(
    `^${basename.split("*").map((p) => p.replace(/[.+\\^$?()[\]{}|]/g, "\\$&")).join(".*")}$`,
  );
  return (alive) => re.test(alive);
}

interface Context {
  conditions: WaitConditions;
  matches: (alive: string) => boolean;
  wanted: WaitConditionName[];
  source: DiscoverySource;
  self: WaitSelf;
  isSelf: (h: DiscoveredHost) => boolean;
  names: NamesFn;
  epmdPort?: number;
  epmdTimeoutMs: number;
  concurrency: number;
}

async function checkEpmd(
  ctx: Context,
  peers: DiscoveredHost[],
  signal?: AbortSignal,
): Promise<WaitEpmdCheck[]> {
  return await pooledMap(peers, ctx.concurrency, async (h): Promise<WaitEpmdCheck> => {
    try {
      const reply = await ctx.names(h.address ?? h.host, {
        port: ctx.epmdPort,
        timeoutMs: ctx.epmdTimeoutMs,
        signal,
      });
      return { host: h.host, ok: true, nodes: reply.nodes.map((n) => n.name) };
    } catch (err) {
      signal?.throwIfAborted();
      return { host: h.host, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  });
}

async function attemptOnce(ctx: Context, attempt: number, signal?: AbortSignal) {
  const disc: Discovery = await ctx.source.discover(signal);
  const dnsAnswered = disc.error === undefined || disc.error.code === "NXDOMAIN_OR_NODATA";
  const hosts = disc.hosts.map((h) => h.host);
  const selfListed = disc.hosts.some(ctx.isSelf);
  const peerHosts = disc.hosts.filter((h) => !ctx.isSelf(h));
  const selfHost = disc.hosts.find(ctx.isSelf);
  const peers = peerHosts.map((h) => h.host);
  const counting: "nodes" | "hosts" = ctx.wanted.includes("epmd") ? "nodes" : "hosts";
  const checks = counting === "nodes"
    ? await checkEpmd(ctx, selfHost ? [...peerHosts, selfHost] : peerHosts, signal)
    : [];
  const epmd = checks.slice(0, peerHosts.length);
  const selfEpmd = selfHost ? checks[peerHosts.length] : undefined;
  const peerNodes = checks.flatMap((c, i) =>
    (c.nodes ?? [])
      .filter((alive) =>
        !isHelperName(alive) && ctx.matches(alive) && !(i === peerHosts.length && alive === ctx.self.alive)
      )
      .map((alive) => `${alive}@${c.host}`)
  ).sort();

  const answer = answerName(ctx.source);
  const failure = disc.error && !dnsAnswered ? disc.error.message : undefined;
  const staleNote = disc.stale ? ` (the last good answer; this lookup failed: ${failure})` : "";
  const listing = hosts.length > 0
    ? `${answer} lists ${listHosts(hosts)}${staleNote}`
    : failure !== undefined
    ? `no answer for ${answer.replace(/^the /, "")}: ${failure}`
    : `${answer} is empty (no records: NXDOMAIN or NODATA)`;

  const states: WaitConditionState[] = [];
  for (const name of ctx.wanted) {
    switch (name) {
      case "dns": {
        const what = ctx.source.description;
        states.push(
          dnsAnswered
            ? {
              name,
              ok: true,
              summary: "answers",
              seen: hosts.length > 0
                ? `the DNS server answered ${what} with ${hosts.length} host(s)`
                : `the DNS server answered ${what}: no records (NXDOMAIN or NODATA; Deno cannot tell them apart)`,
            }
            : {
              name,
              ok: false,
              summary: "no answer",
              seen: `the DNS server did not answer ${what}: ${failure}; is the cluster DNS reachable?`,
            },
        );
        break;
      }
      case "self": {
        const me = describeSelf(ctx.self);
        const hint = ctx.source.kind === "srv" || ctx.source.kind === "a"
          ? "; is publishNotReadyAddresses set on the Service?"
          : "";
        states.push(
          selfListed ? { name, ok: true, summary: "listed", seen: `${answer} lists this pod (${me})` } : {
            name,
            ok: false,
            summary: "not listed",
            seen: hosts.length > 0
              ? `${listing} but not this pod (${me})${hint}`
              : `${listing}, so not this pod (${me})${failure === undefined ? hint : ""}`,
          },
        );
        break;
      }
      case "peers": {
        const k = ctx.conditions.peers ?? 0;
        if (counting === "hosts") {
          const ok = peers.length >= k;
          states.push({
            name,
            ok,
            summary: `${peers.length}/${k} hosts`,
            seen: peers.length > 0
              ? `${peers.length} peer host(s) other than this pod discoverable, ${k} needed: ${
                listHosts(peers)
              }${staleNote}`
              : `no peer hosts other than this pod discoverable, ${k} needed (${listing})`,
          });
          break;
        }
        const ok = peerNodes.length >= k;
        const answered = checks.filter((c) => c.ok).length;
        states.push({
          name,
          ok,
          summary: `${peerNodes.length}/${k} nodes`,
          seen: peerNodes.length > 0
            ? `${peerNodes.length} peer node(s) other than this pod's registered with EPMD, ${k} needed: ${
              listHosts(peerNodes)
            }${staleNote}`
            : disc.hosts.length === 0
            ? `no peer nodes: ${listing}`
            : `no peer nodes other than this pod's registered with EPMD on ${answered} of ${disc.hosts.length} host(s), ${k} needed (${listing})`,
        });
        break;
      }
      case "epmd": {
        const answered = epmd.filter((e) => e.ok).length;
        const k = ctx.conditions.peers;
        const failed = epmd.filter((e) => !e.ok);
        const why = failed.length > 0
          ? `; ${failed.slice(0, 4).map((e) => `${e.host}: ${e.error}`).join("; ")}`
          : "";
        if (k !== undefined) {
          // With K, the EPMDs that answer must list K peer nodes: the count the `peers` condition uses.
          const ok = peerNodes.length >= k;
          states.push({
            name,
            ok,
            summary: `${peerNodes.length}/${k} nodes`,
            seen: `EPMD answered NAMES on ${answered} of ${peers.length} peer host(s)${
              selfEpmd ? ` and ${selfEpmd.ok ? "on" : "not on"} this pod's host` : ""
            }, listing ${peerNodes.length} peer node(s), ${k} needed${why}`,
          });
          break;
        }
        const ok = answered === peers.length;
        states.push({
          name,
          ok,
          summary: `${answered}/${peers.length} hosts`,
          seen: peers.length === 0
            ? `no peer hosts to ask (${listing})`
            : `EPMD answered NAMES on ${answered} of ${peers.length} peer host(s), ${peers.length} needed${why}`,
        });
        break;
      }
    }
  }
  const attemptResult: WaitAttempt = {
    attempt,
    elapsedMs: 0,
    ok: states.every((s) => s.ok),
    conditions: states,
    dnsAnswered,
    hosts,
    stale: disc.stale,
    selfListed,
    peers,
    peersCounted: counting,
    peerNodes,
    epmd,
    ...(selfEpmd ? { selfEpmd } : {}),
  };
  return attemptResult;
}

/**
 * The failure or success message of a report: which condition failed and the last thing seen.
 */
function reportMessage(ok: boolean, last: WaitAttempt, timeoutMs: number): string {
  if (ok) {
    const what = last.conditions.map((c) => c.name).join(", ");
    return `All conditions hold (${what}) after ${seconds(last.elapsedMs)} s and ${last.attempt} attempt(s)`;
  }
  const failed = last.conditions.filter((c) => !c.ok);
  return `Cannot finish waiting after ${seconds(timeoutMs)} s: ` +
    failed.map((c) => `condition '${c.name}' failed: ${c.seen}`).join("; and ");
}

/**
 * Polls `options.source` (and the peers' EPMD) until every condition in `conditions` holds or the
 * deadline passes, pausing 250 ms after the first attempt, doubling up to 5 s. Resolves with a report
 * either way; rejects only when `options.signal` aborts, with its reason. With no condition requested
 * it holds at once, after one attempt.
 *
 * @throws {TypeError} when `self` is requested without {@link WaitOptions.self}, or `peers` is not a whole
 * number of at least 0.
 *
 * @example Wait for the Service to list this pod and two peers
 * ```ts
 * import { srvSource } from "../discovery/mod.ts";
 * import { waitFor } from "./wait.ts";
 *
 * const report = await waitFor({ self: true, peers: 2 }, {
 *   source: srvSource({ name: "_epmd._tcp.app.default.svc.cluster.local." }),
 *   self: { host: "app-2.app.default.svc.cluster.local", ip: "10.244.7.12" },
 *   timeoutMs: 120_000,
 *   onProgress: (a) => console.error(a.conditions.map((c) => `${c.name} ${c.summary}`).join(", ")),
 * });
 * if (!report.ok) console.error(report.message);
 * ```
 */
export async function waitFor(conditions: WaitConditions, options: WaitOptions): Promise<WaitReport> {
  const wanted = requested(conditions);
  const self = options.self ?? {};
  if (conditions.peers !== undefined && (!Number.isSafeInteger(conditions.peers) || conditions.peers < 0)) {
    throw new TypeError(
      `Invalid peers condition '${conditions.peers}': expected a whole number of at least 0`,
    );
  }
  if (wanted.includes("self") && !self.host && !self.ip) {
    throw new TypeError("Cannot wait for condition 'self': neither the pod's host nor its IP is known");
  }
  const ctx: Context = {
    conditions,
    matches: aliveMatcher(options.basename),
    wanted,
    source: options.source,
    self,
    isSelf: selfMatcher(self),
    names: options.names ?? epmdNames,
    epmdPort: options.epmdPort,
    epmdTimeoutMs: options.epmdTimeoutMs ?? 2000,
    concurrency: Math.max(1, options.concurrency ?? 8),
  };
  const now = options.now ?? (() => performance.now());
  const pause = options.sleep ?? sleep;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxDelay = options.maxDelayMs ?? 5000;
  let delay = Math.min(options.initialDelayMs ?? 250, maxDelay);
  const { signal } = options;
  const start = now();
  const deadline = start + timeoutMs;
  for (let attempt = 1;; attempt++) {
    signal?.throwIfAborted();
    const a = await attemptOnce(ctx, attempt, signal);
    a.elapsedMs = now() - start;
    const remaining = deadline - now();
    const done = a.ok || remaining <= 0;
    if (!done) a.nextDelayMs = Math.max(0, Math.min(delay, remaining));
    options.onProgress?.(a);
    if (done) {
      return {
        ok: a.ok,
        attempts: attempt,
        elapsedMs: a.elapsedMs,
        timeoutMs,
        source: options.source.description,
        last: a,
        failed: a.conditions.filter((c) => !c.ok).map((c) => c.name),
        message: reportMessage(a.ok, a, timeoutMs),
      };
    }
    await pause(a.nextDelayMs!, signal);
    delay = Math.min(delay * 2, maxDelay);
  }
}
