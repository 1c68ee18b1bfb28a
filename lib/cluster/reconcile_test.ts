/**
 * The reconciler's scheduling, backoff, failure handling and events, on a manual clock with a fake
 * local node, discovery, EPMD and diagnosis: no network. Real nodes test the wiring (tests/).
 */
import assert from "node:assert/strict";
import { Cookie, HandshakeError } from "../dist/mod.ts";
import { type Atom, atom, Pid, type Term } from "../etf/term.ts";
import { type DiscoveredHost, type Discovery, DiscoveryError, type Enumeration } from "../discovery/mod.ts";
import type { PeerDiagnosis } from "./diagnose.ts";
import { ManualClock, settle } from "./clock.ts";
import type { LinkConnection, LocalNodeLink } from "./local.ts";
import {
  type ClusterEvent,
  type CycleReport,
  Reconciler,
  type ReconcilerOptions,
  SLOW_BOOT_MS,
} from "./reconcile.ts";
import type { NodeChange } from "./watch.ts";

const LOCAL = "app@10.0.0.1";
const T0 = 1_700_000_000_000;

/** The local node as the reconciler sees it through its link: `nodes()` and `connect_node/1`. */
class FakeNode {
  /** Its `nodes()`. */
  connected = new Set<string>();
  /** Answers `net_kernel:connect_node/1`; by default `false` (the connect failed). */
  connect: (peer: string) => Promise<boolean> = () => Promise.resolve(false);
  /** The peers `connect_node/1` was called for, with the time. */
  connects: [string, number][] = [];
  /** The calls sent to it, in order, as `module:function`, with the peer for `connect_node`. */
  sent: string[] = [];
  /** When set, `nodes()` answers what it saw when called only once this resolves. */
  nodesGate: Promise<void> | undefined;
  constructor(readonly clock: ManualClock) {}
}

class FakeConnection implements LinkConnection {
  readonly node = LOCAL;
  readonly self = new Pid(atom("erlmesh-test@10.0.0.1"), 1, 0, 1);
  onMessage?: (message: Term) => void;
  open = true;
  #closed = Promise.withResolvers<Error>();
  constructor(readonly fake: FakeNode) {}
  get closed(): Promise<Error> {
    return this.#closed.promise;
  }
  rpc(module: string, fn: string, args: Term[] = []): Promise<Term> {
    this.fake.sent.push(`${module}:${fn}${args.length ? ` ${(args[0] as Atom).name}` : ""}`);
    return this.#answer(module, fn, args);
  }
  async #answer(module: string, fn: string, args: Term[]): Promise<Term> {
    await Promise.resolve();
    if (!this.open) throw new Error("Cannot call: the link is closed");
    if (module === "erlang" && fn === "nodes") {
      const seen = [...this.fake.connected].map(atom);
      if (this.fake.nodesGate) await this.fake.nodesGate;
      return seen;
    }
    if (module === "net_kernel" && fn === "connect_node") {
      const peer = (args[0] as Atom).name;
      this.fake.connects.push([peer, this.fake.clock.now()]);
      const ok = await this.fake.connect(peer);
      if (ok) this.fake.connected.add(peer);
      return atom(ok ? "true" : "false");
    }
    throw new Error(`Unexpected rpc ${module}:${fn}`);
  }
  evaluate(): Promise<Term> {
    return Promise.reject(new Error("Unexpected evaluate"));
  }
  close(reason = new Error("Closed by erlmesh")): void {
    if (!this.open) return;
    this.open = false;
    this.#closed.resolve(reason);
  }
}

/** A link that is up, down (rejects with `error`) or refused, as the test says. */
class FakeLink implements LocalNodeLink {
  conn: FakeConnection | undefined;
  error: Error | undefined;
  generation = 0;
  nextAttemptAt = 0;
  refused = false;
  epmdDown = false;
  closed = false;
  name: string | undefined = LOCAL;
  gets = 0;
  constructor(readonly fake: FakeNode) {}
  get up(): boolean {
    return this.conn?.open ?? false;
  }
  /** Brings the node up (a new generation) and returns its connection. */
  bringUp(): FakeConnection {
    this.error = undefined;
    this.refused = false;
    this.conn = new FakeConnection(this.fake);
    this.generation++;
    return this.conn;
  }
  /** Drops the link: the next get() rejects with `error`. */
  drop(error: Error): void {
    this.error = error;
    this.conn?.close(error);
  }
  get(): Promise<LinkConnection> {
    this.gets++;
    if (this.conn?.open) return Promise.resolve(this.conn);
    return Promise.reject(this.error ?? new Error("Cannot connect: no node"));
  }
  waitUp(): Promise<LinkConnection> {
    return this.get();
  }
  close(): void {
    this.closed = true;
    this.conn?.close();
  }
}

const host = (h: string): DiscoveredHost => ({ host: h, via: "static" });

/** A discovery source whose answer the test sets; `gate` holds the next lookups until resolved. */
class FakeSource {
  readonly kind = "static" as const;
  readonly description = "fake list";
  answer: Discovery = { hosts: [], recordTypes: ["static"], stale: false, queries: 1 };
  calls: number[] = [];
  gate: Promise<void> | undefined;
  constructor(readonly clock: ManualClock) {}
  setHosts(...hosts: string[]): void {
    this.answer = { hosts: hosts.map(host), recordTypes: ["static"], stale: false, queries: 1 };
  }
  async discover(): Promise<Discovery> {
    this.calls.push(this.clock.now());
    if (this.gate) await this.gate;
    return this.answer;
  }
}

