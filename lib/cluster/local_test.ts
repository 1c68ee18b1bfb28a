import assert from "node:assert/strict";
import { type ConnectNodeOptions, Cookie, HandshakeError } from "../dist/mod.ts";
import { EpmdError, type EpmdNames, type EpmdPort } from "../epmd/mod.ts";
import { atom, Pid, type Term } from "../etf/term.ts";
import { ManualClock, settle } from "./clock.ts";
import { ClusterError } from "./errors.ts";
import {
  isRefusal,
  type LinkConnection,
  type LocalConnect,
  type LocalEpmd,
  LocalLink,
  type LocalLinkOptions,
  type LocalTarget,
} from "./local.ts";

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

// LocalLink on a manual clock with a fake dialer and a fake EPMD: no network. Real nodes test the
// wiring (tests/local_node_test.ts, tests/cookie_flood_test.ts).

const T0 = 1_700_000_000_000;
const LOCAL = "app@127.0.0.1";

/** A link as LocalLink sees it; `drop()` ends it as a lost TCP connection would. */
class FakeConnection implements LinkConnection {
  readonly self = new Pid(atom("erlmesh-test@127.0.0.1"), 1, 0, 1);
  onMessage?: (message: Term) => void;
  open = true;
  #closed = Promise.withResolvers<Error>();
  constructor(readonly node: string) {}
  get closed(): Promise<Error> {
    return this.#closed.promise;
  }
  rpc(): Promise<Term> {
    return Promise.reject(new Error("Unexpected rpc"));
  }
  evaluate(): Promise<Term> {
    return Promise.reject(new Error("Unexpected evaluate"));
  }
  drop(reason: Error): void {
    if (!this.open) return;
    this.open = false;
    this.#closed.resolve(reason);
  }
  close(): void {
    this.drop(new Error("Closed by erlmesh"));
  }
}

/**
 * The local node as the dialer meets it: `answer` says how the next handshake ends (a node name to
 * link to, an error, or "hang" until the attempt is aborted).
 */
class FakeDialer {
  answer: string | Error | "hang" = LOCAL;
  /** Each attempt: its target, options and time. */
  dials: { target: LocalTarget; options: ConnectNodeOptions; at: number }[] = [];
  conns: FakeConnection[] = [];
  constructor(readonly clock: ManualClock) {}
  connect: LocalConnect<FakeConnection> = async (target, options) => {
    this.dials.push({ target, options, at: this.clock.now() });
    await Promise.resolve();
    const a = this.answer;
    if (a === "hang") {
      return await new Promise<FakeConnection>((_, reject) => {
        options.signal?.addEventListener("abort", () => reject(options.signal!.reason), { once: true });
      });
    }
    if (a instanceof Error) throw a;
    const conn = new FakeConnection(a);
    this.conns.push(conn);
    return conn;
  };
}

/** The local EPMD: the nodes registered (alive part → port); `down` makes every query fail. */
class FakeEpmd implements LocalEpmd {
  nodes = new Map<string, number>([["app", 40001]]);
  down: EpmdError | undefined;
  namesCalls = 0;
  portCalls: number[] = [];
  constructor(readonly clock: ManualClock) {}
  names(): Promise<EpmdNames> {
    this.namesCalls++;
    if (this.down) return Promise.reject(this.down);
    return Promise.resolve({
      epmdPort: 4369,
      nodes: [...this.nodes].map(([name, port]) => ({ name, port })),
    });
  }
  portPlease(host: string, name: string): Promise<EpmdPort> {
    this.portCalls.push(this.clock.now());
    const port = this.nodes.get(name);
    if (this.down) return Promise.reject(this.down);
    if (port === undefined) {
      return Promise.reject(
        new EpmdError("NOT_REGISTERED", `Cannot resolve '${name}@${host}': not registered`),
      );
    }
    return Promise.resolve({
      name,
      port,
      nodeType: 77,
      protocol: 0,
      highestVersion: 6,
      lowestVersion: 6,
      extra: new Uint8Array(),
    });
  }
}

function setup(options: Partial<LocalLinkOptions<FakeConnection>> = {}) {
  const clock = new ManualClock(T0);
  const dialer = new FakeDialer(clock);
  const epmd = new FakeEpmd(clock);
  const link = new LocalLink<FakeConnection>({
    node: LOCAL,
    cookie: new Cookie("local-link-test-cookie", "test"),
    clock,
    connect: dialer.connect,
    epmd,
    ...options,
  });
  return { clock, dialer, epmd, link };
}

