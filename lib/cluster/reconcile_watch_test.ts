/**
 * The reconciler with a discovery source that sees changes itself (`subscribe`, the Kubernetes watch):
 * a change is acted on at once, not at the next poll, on a manual clock with a fake local node.
 */
import assert from "node:assert/strict";
import { Cookie } from "../dist/mod.ts";
import { type Atom, atom, Pid, type Term } from "../etf/term.ts";
import type { DiscoveredHost, Discovery, Enumeration } from "../discovery/mod.ts";
import { ManualClock, settle } from "./clock.ts";
import type { LinkConnection, LocalNodeLink } from "./local.ts";
import { type ClusterEvent, Reconciler } from "./reconcile.ts";

const LOCAL = "app@10.0.0.1";
const T0 = 1_700_000_000_000;

/** The local node behind the link: `nodes()` and `connect_node/1`, which always succeeds. */
class FakeConnection implements LinkConnection {
  readonly node = LOCAL;
  readonly self = new Pid(atom("erlmesh-test@10.0.0.1"), 1, 0, 1);
  onMessage?: (message: Term) => void;
  open = true;
  connected = new Set<string>();
  connects: [string, number][] = [];
  constructor(readonly clock: ManualClock) {}
  closed = new Promise<Error>(() => {});
  async rpc(module: string, fn: string, args: Term[] = []): Promise<Term> {
    await Promise.resolve();
    if (fn === "nodes") return [...this.connected].map(atom);
    if (module === "net_kernel" && fn === "connect_node") {
      const peer = (args[0] as Atom).name;
      this.connects.push([peer, this.clock.now()]);
      this.connected.add(peer);
      return atom("true");
    }
    throw new Error(`Unexpected rpc ${module}:${fn}`);
  }
  evaluate(): Promise<Term> {
    return Promise.reject(new Error("Unexpected evaluate"));
  }
  close(): void {
    this.open = false;
  }
}

class FakeLink implements LocalNodeLink {
  readonly name = LOCAL;
  readonly generation = 1;
  readonly refused = false;
  readonly nextAttemptAt = 0;
  constructor(readonly conn: FakeConnection) {}
  get up(): boolean {
    return this.conn.open;
  }
  get(): Promise<LinkConnection> {
    return Promise.resolve(this.conn);
  }
  waitUp(): Promise<LinkConnection> {
    return this.get();
  }
  close(): void {
    this.conn.close();
  }
}

/** A source with a watch: the test sets its answer and says when it changed. */
class WatchedSource {
  readonly kind = "kubernetes" as const;
  readonly description = "fake watch";
  hosts: string[] = [];
  calls: number[] = [];
  gate: Promise<void> | undefined;
  listener: (() => void) | undefined;
  unsubscribed = 0;
  constructor(readonly clock: ManualClock, readonly watched: boolean) {}
  async discover(): Promise<Discovery> {
    this.calls.push(this.clock.now());
    const hosts: DiscoveredHost[] = this.hosts.map((host) => ({ host, via: "EndpointSlice" }));
    if (this.gate) await this.gate;
    return { hosts, recordTypes: ["EndpointSlice"], stale: false, queries: 0 };
  }
  subscribe(onChange: () => void): () => void {
    assert.ok(this.watched, "subscribe is only called on a source that has it");
    this.listener = onChange;
    return () => {
      this.unsubscribed++;
      this.listener = undefined;
    };
  }
  /** The watch saw a change: the answer is `hosts` from now on. */
  change(...hosts: string[]): void {
    this.hosts = hosts;
    this.listener?.();
  }
}

function setup(watched: boolean) {
  const clock = new ManualClock(T0);
  const conn = new FakeConnection(clock);
  const source = new WatchedSource(clock, watched);
  const plain = {
    kind: source.kind,
    description: source.description,
    discover: () => source.discover(),
  };
  const events: ClusterEvent[] = [];
  const rec = new Reconciler({
    localNode: LOCAL,
    cookie: new Cookie("reconcile-watch-test-cookie", "test"),
    source: watched ? source : plain,
    enumerator: {
      enumerate: (hosts: DiscoveredHost[]): Promise<Enumeration> =>
        Promise.resolve({
          peers: hosts.map((h) => ({ node: `app@${h.host}`, host: h.host, via: h.via })),
          epmdQueries: 0,
          failures: [],
        }),
      invalidate: () => {},
    },
    link: new FakeLink(conn),
    clock,
    probe: () => Promise.resolve(undefined),
    diagnose: () => Promise.reject(new Error("Unexpected diagnosis")),
    watch: () => new Promise(() => {}),
    onEvent: (e) => events.push(e),
  });
  return { clock, conn, source, rec, events };
}