/** Every host runs one node `app@host`. */
class FakeEnumerator {
  invalidated: string[] = [];
  enumerate(hosts: DiscoveredHost[]): Promise<Enumeration> {
    return Promise.resolve({
      peers: hosts.map((h) => ({ node: `app@${h.host}`, host: h.host, via: h.via })),
      epmdQueries: 0,
      failures: [],
    });
  }
  invalidate(h: string): void {
    this.invalidated.push(h);
  }
}

/** Everything a test drives, with a reconciler wired to it. */
function setup(options: Partial<ReconcilerOptions> = {}) {
  const clock = new ManualClock(T0);
  const node = new FakeNode(clock);
  const link = new FakeLink(node);
  const source = new FakeSource(clock);
  const enumerator = new FakeEnumerator();
  const events: ClusterEvent[] = [];
  const reports: CycleReport[] = [];
  const probes: { node: string; at: number; timeoutMs: number }[] = [];
  const diagnoses: { node: string; at: number }[] = [];
  let watcher: ((c: NodeChange) => void) | undefined;
  const h = {
    /** How many times the watcher was started. */
    watchStarts: 0,
    clock,
    node,
    link,
    source,
    enumerator,
    events,
    reports,
    probes,
    diagnoses,
    /** What the EPMD check answers: undefined means registered. */
    probeAnswer: undefined as PeerDiagnosis | undefined,
    diagnosis: { code: "UNREACHABLE", message: "Cannot connect: nothing listens" } as PeerDiagnosis,
    /** Sends a change as the watcher on the local node would. */
    watcherSays(c: NodeChange): void {
      assert.ok(watcher, "the watcher was started");
      watcher(c);
    },
    /** Events of one type. */
    of<T extends ClusterEvent["type"]>(type: T): Extract<ClusterEvent, { type: T }>[] {
      return events.filter((e) => e.type === type) as Extract<ClusterEvent, { type: T }>[];
    },
    rec: undefined as unknown as Reconciler,
  };
  h.rec = new Reconciler({
    localNode: LOCAL,
    cookie: new Cookie("reconcile-test-cookie", "test"),
    source,
    enumerator,
    link,
    clock,
    probe: (n, o) => {
      probes.push({ node: n, at: clock.now(), timeoutMs: o.timeoutMs });
      return Promise.resolve(h.probeAnswer);
    },
    diagnose: (n) => {
      diagnoses.push({ node: n, at: clock.now() });
      return Promise.resolve(h.diagnosis);
    },
    watch: (_conn, onChange) => {
      h.watchStarts++;
      watcher = onChange;
      return new Promise(() => {});
    },
    onEvent: (e) => events.push(e),
    onCycle: (r) => reports.push(r),
    ...options,
  });
  return h;
}

type Harness = ReturnType<typeof setup>;

/** Runs the loop on the manual clock; `stop()` ends it and waits for it. */
async function running(h: Harness): Promise<{ stop: () => Promise<void> }> {
  const loop = h.rec.run();
  await settle();
  return {
    stop: async () => {
      h.rec.stop();
      await h.clock.advance(0);
      await loop;
      await h.rec.idle();
    },
  };
}

const connectTimes = (h: Harness, peer: string) =>
  h.node.connects.filter(([p]) => p === peer).map(([, t]) => t - T0);
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]);

Deno.test("nextDelay(): 500 ms for 5 s after start, then the interval, 100 ms while a peer is missing", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.1", "10.0.0.2");
  h.node.connected.add("app@10.0.0.2");
  let r = await h.rec.runCycle();
  assert.equal(r.ok, true);
  assert.deepEqual(r.discovered, ["app@10.0.0.2"]);
  assert.equal(h.rec.nextDelay(r), 500);
  await h.clock.advance(4_999);
  assert.equal(h.rec.nextDelay(await h.rec.runCycle()), 500);
  await h.clock.advance(1);
  assert.equal(h.rec.nextDelay(await h.rec.runCycle()), 5000);
  // A missing peer: every 100 ms. The lookup runs beside the cycle: the next one acts on its answer.
  h.source.setHosts("10.0.0.1", "10.0.0.2", "10.0.0.3");
  await h.clock.advance(5000);
  await h.rec.runCycle();
  await settle();
  r = await h.rec.runCycle();
  assert.deepEqual(r.missing.map((m) => m.node), ["app@10.0.0.3"]);
  assert.equal(h.rec.nextDelay(r), 100);
  // It joins: a local change, so 500 ms for 5 s again.
  h.node.connected.add("app@10.0.0.3");
  await h.clock.advance(100);
  r = await h.rec.runCycle();
  assert.deepEqual(r.missing, []);
  assert.equal(h.rec.nextDelay(r), 500);
  await h.rec.idle();
});