const unreachable = () =>
  new HandshakeError("UNREACHABLE", LOCAL, `Cannot connect to '${LOCAL}': ECONNREFUSED`);

/** The rejection of `p`, failing the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("Expected a rejection");
}

/** Fires the clock's timers one by one until `p` settles (a wait on the clock ends). */
async function drive<T>(clock: ManualClock, p: Promise<T>): Promise<T> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await settle();
  while (!done && (await clock.next())) { /* the next timer fired */ }
  return p;
}

Deno.test("LocalLink.get() connects once, shares the attempt, and reuses the open link", async () => {
  const { dialer, link } = setup();
  assert.equal(link.up, false);
  assert.equal(link.generation, 0);
  const [a, b] = await Promise.all([link.get(), link.get()]);
  assert.equal(a, b);
  assert.equal(await link.get(), a);
  assert.equal(dialer.dials.length, 1);
  assert.deepEqual(dialer.dials[0].target, { alive: "app", host: "127.0.0.1", full: LOCAL });
  assert.equal(dialer.dials[0].options.timeoutMs, 2000);
  assert.equal(link.up, true);
  assert.equal(link.generation, 1);
  assert.equal(link.lastError, undefined);
  link.close();
});

Deno.test("LocalLink learns the local node's name from the handshake when given only its alive part", async () => {
  const { dialer, link } = setup({ node: undefined, alive: "app", host: "127.0.0.1" });
  assert.equal(link.name, undefined);
  dialer.answer = "app@myhost.example";
  await link.get();
  assert.deepEqual(dialer.dials[0].target, { alive: "app", host: "127.0.0.1" });
  assert.equal(link.name, "app@myhost.example");
  link.close();
});

Deno.test("LocalLink backs off 10 ms doubling to 50 ms while the node is down, then 1 s after 30 s", async () => {
  const { clock, dialer, link } = setup();
  dialer.answer = unreachable();
  const delays: number[] = [];
  const attempts: number[] = [];
  while (clock.now() < T0 + 32_000) {
    const err = await rejection(link.get());
    assert.equal(err, dialer.answer);
    attempts.push(clock.now());
    delays.push(link.nextAttemptAt - clock.now());
    assert.equal(link.refused, false);
    assert.equal(link.lastError, dialer.answer);
    if (attempts.length <= 12) {
      // While backing off, get() rejects with the last error and does not dial.
      await clock.advance(delays.at(-1)! - 1);
      assert.equal(await rejection(link.get()), dialer.answer);
      await clock.advance(1);
    } else {
      // Further on, attempts a second apart are enough to see the cap (the outage still counts).
      await clock.advance(Math.max(delays.at(-1)!, 1000));
    }
  }
  assert.equal(dialer.dials.length, attempts.length);
  assert.deepEqual(dialer.dials.map((d) => d.at), attempts);
  assert.deepEqual(delays.slice(0, 4), [10, 20, 40, 50]);
  const slow = attempts.findIndex((at) => at - T0 >= 30_000);
  assert.ok(slow > 4);
  assert.ok(delays.slice(4, slow).every((d) => d === 50), `50 ms until 30 s: ${delays.slice(4, slow)}`);
  assert.ok(delays.slice(slow).every((d) => d === 1000), `1 s after 30 s: ${delays.slice(slow)}`);
  assert.ok(delays.length - slow >= 2);

  // The node comes back: linked at the next attempt, and the schedule starts over.
  dialer.answer = LOCAL;
  await link.get();
  assert.equal(link.generation, 1);
  assert.equal(link.nextAttemptAt, 0);
  dialer.conns[0].drop(unreachable());
  dialer.answer = unreachable();
  await rejection(link.get());
  assert.equal(link.nextAttemptAt - clock.now(), 10);
  link.close();
});