type H = ReturnType<typeof setup>;

async function start(h: H): Promise<() => Promise<void>> {
  h.source.hosts = ["10.0.0.2"];
  const loop = h.rec.run();
  await settle();
  // Past the settle window after start: the loop polls every 5 s.
  await h.clock.advance(6000);
  assert.equal(h.rec.nextDelay(), 5000);
  return async () => {
    h.rec.stop();
    await h.clock.advance(0);
    await loop;
    await h.rec.idle();
  };
}

const connectsTo = (h: H, peer: string) => h.conn.connects.filter(([p]) => p === peer).map(([, t]) => t);

Deno.test("a watched source's change is looked up and acted on at once, not at the next 5 s poll", async () => {
  const h = setup(true);
  const stop = await start(h);
  const at = h.clock.now();
  h.source.change("10.0.0.2", "10.0.0.3");
  await h.clock.advance(0);
  assert.deepEqual(h.source.calls.filter((t) => t >= at), [at], "one lookup, at once");
  assert.deepEqual(connectsTo(h, "app@10.0.0.3"), [at], "the new peer is connected at once");
  assert.ok(h.events.some((e) => e.type === "peer_found" && e.node === "app@10.0.0.3"));
  await stop();
  assert.equal(h.source.unsubscribed, 1, "stop() unsubscribes");
  assert.equal(h.source.listener, undefined);
});

Deno.test("without subscribe the same change waits for the next poll (what the watch saves)", async () => {
  const h = setup(false);
  const stop = await start(h);
  const at = h.clock.now();
  h.source.change("10.0.0.2", "10.0.0.3");
  await h.clock.advance(3000);
  assert.deepEqual(connectsTo(h, "app@10.0.0.3"), []);
  await h.clock.advance(2000);
  assert.equal(connectsTo(h, "app@10.0.0.3").length, 1);
  assert.ok(connectsTo(h, "app@10.0.0.3")[0] - at >= 3000);
  await stop();
});

Deno.test("a pod dropped by the watch (terminating) is gone at once and never dialled again", async () => {
  const h = setup(true);
  const stop = await start(h);
  h.source.change("10.0.0.2", "10.0.0.3");
  await h.clock.advance(1000);
  assert.equal(connectsTo(h, "app@10.0.0.3").length, 1);
  // The pod is deleted: it turns terminating, the watch drops it, and its node goes away.
  const at = h.clock.now();
  h.source.change("10.0.0.2");
  h.conn.connected.delete("app@10.0.0.3");
  await h.clock.advance(0);
  assert.ok(
    h.events.some((e) => e.type === "peer_gone" && e.node === "app@10.0.0.3"),
    JSON.stringify(h.events),
  );
  await h.clock.advance(60_000);
  assert.deepEqual(connectsTo(h, "app@10.0.0.3").filter((t) => t >= at), []);
  await stop();
});

Deno.test("a change announced while a lookup is in flight is looked up again when that lookup ends", async () => {
  const h = setup(true);
  const stop = await start(h);
  const gate = Promise.withResolvers<void>();
  h.source.gate = gate.promise;
  h.source.change("10.0.0.2", "10.0.0.3");
  await h.clock.advance(0);
  // Two more changes while that lookup hangs: one lookup more, after it, sees the last.
  h.source.change("10.0.0.2", "10.0.0.3", "10.0.0.4");
  h.source.change("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5");
  const calls = h.source.calls.length;
  h.source.gate = undefined;
  gate.resolve();
  await h.clock.advance(0);
  assert.equal(h.source.calls.length, calls + 1);
  for (const p of ["app@10.0.0.3", "app@10.0.0.4", "app@10.0.0.5"]) {
    assert.equal(connectsTo(h, p).length, 1, p);
  }
  await stop();
});