Deno.test("nextDelay(): 50 ms while the local node is down, 25–500 ms toward the next attempt while it refuses", async () => {
  const h = setup();
  h.link.error = new HandshakeError("UNREACHABLE", LOCAL, "Cannot connect to 'app@10.0.0.1': ECONNREFUSED");
  let r = await h.rec.runCycle();
  assert.equal(r.ok, false);
  assert.match(r.error!, /Cannot reach the local node/);
  assert.equal(h.rec.nextDelay(r), 50);
  assert.equal(setup({ fastIntervalMs: 20 }).rec.nextDelay(r), 20);
  // Nothing listens on its EPMD port: it has not started yet, a poll every 100 ms is soon enough.
  h.link.epmdDown = true;
  assert.equal(h.rec.nextDelay(r), 100);
  h.link.epmdDown = false;
  // Refused: the next attempt is 5 s away, so the loop looks every 500 ms (for a restart), then closer.
  h.link.error = new HandshakeError("COOKIE_REJECTED", LOCAL, "Cannot connect to 'app@10.0.0.1': cookie");
  h.link.refused = true;
  h.link.nextAttemptAt = h.clock.now() + 5000;
  r = await h.rec.runCycle();
  assert.equal(h.rec.nextDelay(r), 500);
  await h.clock.advance(4700);
  assert.equal(h.rec.nextDelay(r), 300);
  await h.clock.advance(300);
  assert.equal(h.rec.nextDelay(r), 25);
  assert.equal(h.source.calls.length, 0, "no DNS while the local node is down");
});

Deno.test("DNS is asked at most every 500 ms: faster cycles reuse the answer and count no query", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  let r = await h.rec.runCycle();
  assert.equal(r.dnsQueries, 1);
  for (const step of [200, 200, 99]) {
    await h.clock.advance(step);
    r = await h.rec.runCycle();
    assert.equal(r.dnsQueries, 0);
    assert.deepEqual(r.discovered, ["app@10.0.0.2"]);
  }
  assert.equal(h.source.calls.length, 1);
  await h.clock.advance(1);
  r = await h.rec.runCycle();
  assert.equal(r.dnsQueries, 1);
  assert.deepEqual(h.source.calls.map((t) => t - T0), [0, 500]);
  assert.equal(h.rec.counters.dnsQueries, 2);
  await h.rec.idle();
});

Deno.test("a missing peer is retried every 100 ms for 30 s, then every 2 s, asking EPMD before each retry", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  const loop = await running(h);
  await h.clock.advance(40_000);
  await loop.stop();
  const times = connectTimes(h, "app@10.0.0.2");
  assert.equal(times[0], 0);
  const g = gaps(times);
  assert.deepEqual(new Set(g.filter((_, i) => times[i] < 30_000)), new Set([100]));
  assert.deepEqual(new Set(g.filter((_, i) => times[i] >= 30_000)), new Set([2000]));
  assert.deepEqual(times.filter((t) => t >= 29_800 && t <= 34_000), [29_800, 29_900, 30_000, 32_000, 34_000]);
  // Past its patience the peer is tried every 2 s, and the cycles follow: no fast cycles in between.
  const late = h.reports.map((r) => r.at - T0).filter((t) => t > 30_000);
  assert.deepEqual(new Set(gaps(late)), new Set([2000]));
  // The first attempt goes straight to connect_node; every later one asks EPMD first, with the
  // patient deadline (connectTimeoutMs) every fourth time.
  const probeTimes = h.probes.map((p) => p.at - T0);
  assert.deepEqual(probeTimes, times.slice(1));
  assert.deepEqual(h.probes.slice(0, 8).map((p) => p.timeoutMs), [300, 300, 2000, 300, 300, 300, 2000, 300]);
  // connect_failed once for the unchanged reason; the report says why the peer is missing.
  assert.equal(h.of("connect_failed").length, 1);
  assert.deepEqual(h.reports.at(-1)!.missing[0], {
    node: "app@10.0.0.2",
    code: "UNREACHABLE",
    reason: "Cannot connect: nothing listens",
  });
});

Deno.test("a peer EPMD does not list is not asked for at all, and its host's EPMD is asked again", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  await h.rec.runCycle();
  await h.rec.idle();
  h.probeAnswer = { code: "NOT_REGISTERED", message: "EPMD on 10.0.0.2 has no node 'app'" };
  h.enumerator.invalidated = [];
  await h.clock.advance(200);
  const r = await h.rec.runCycle();
  await h.rec.idle();
  assert.deepEqual(r.attempted, ["app@10.0.0.2"]);
  assert.equal(connectTimes(h, "app@10.0.0.2").length, 1, "connect_node only for the first attempt");
  assert.equal(h.diagnoses.length, 1);
  assert.deepEqual(h.enumerator.invalidated, ["10.0.0.2"]);
  assert.deepEqual(h.of("connect_failed").map((e) => e.code), ["UNREACHABLE", "NOT_REGISTERED"]);
});

Deno.test("a peer that refuses the cookie is retried after 5 s, 10 s, 20 s, then every 30 s, diagnosed every fourth time", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  h.diagnosis = { code: "COOKIE_REJECTED", message: "'app@10.0.0.2' refuses the cookie" };
  const loop = await running(h);
  await h.clock.advance(130_000);
  await loop.stop();
  assert.deepEqual(connectTimes(h, "app@10.0.0.2"), [0, 5000, 15_000, 35_000, 65_000, 95_000, 125_000]);
  assert.deepEqual(h.diagnoses.map((d) => d.at - T0), [0, 65_000]);
  assert.deepEqual(h.of("connect_failed").map((e) => e.code), ["COOKIE_REJECTED"]);
  assert.equal(h.rec.counters.connectFailures.COOKIE_REJECTED, 7);
  // Between refused attempts the loop runs at its calm pace (500 ms for the first 5 s, then 5 s),
  // not at the fast one: a misconfigured peer costs the local node no extra calls.
  const cycles = h.reports.map((r) => r.at - T0);
  assert.deepEqual(new Set(gaps(cycles.filter((t) => t >= 5000))), new Set([5000]));
  assert.ok(h.reports.length < 40, `${h.reports.length} cycles in 130 s`);
});