for (const code of ["COOKIE_REJECTED", "BAD_DIGEST", "NAME_MISMATCH", "NOT_ALLOWED"] as const) {
  Deno.test(`LocalLink retries a node that refused it (${code}) after 5, 10, 20, then every 30 s`, async () => {
    const { clock, dialer, epmd, link } = setup();
    dialer.answer = new HandshakeError(code, LOCAL, `Cannot connect to '${LOCAL}': refused`);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      assert.equal(await rejection(link.get()), dialer.answer);
      assert.equal(link.refused, true);
      delays.push(link.nextAttemptAt - clock.now());
      // Asked again while backing off: no handshake (each is a line in the node's log).
      await clock.advance(delays.at(-1)! - 1);
      assert.equal(await rejection(link.get()), dialer.answer);
      await clock.advance(1);
    }
    assert.deepEqual(delays, [5000, 10000, 20000, 30000, 30000, 30000]);
    assert.equal(dialer.dials.length, 6);
    // The node stayed on its port: the restart check asked EPMD, and never sped an attempt up.
    assert.ok(epmd.portCalls.length >= 6);
    link.close();
  });
}

Deno.test("LocalLink retries a refusing node at once when EPMD shows it re-registered on another port", async () => {
  const { clock, dialer, epmd, link } = setup({ restartCheckMs: 1000 });
  dialer.answer = new HandshakeError("COOKIE_REJECTED", LOCAL, `Cannot connect to '${LOCAL}': refused`);
  await rejection(link.get());
  await settle();
  assert.deepEqual(epmd.portCalls, [T0]);
  // Asked within the check interval: EPMD is not asked again.
  await clock.advance(500);
  await rejection(link.get());
  await settle();
  assert.equal(epmd.portCalls.length, 1);
  // Same port a second later: no restart, still backing off.
  await clock.advance(500);
  await rejection(link.get());
  await settle();
  assert.equal(epmd.portCalls.length, 2);
  assert.equal(link.nextAttemptAt, T0 + 5000);
  // The node restarted (with the right cookie) on another port: the next get() dials at once.
  epmd.nodes.set("app", 40002);
  dialer.answer = LOCAL;
  await clock.advance(1000);
  await rejection(link.get());
  await settle();
  assert.equal(link.nextAttemptAt, 0);
  await link.get();
  assert.equal(dialer.dials.length, 2);
  assert.equal(dialer.dials[1].at, T0 + 2000);
  assert.equal(link.refused, false);
  assert.equal(link.generation, 1);
  link.close();
});

Deno.test("LocalLink retries a refusing node at once when it left EPMD (restarting)", async () => {
  const { clock, dialer, epmd, link } = setup();
  dialer.answer = new HandshakeError("NOT_ALLOWED", LOCAL, `Cannot connect to '${LOCAL}': not_allowed`);
  await rejection(link.get());
  await settle();
  epmd.nodes.delete("app");
  await clock.advance(1000);
  await rejection(link.get());
  await settle();
  assert.equal(link.nextAttemptAt, 0);
  assert.equal(link.refused, true);
  link.close();
});

Deno.test("LocalLink counts a generation per link; the connection's closed resolves when it drops", async () => {
  const { dialer, link } = setup();
  const first = await link.get();
  assert.equal(link.generation, 1);
  const lost = unreachable();
  first.drop(lost);
  assert.equal(await first.closed, lost);
  assert.equal(link.up, false);
  assert.equal(link.generation, 1);
  // Dropped after a good link: the next get() dials at once.
  const second = await link.get();
  assert.notEqual(second, first);
  assert.equal(link.generation, 2);
  assert.equal(dialer.dials.length, 2);
  link.close();
  assert.equal(second.open, false);
  assert.ok((await second.closed) instanceof Error);
});

Deno.test("LocalLink resolves a glob basename with the local EPMD, skipping helper nodes", async () => {
  const { dialer, epmd, link } = setup({ node: undefined, alive: "app*", host: "127.0.0.1" });
  epmd.nodes = new Map([["app2", 40002], ["remsh1234-app2", 40100], ["erlmesh-9-1", 40101], ["db", 40200]]);
  dialer.answer = "app2@127.0.0.1";
  await link.get();
  assert.equal(epmd.namesCalls, 1);
  assert.deepEqual(dialer.dials[0].target, { alive: "app2", host: "127.0.0.1" });
  assert.equal(link.name, "app2@127.0.0.1");
  link.close();
});