Deno.test("the local node down, then back: local_down and local_up once each, and the watcher again", async () => {
  const h = setup();
  const conn = h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  h.node.connected.add("app@10.0.0.2");
  const loop = await running(h);
  await h.clock.advance(1000);
  assert.deepEqual(h.of("local_up"), [{ type: "local_up", node: LOCAL, generation: 1 }]);
  // The node goes away: the link closes and connects fail until it is back.
  h.link.drop(new HandshakeError("UNREACHABLE", LOCAL, "Cannot connect to 'app@10.0.0.1': ECONNREFUSED"));
  assert.equal(conn.open, false);
  const cyclesBefore = h.rec.counters.cycles;
  await h.clock.advance(0);
  assert.ok(h.rec.counters.cycles > cyclesBefore, "the closed link wakes the loop at once");
  await h.clock.advance(2000);
  assert.equal(h.of("local_down").length, 1);
  assert.match(h.of("local_down")[0].reason, /ECONNREFUSED/);
  // 50 ms between cycles while it is down, 100 ms once it has been down for a second; no DNS meanwhile.
  const down = h.reports.filter((r) => !r.ok).map((r) => r.at - T0);
  assert.ok(down.length >= 29, `${down.length} cycles in 2 s`);
  const g = gaps(down.slice(1));
  assert.deepEqual(new Set(g), new Set([50, 100]));
  assert.deepEqual(g.slice(0, 19), Array(19).fill(50), "50 ms for the first second");
  assert.equal(g.at(-1), 100);
  const dnsBefore = h.source.calls.length;
  await h.clock.advance(1000);
  assert.equal(h.source.calls.length, dnsBefore);
  h.link.bringUp();
  await h.clock.advance(3000);
  await loop.stop();
  assert.deepEqual(h.of("local_up").map((e) => e.generation), [1, 2]);
  assert.equal(h.of("local_down").length, 1);
  assert.equal(h.watchStarts, 2);
  assert.equal(h.reports.at(-1)!.ok, true);
});

Deno.test("nextDelay(): 100 ms once the local node has been down for SLOW_BOOT_MS; 50 ms again in a new outage", async () => {
  const h = setup();
  const down = () =>
    new HandshakeError("UNREACHABLE", LOCAL, "Cannot connect to 'app@10.0.0.1': ECONNREFUSED");
  h.link.error = down();
  let r = await h.rec.runCycle();
  assert.equal(h.rec.nextDelay(r), 50);
  await h.clock.advance(SLOW_BOOT_MS - 1);
  r = await h.rec.runCycle();
  assert.equal(h.rec.nextDelay(r), 50, "a restarting node registers within a second");
  await h.clock.advance(1);
  r = await h.rec.runCycle();
  assert.equal(h.rec.nextDelay(r), 100, "still booting after a second: a busy machine");
  h.link.bringUp();
  assert.equal((await h.rec.runCycle()).ok, true);
  h.link.drop(down());
  r = await h.rec.runCycle();
  assert.equal(r.ok, false);
  assert.equal(h.rec.nextDelay(r), 50, "a new outage starts at 50 ms");
});

Deno.test("a refusing local node is reported once as local_refused, naming the cookie's source", async () => {
  const h = setup();
  h.link.error = new HandshakeError("COOKIE_REJECTED", LOCAL, "Cannot connect to 'app@10.0.0.1': closed");
  h.link.refused = true;
  h.link.nextAttemptAt = h.clock.now() + 5000;
  for (let i = 0; i < 5; i++) {
    await h.rec.runCycle();
    await h.clock.advance(500);
  }
  const refused = h.of("local_refused");
  assert.equal(refused.length, 1);
  assert.equal(refused[0].code, "COOKIE_REJECTED");
  assert.equal(refused[0].cookieSource, "test");
  assert.match(refused[0].reason, /which came from test/);
  assert.doesNotMatch(JSON.stringify(h.events), /reconcile-test-cookie/);
  assert.equal(h.of("local_down").length, 0);
});

Deno.test("discovery failing: discovery_failed once, the stale answer kept, then discovery_recovered once", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  h.node.connected.add("app@10.0.0.2");
  await h.rec.runCycle();
  const good = h.source.answer;
  h.source.answer = {
    ...good,
    stale: true,
    error: new DiscoveryError("TIMEOUT", "Cannot resolve 'app.default.svc': the server did not answer"),
  };
  const reports: CycleReport[] = [];
  for (let i = 0; i < 4; i++) {
    await h.clock.advance(500);
    reports.push(await h.rec.runCycle());
  }
  assert.equal(h.of("discovery_failed").length, 1);
  assert.deepEqual(h.of("discovery_failed")[0], {
    type: "discovery_failed",
    code: "TIMEOUT",
    reason: "Cannot resolve 'app.default.svc': the server did not answer",
    stale: true,
  });
  for (const r of reports) {
    assert.equal(r.ok, true);
    assert.equal(r.stale, true);
    assert.deepEqual(r.discovered, ["app@10.0.0.2"]);
    assert.equal(r.discoveryError?.code, "TIMEOUT");
  }
  assert.equal(h.rec.counters.dnsErrors, 4);
  assert.equal(h.of("peer_gone").length, 0);
  h.source.answer = good;
  for (let i = 0; i < 3; i++) {
    await h.clock.advance(500);
    await h.rec.runCycle();
  }
  assert.equal(h.of("discovery_recovered").length, 1);
  assert.equal(h.of("discovery_failed").length, 1);
  // "No records" right after peers: Deno reads SERVFAIL the same, so it is a failure for 30 s and the
  // peers stay; after that it is an answer (no peers).
  h.source.answer = {
    hosts: [],
    recordTypes: [],
    stale: false,
    queries: 1,
    error: new DiscoveryError("NXDOMAIN_OR_NODATA", "Cannot resolve 'app.default.svc': no records found"),
  };
  const lastGoodAt = h.clock.now();
  await h.clock.advance(500);
  let r = await h.rec.runCycle();
  assert.deepEqual(r.discovered, ["app@10.0.0.2"]);
  assert.equal(r.stale, true);
  assert.deepEqual(h.of("discovery_failed")[1], {
    type: "discovery_failed",
    code: "NXDOMAIN_OR_NODATA",
    reason: "Cannot resolve 'app.default.svc': no records found; a failing DNS server (SERVFAIL) reads the " +
      "same, so the last answer with peers is kept for up to 30 s",
    stale: true,
  });
  while (h.clock.now() < lastGoodAt + 29_000) {
    await h.clock.advance(1000);
    r = await h.rec.runCycle();
    assert.deepEqual(r.discovered, ["app@10.0.0.2"]);
  }
  await h.clock.advance(2000);
  await h.rec.runCycle(); // starts the lookup beside it
  await h.clock.advance(500);
  r = await h.rec.runCycle();
  assert.deepEqual(r.discovered, []);
  assert.equal(h.of("discovery_failed").length, 2);
  assert.equal(h.of("discovery_recovered").length, 1, "no answer with peers came back");
  assert.deepEqual(h.of("peer_gone").map((e) => e.node), ["app@10.0.0.2"]);
  // Peers again: recovered.
  h.source.answer = good;
  await h.clock.advance(500);
  await h.rec.runCycle();
  assert.equal(h.of("discovery_recovered").length, 2);
});

Deno.test('"no records" with no earlier answer with peers (a first pod) is an answer at once, not a failure', async () => {
  const h = setup();
  h.link.bringUp();
  h.source.answer = {
    hosts: [],
    recordTypes: [],
    stale: false,
    queries: 1,
    error: new DiscoveryError("NXDOMAIN_OR_NODATA", "Cannot resolve 'app.default.svc': no records found"),
  };
  const r = await h.rec.runCycle();
  assert.equal(r.ok, true);
  assert.deepEqual(r.discovered, []);
  assert.equal(r.stale, false);
  assert.equal(h.of("discovery_failed").length, 0);
});

Deno.test("join and leave come from nodes() and from the watcher; a nodedown starts a reconnect at once", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2", "10.0.0.3");
  h.node.connected.add("app@10.0.0.2");
  h.node.connect = () => Promise.resolve(true);
  const loop = await running(h);
  await h.clock.advance(20_000);
  assert.deepEqual(h.of("join").map((e) => e.node), ["app@10.0.0.2", "app@10.0.0.3"]);
  assert.equal(h.rec.nextDelay(), 5000);
  // nodes() alone: a node that left between cycles.
  h.node.connected.delete("app@10.0.0.3");
  h.node.connect = () => Promise.resolve(false);
  await h.clock.advance(5000);
  assert.deepEqual(h.of("leave").map((e) => e.node), ["app@10.0.0.3"]);
  // The watcher: a nodedown of a discovered peer wakes the loop now, not in 200 ms, and the first
  // attempt asks EPMD first (it was reachable a moment ago).
  h.node.connect = () => Promise.resolve(true);
  await h.clock.advance(3000);
  assert.ok(h.node.connected.has("app@10.0.0.3"));
  const cycles = h.rec.counters.cycles;
  const probes = h.probes.length;
  h.node.connected.delete("app@10.0.0.2");
  h.watcherSays({ type: "nodedown", node: "app@10.0.0.2" });
  await h.clock.advance(0);
  assert.equal(h.rec.counters.cycles, cycles + 1);
  assert.deepEqual(h.probes.slice(probes).map((p) => p.node), ["app@10.0.0.2"]);
  assert.deepEqual(h.of("leave").map((e) => e.node), ["app@10.0.0.3", "app@10.0.0.2"]);
  // A nodeup from the watcher is a join, and wakes the loop (DNS may list the node by now); an
  // undiscovered node's nodedown wakes nothing.
  await h.clock.advance(200);
  const cycles1 = h.rec.counters.cycles;
  h.watcherSays({ type: "nodeup", node: "other@10.0.0.9" });
  assert.equal(h.of("join").at(-1)!.node, "other@10.0.0.9");
  await settle();
  assert.equal(h.rec.counters.cycles, cycles1 + 1);
  const cycles2 = h.rec.counters.cycles;
  h.watcherSays({ type: "nodedown", node: "other@10.0.0.9" });
  await settle();
  assert.equal(h.rec.counters.cycles, cycles2);
  await loop.stop();
  assert.equal(h.rec.counters.joins, h.of("join").length);
  assert.equal(h.rec.counters.leaves, h.of("leave").length);
});