Deno.test("LocalLink refuses a glob basename that several local nodes match (LOCAL_NODE_AMBIGUOUS)", async () => {
  const { clock, dialer, epmd, link } = setup({ node: undefined, alive: "app*" });
  epmd.nodes = new Map([["app1", 40001], ["app2", 40002]]);
  const err = await rejection(link.get());
  assert.ok(err instanceof ClusterError);
  assert.equal(err.code, "LOCAL_NODE_AMBIGUOUS");
  assert.match(err.message, /2 nodes .* match 'app\*' \('app1', 'app2'\).*--node/);
  assert.equal(dialer.dials.length, 0);
  // A configuration error: retried on the refused schedule, and waitUp() gives up at once.
  assert.equal(link.refused, true);
  assert.equal(link.nextAttemptAt - clock.now(), 5000);
  assert.equal(await rejection(link.waitUp(60_000)), err);
  link.close();
});

Deno.test("LocalLink says what the local EPMD knows when no node matches a glob, and when EPMD fails", async () => {
  const { epmd, link } = setup({ node: undefined, alive: "app*" });
  epmd.nodes = new Map([["db", 40200]]);
  const none = await rejection(link.get());
  assert.ok(none instanceof HandshakeError);
  assert.equal(none.code, "NOT_REGISTERED");
  assert.equal(none.message, "Cannot find the local node matching 'app*': EPMD on 127.0.0.1 knows only 'db'");
  assert.equal(link.refused, false);
  link.close();

  const b = setup({ node: undefined, alive: "app*" });
  b.epmd.down = new EpmdError("TIMEOUT", "Cannot list the nodes of EPMD on 127.0.0.1: no answer in time");
  const timeout = await rejection(b.link.get());
  assert.ok(timeout instanceof HandshakeError);
  assert.equal(timeout.code, "TIMEOUT");
  assert.equal(timeout.cause, b.epmd.down);
  b.link.close();
});

Deno.test("LocalLink.waitUp() rejects at once when the node refuses", async () => {
  const { clock, dialer, link } = setup();
  dialer.answer = new HandshakeError("BAD_DIGEST", LOCAL, `Cannot connect to '${LOCAL}': digest`);
  assert.equal(await rejection(link.waitUp(60_000)), dialer.answer);
  assert.equal(clock.now(), T0);
  assert.equal(dialer.dials.length, 1);
  assert.equal(clock.pending, 0);
  link.close();
});

Deno.test("LocalLink.waitUp() retries on the link's backoff until the node is up", async () => {
  const { clock, dialer, link } = setup();
  dialer.answer = unreachable();
  const up = link.waitUp(60_000);
  await settle();
  await clock.advance(10 + 20 + 40 - 1);
  assert.equal(dialer.dials.length, 3);
  dialer.answer = LOCAL;
  const conn = await drive(clock, up);
  assert.equal(conn, dialer.conns[0]);
  assert.deepEqual(dialer.dials.map((d) => d.at - T0), [0, 10, 30, 70]);
  assert.equal(clock.pending, 0);
  link.close();
});

Deno.test("LocalLink.waitUp() rejects with the last connect error at its deadline", async () => {
  const { clock, dialer, link } = setup();
  dialer.answer = unreachable();
  const err = await drive(clock, rejection(link.waitUp(1000)));
  assert.equal(err, dialer.answer);
  assert.equal(clock.now(), T0 + 1000);
  assert.equal(dialer.dials.at(-1)!.at < T0 + 1000, true);
  assert.equal(clock.pending, 0);
  link.close();
});

Deno.test("LocalLink.waitUp() does not wait past its deadline for an attempt still running", async () => {
  const { clock, dialer, link } = setup();
  dialer.answer = "hang";
  const err = await drive(clock, rejection(link.waitUp(300)));
  assert.ok(err instanceof ClusterError);
  assert.equal(err.code, "LOCAL_NODE_DOWN");
  assert.equal(err.message, `Cannot connect to the local node '${LOCAL}': no link within 300 ms`);
  assert.equal(clock.now(), T0 + 300);
  assert.equal(clock.pending, 0);
  // The attempt itself runs on to its own deadline; close() ends it.
  assert.equal(dialer.dials[0].options.signal?.aborted, false);
  link.close();
  assert.equal(dialer.dials[0].options.signal?.aborted, true);
});

Deno.test("LocalLink.waitUp() stops when its signal aborts", async () => {
  const { dialer, link } = setup();
  dialer.answer = "hang";
  const ctl = new AbortController();
  const up = rejection(link.waitUp(60_000, ctl.signal));
  await settle();
  ctl.abort(new Error("Test aborted"));
  assert.equal(((await up) as Error).message, "Test aborted");
  link.close();
});