Deno.test("at most `concurrency` connect attempts run at once, one per peer", async () => {
  const h = setup({ concurrency: 4 });
  h.link.bringUp();
  const hosts = Array.from({ length: 10 }, (_, i) => `10.0.1.${i}`);
  h.source.setHosts(...hosts);
  const pending = new Map<string, (ok: boolean) => void>();
  h.node.connect = (peer) => new Promise((resolve) => pending.set(peer, resolve));
  let r = await h.rec.runCycle();
  assert.deepEqual(r.attempted, ["app@10.0.1.0", "app@10.0.1.1", "app@10.0.1.2", "app@10.0.1.3"]);
  assert.deepEqual(r.missing.filter((m) => m.code === "CONNECTING").length, 4);
  await h.clock.advance(200);
  r = await h.rec.runCycle();
  assert.deepEqual(r.attempted, []);
  // One finishes (connected): one more starts at the next cycle.
  pending.get("app@10.0.1.1")!(true);
  await settle();
  await h.clock.advance(200);
  r = await h.rec.runCycle();
  assert.deepEqual(r.attempted, ["app@10.0.1.4"]);
  assert.equal(pending.size, 5);
  for (const resolve of pending.values()) resolve(false);
  await h.rec.idle();
});

Deno.test("stop() during a cycle ends the loop: no connect attempt, no timer left, the link closed", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  const gate = Promise.withResolvers<void>();
  h.source.gate = gate.promise;
  const loop = h.rec.run();
  await settle();
  assert.equal(h.source.calls.length, 1, "the cycle waits for discovery");
  h.rec.stop();
  gate.resolve();
  await loop;
  await h.rec.idle();
  assert.equal(h.link.closed, true);
  assert.equal(h.clock.pending, 0);
  assert.deepEqual(h.node.connects, []);
  assert.equal(h.reports.length, 1);
  assert.equal(h.reports[0].ok, false);
  assert.deepEqual(h.reports[0].attempted, []);
  await h.clock.advance(10_000);
  assert.equal(h.reports.length, 1);
});

Deno.test("nextDelay(): a peer of the other name form, never asked for, needs no fast cycles", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2", "vm2");
  h.node.connected.add("app@10.0.0.2");
  await h.rec.runCycle();
  await settle();
  await h.clock.advance(6000);
  const r = await h.rec.runCycle();
  assert.deepEqual(r.missing.map((m) => m.code), ["NAME_FORM"]);
  assert.equal(h.rec.nextDelay(r), 5000);
  await h.rec.idle();
});

Deno.test("a peer of the other name form is never asked for, and reported once", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2", "vm2");
  for (let i = 0; i < 3; i++) {
    const r = await h.rec.runCycle();
    assert.deepEqual(r.missing.find((m) => m.node === "app@vm2")?.code, "NAME_FORM");
    await h.clock.advance(500);
  }
  await h.rec.idle();
  assert.deepEqual(h.node.connects.map(([p]) => p).filter((p) => p === "app@vm2"), []);
  assert.equal(h.of("name_form_mismatch").length, 1);
});

// Issue 10: nothing the user waits for queues behind DNS, heal attempts overlap, a nodedown reconnects
// at once, a restarted node is acted on at once, and a quiet steady state.

Deno.test("a slow DNS lookup holds back no retry at a known missing peer; a peer its answer drops is not dialled again", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  const loop = await running(h);
  await h.clock.advance(1000);
  // DNS stops answering: the next lookup waits (for its deadline, in real life).
  const gate = Promise.withResolvers<void>();
  h.source.gate = gate.promise;
  const from = h.clock.now() - T0;
  const lookups = h.source.calls.length;
  await h.clock.advance(3000);
  assert.equal(h.source.calls.length, lookups + 1, "one lookup in flight, not one per cycle");
  const during = connectTimes(h, "app@10.0.0.2").filter((t) => t > from);
  assert.equal(during.length, 30);
  assert.deepEqual(new Set(gaps(during)), new Set([100]));
  // The answer comes without 10.0.0.2 and with 10.0.0.3: the loop acts on it at once.
  h.source.gate = undefined;
  h.source.setHosts("10.0.0.3");
  const answeredAt = h.clock.now() - T0;
  gate.resolve();
  await h.clock.advance(0);
  assert.deepEqual(h.of("peer_gone").map((e) => e.node), ["app@10.0.0.2"]);
  assert.deepEqual(connectTimes(h, "app@10.0.0.3"), [answeredAt]);
  await h.clock.advance(2000);
  await loop.stop();
  assert.deepEqual(connectTimes(h, "app@10.0.0.2").filter((t) => t > answeredAt), []);
});

Deno.test("an attempt whose EPMD check was in flight when discovery dropped the peer does not call connect_node", async () => {
  const check = Promise.withResolvers<PeerDiagnosis | undefined>();
  const h = setup({ probe: () => check.promise });
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  await h.rec.runCycle();
  await h.rec.idle();
  assert.equal(connectTimes(h, "app@10.0.0.2").length, 1);
  await h.clock.advance(100);
  let r = await h.rec.runCycle();
  assert.deepEqual(r.attempted, ["app@10.0.0.2"], "the retry asks EPMD first, which takes its time");
  h.source.setHosts();
  await h.clock.advance(500);
  await h.rec.runCycle();
  await settle();
  r = await h.rec.runCycle();
  assert.deepEqual(r.discovered, []);
  check.resolve(undefined); // registered after all
  await h.rec.idle();
  assert.equal(connectTimes(h, "app@10.0.0.2").length, 1);
});

/** An EPMD check that times out at its deadline while the network is cut, and answers at once after. */
function partitionedProbe(getH: () => Harness) {
  const state = {
    healed: false,
    started: [] as { node: string; at: number; timeoutMs: number }[],
    inflight: new Map<string, number>(),
    maxPerPeer: 0,
    maxAll: 0,
  };
  const probe = async (node: string, o: { timeoutMs: number }): Promise<PeerDiagnosis | undefined> => {
    const h = getH();
    state.started.push({ node, at: h.clock.now() - T0, timeoutMs: o.timeoutMs });
    if (state.healed) return undefined;
    state.inflight.set(node, (state.inflight.get(node) ?? 0) + 1);
    state.maxPerPeer = Math.max(state.maxPerPeer, ...state.inflight.values());
    state.maxAll = Math.max(state.maxAll, [...state.inflight.values()].reduce((a, b) => a + b, 0));
    await h.clock.sleep(o.timeoutMs);
    state.inflight.set(node, state.inflight.get(node)! - 1);
    return { code: "TIMEOUT", message: `EPMD on ${node} did not answer within ${o.timeoutMs} ms` };
  };
  return { state, probe };
}

Deno.test("a short EPMD check starts beside a patient one still in flight, and the first success goes on to connect_node", async () => {
  const { state, probe } = partitionedProbe(() => h);
  const h: Harness = setup({ probe });
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  let healed = false;
  h.node.connect = () => Promise.resolve(healed);
  const loop = await running(h);
  while (!state.started.some((p) => p.timeoutMs === 2000)) await h.clock.advance(100);
  const patient = state.started.find((p) => p.timeoutMs === 2000)!;
  // The partition heals just after the patient check started: its SYN is lost, it waits for its deadline.
  await h.clock.advance(patient.at + 50 - (h.clock.now() - T0));
  state.healed = healed = true;
  await h.clock.advance(2000); // past the patient check's deadline
  await loop.stop();
  const after = state.started.filter((p) => p.at > patient.at);
  assert.deepEqual(after[0], { node: "app@10.0.0.2", at: patient.at + 100, timeoutMs: 300 });
  assert.deepEqual(connectTimes(h, "app@10.0.0.2"), [0, patient.at + 100]);
  assert.ok(h.node.connected.has("app@10.0.0.2"));
});

Deno.test("during a partition an EPMD check starts every 100 ms beside the ones waiting for their deadline, so a heal is found within 100 ms", async () => {
  const { state, probe } = partitionedProbe(() => h);
  const h: Harness = setup({ probe });
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  let healed = false;
  h.node.connect = () => Promise.resolve(healed);
  const loop = await running(h);
  await h.clock.advance(5_073);
  // A SYN lost in the partition is re-sent only after 1 s: each check waits for its deadline, and the
  // next one does not wait for it.
  const starts = state.started.map((p) => p.at).filter((t) => t >= 1000);
  assert.ok(starts.length >= 30, `${starts.length} checks in 4 s`);
  assert.deepEqual(new Set(gaps(starts)), new Set([100]));
  const healAt = h.clock.now() - T0;
  state.healed = healed = true;
  await h.clock.advance(2000); // past the deadline of a patient check started before the heal
  await loop.stop();
  const joinedAt = connectTimes(h, "app@10.0.0.2").find((t) => t >= healAt)!;
  assert.ok(joinedAt - healAt <= 100, `re-meshed ${joinedAt - healAt} ms after the heal`);
  assert.ok(h.node.connected.has("app@10.0.0.2"));
});

Deno.test("overlapping EPMD checks stay bounded: at most 4 per peer, and `concurrency` in all", async () => {
  const { state, probe } = partitionedProbe(() => h);
  const h: Harness = setup({ probe, concurrency: 5 });
  h.link.bringUp();
  h.source.setHosts("10.0.0.2", "10.0.0.3");
  const loop = await running(h);
  await h.clock.advance(60_000);
  h.rec.stop();
  await h.clock.advance(2000); // the checks in flight reach their deadline
  await loop.stop();
  // A patient check (2 s) and the short ones (300 ms) started every 100 ms beside it.
  assert.equal(state.maxPerPeer, 4);
  assert.equal(state.maxAll, 5);
  // Never two patient checks at one peer at once.
  for (const node of ["app@10.0.0.2", "app@10.0.0.3"]) {
    const patient = state.started.filter((p) => p.node === node && p.timeoutMs === 2000);
    assert.ok(patient.length > 5);
    assert.ok(gaps(patient.map((p) => p.at)).every((g) => g >= 2000));
  }
});

Deno.test("a nodedown that arrives while a cycle waits for nodes() starts the reconnect at once, asking EPMD first", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  h.node.connected.add("app@10.0.0.2");
  const loop = await running(h);
  await h.clock.advance(20_000);
  assert.equal(h.rec.nextDelay(), 5000);
  // The next cycle's nodes() still lists the peer; its nodedown arrives before that answer does.
  const gate = Promise.withResolvers<void>();
  h.node.nodesGate = gate.promise;
  await h.clock.next();
  const downAt = h.clock.now() - T0;
  h.node.connected.delete("app@10.0.0.2");
  h.node.connect = () => Promise.resolve(true);
  h.watcherSays({ type: "nodedown", node: "app@10.0.0.2" });
  h.node.nodesGate = undefined;
  gate.resolve();
  await h.clock.advance(0);
  assert.deepEqual(h.probes.map((p) => [p.node, p.at - T0, p.timeoutMs]), [["app@10.0.0.2", downAt, 300]]);
  assert.deepEqual(connectTimes(h, "app@10.0.0.2"), [downAt]);
  await loop.stop();
  assert.deepEqual(h.events.filter((e) => e.type === "join" || e.type === "leave").map((e) => e.type), [
    "join",
    "leave",
    "join",
  ]);
});