Deno.test("LocalLink.close() stops the attempt, the waits and the restart check", async () => {
  const { clock, dialer, epmd, link } = setup();
  dialer.answer = "hang";
  const up = rejection(link.waitUp(60_000));
  await settle();
  link.close();
  const err = await up;
  assert.ok(err instanceof ClusterError);
  assert.equal(err.code, "STOPPED");
  assert.equal(dialer.dials[0].options.signal?.aborted, true);
  assert.equal(clock.pending, 0);
  // Closed for good: nothing dials, nothing waits, EPMD is not asked.
  assert.equal(((await rejection(link.get())) as ClusterError).code, "STOPPED");
  assert.equal(((await rejection(link.waitUp(1000))) as ClusterError).code, "STOPPED");
  assert.equal(dialer.dials.length, 1);
  assert.equal(epmd.portCalls.length, 0);
  assert.equal(clock.pending, 0);
  assert.equal(link.up, false);
});

Deno.test("LocalLink.close() during a handshake closes the link it brings", async () => {
  const { clock, dialer, link } = setup();
  let finish!: (c: FakeConnection) => void;
  const late = new FakeConnection(LOCAL);
  link.close();
  const b = setup({ clock, connect: () => new Promise<FakeConnection>((r) => (finish = r)) });
  const attempt = rejection(b.link.get());
  await settle();
  b.link.close();
  finish(late);
  assert.equal(((await attempt) as ClusterError).code, "STOPPED");
  assert.equal(late.open, false);
  assert.equal(b.link.up, false);
  assert.equal(b.link.generation, 0);
  assert.equal(dialer.dials.length, 0);
});

Deno.test("LocalLink.close() on the real clock leaves no timer behind (sanitizers)", async () => {
  const dialer = new FakeDialer(new ManualClock(T0));
  dialer.answer = "hang";
  const link = new LocalLink<FakeConnection>({
    node: LOCAL,
    cookie: new Cookie("local-link-test-cookie", "test"),
    connect: dialer.connect,
    epmd: new FakeEpmd(new ManualClock(T0)),
  });
  const up = rejection(link.waitUp(60_000));
  await new Promise((r) => setTimeout(r, 0));
  link.close();
  assert.equal(((await up) as ClusterError).code, "STOPPED");
});

Deno.test("LocalLink asks EPMD which nodes it knows only on the first failed attempt of an outage", async () => {
  const { clock, dialer, link } = setup();
  dialer.answer = new HandshakeError("NOT_REGISTERED", LOCAL, `Cannot connect to '${LOCAL}': not registered`);
  for (let i = 0; i < 4; i++) {
    await rejection(link.get());
    await clock.advance(link.nextAttemptAt - clock.now());
  }
  // Each attempt while the node boots would otherwise be two EPMD connections.
  assert.deepEqual(dialer.dials.map((d) => d.options.describeMissing), [true, false, false, false]);
  dialer.answer = LOCAL;
  const conn = await link.get();
  conn.drop(new Error("connection lost"));
  await settle();
  dialer.answer = unreachable();
  await rejection(link.get());
  assert.equal(dialer.dials.at(-1)!.options.describeMissing, true, "a new outage describes again");
  link.close();
});

Deno.test("epmdDown: true while nothing listens on the local EPMD port, false for any other failure", async () => {
  const epmdRefused = new EpmdError("REFUSED", "nothing listens on 127.0.0.1:4369 (connection refused)", {
    host: "127.0.0.1",
    port: 4369,
  });
  let failure: Error = new HandshakeError("UNREACHABLE", LOCAL, "Cannot connect: EPMD refused", {
    cause: epmdRefused,
  });
  const connect: LocalConnect<FakeConnection> = () => Promise.reject(failure);
  const link = new LocalLink<FakeConnection>({
    node: LOCAL,
    cookie: new Cookie("c", "test"),
    connect,
    minBackoffMs: 0,
  });
  assert.equal(link.epmdDown, false, "no attempt yet");
  await assert.rejects(link.get());
  assert.equal(link.epmdDown, true);
  failure = new HandshakeError("NOT_REGISTERED", LOCAL, "EPMD on 127.0.0.1 has no node named 'app'");
  link.close();
  const again = new LocalLink<FakeConnection>({ node: LOCAL, cookie: new Cookie("c", "test"), connect });
  await assert.rejects(again.get());
  assert.equal(again.epmdDown, false, "EPMD answers: the node is starting");
  again.close();
});