Deno.test("a restarted local node: connect_node to the peers it knew goes out at once, before the watcher starts and before DNS answers", async () => {
  const h: Harness = setup({
    watch: () => {
      h.node.sent.push("watcher started");
      return new Promise(() => {});
    },
    onCycle: () => h.node.sent.push("cycle report (metrics)"),
  });
  h.link.bringUp();
  h.source.setHosts("10.0.0.2", "10.0.0.3");
  h.node.connect = () => Promise.resolve(true);
  const loop = await running(h);
  await h.clock.advance(10_000);
  assert.deepEqual(h.node.connects.map(([p]) => p), ["app@10.0.0.2", "app@10.0.0.3"]);
  // The node restarts: it comes back with no connection, while DNS is slow.
  h.link.drop(new HandshakeError("UNREACHABLE", LOCAL, "Cannot connect to 'app@10.0.0.1': ECONNREFUSED"));
  h.node.connected.clear();
  await h.clock.advance(1000);
  const gate = Promise.withResolvers<void>();
  h.source.gate = gate.promise;
  const lookups = h.source.calls.length;
  h.node.sent = [];
  h.link.bringUp();
  await h.clock.next(); // the next cycle (within 50 ms) finds the link up
  const upAt = h.clock.now() - T0;
  assert.deepEqual(h.node.sent, [
    "erlang:nodes",
    "net_kernel:connect_node app@10.0.0.2",
    "net_kernel:connect_node app@10.0.0.3",
    "watcher started",
    "cycle report (metrics)",
  ]);
  assert.deepEqual(h.node.connects.slice(2).map(([, t]) => t - T0), [upAt, upAt]);
  assert.equal(h.source.calls.length, lookups + 1, "a lookup is under way, not waited for");
  assert.equal(h.probes.length, 0, "peers that left with the local node's restart did not fail");
  gate.resolve();
  await loop.stop();
});

Deno.test("a quiet steady state: a join or this node's link coming up polls every 500 ms for 5 s; a new host in DNS does not", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2");
  h.node.connected.add("app@10.0.0.2");
  const loop = await running(h);
  await h.clock.advance(6000);
  assert.equal(h.rec.nextDelay(), 5000);
  // A new pod's agent connects it to this node before its record is published (readiness-gated).
  await h.clock.advance(1000);
  h.node.connected.add("app@10.0.0.3");
  const joinAt = h.clock.now();
  h.watcherSays({ type: "nodeup", node: "app@10.0.0.3" });
  assert.equal(h.rec.nextDelay(), 500);
  // The window starts at once, not after the 5 s wait under way: a lookup right away, then every 500 ms.
  await h.clock.advance(1000);
  assert.deepEqual(h.source.calls.filter((t) => t >= joinAt).map((t) => t - joinAt), [0, 500, 1000]);
  await h.clock.advance(4500);
  assert.equal(h.rec.nextDelay(), 5000);
  // Its record appears: a change in DNS, none on this node.
  h.source.setHosts("10.0.0.2", "10.0.0.3");
  await h.clock.advance(5000);
  assert.deepEqual(h.of("peer_found").map((e) => e.node), ["app@10.0.0.2", "app@10.0.0.3"]);
  assert.equal(h.rec.nextDelay(), 5000);
  // From then on, one DNS query per interval: 12 a minute.
  const from = h.clock.now();
  await h.clock.advance(60_000);
  assert.equal(h.source.calls.filter((t) => t >= from && t < from + 60_000).length, 12);
  assert.equal(h.probes.length, 0, "no EPMD query in the steady state");
  // The local link coming up again is a local change.
  h.link.drop(new HandshakeError("UNREACHABLE", LOCAL, "Cannot connect to 'app@10.0.0.1': ECONNREFUSED"));
  await h.clock.advance(100);
  h.link.bringUp();
  await h.clock.advance(100);
  assert.equal(h.of("local_up").length, 2);
  assert.equal(h.rec.nextDelay(), 500);
  await loop.stop();
});

Deno.test("a nodedown while a DNS lookup hangs: the departed peer is retried every 200 ms until it is back", async () => {
  const h = setup();
  h.link.bringUp();
  h.source.setHosts("10.0.0.2", "10.0.0.3");
  h.node.connect = () => Promise.resolve(true);
  const loop = await running(h);
  await h.clock.advance(20_000);
  assert.ok(h.node.connected.has("app@10.0.0.2"));
  // DNS stops answering (a cache that times out), then the peer restarts.
  const gate = Promise.withResolvers<void>();
  h.source.gate = gate.promise;
  await h.clock.advance(5000);
  h.node.connect = () => Promise.resolve(false);
  h.probeAnswer = { code: "NOT_REGISTERED", message: "EPMD has no node 'app'" };
  h.node.connected.delete("app@10.0.0.2");
  h.watcherSays({ type: "nodedown", node: "app@10.0.0.2" });
  const from = h.clock.now() - T0;
  await h.clock.advance(1000);
  const probesDuring = h.probes.filter((p) => p.node === "app@10.0.0.2" && p.at - T0 >= from);
  assert.ok(
    probesDuring.length >= 4,
    `retries while DNS hangs: ${probesDuring.map((p) => p.at - T0 - from)}`,
  );
  // Back: registered again, and the connect works.
  h.probeAnswer = undefined;
  h.node.connect = () => Promise.resolve(true);
  await h.clock.advance(1000);
  assert.ok(h.node.connected.has("app@10.0.0.2"), "re-meshed while DNS still hangs");
  gate.resolve();
  await loop.stop();
});
