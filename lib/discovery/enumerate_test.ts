import assert from "node:assert/strict";
import { EpmdError } from "../epmd/mod.ts";
import { type DiscoveredHost, DiscoveryError, isHelperName, type NamesFn, NodeEnumerator } from "./mod.ts";

const H0: DiscoveredHost = { host: "app-0.app.default.svc.cluster.local", via: "SRV" };
const H1: DiscoveredHost = { host: "app-1.app.default.svc.cluster.local", via: "SRV" };
const H2: DiscoveredHost = { host: "10.244.0.9", address: "10.244.0.9", via: "A" };

/** A fake NAMES client: a table from the asked host to its nodes (or an error), and the hosts asked. */
function fakeNames(table: Record<string, { name: string; port: number }[] | Error>) {
  const asked: string[] = [];
  const fn: NamesFn = (host) => {
    asked.push(host);
    const entry = table[host];
    if (entry === undefined) {
      return Promise.reject(
        new EpmdError("UNREACHABLE", `Cannot connect to EPMD at '${host}:4369': refused`, { host }),
      );
    }
    if (entry instanceof Error) return Promise.reject(entry);
    return Promise.resolve({ epmdPort: 4369, nodes: structuredClone(entry) });
  };
  return { fn, asked, table };
}

Deno.test("NodeEnumerator asks EPMD only about hosts it has not seen", async () => {
  const names = fakeNames({
    [H0.host]: [{ name: "app", port: 40001 }],
    [H1.host]: [{ name: "app", port: 40002 }],
  });
  const e = new NodeEnumerator({ useEpmd: true, names: names.fn });
  const first = await e.enumerate([H1, H0]);
  assert.deepEqual(first, {
    peers: [
      { node: `app@${H0.host}`, host: H0.host, port: 40001, via: "SRV" },
      { node: `app@${H1.host}`, host: H1.host, port: 40002, via: "SRV" },
    ],
    epmdQueries: 2,
    failures: [],
  });
  const second = await e.enumerate([H0, H1]);
  assert.deepEqual([second.peers, second.epmdQueries], [first.peers, 0]);
  assert.equal(names.asked.length, 2);
});

Deno.test("NodeEnumerator asks again after invalidate() and after a host left and came back", async () => {
  const names = fakeNames({
    [H0.host]: [{ name: "app", port: 40001 }],
    [H1.host]: [{ name: "app", port: 40002 }],
  });
  const e = new NodeEnumerator({ useEpmd: true, names: names.fn });
  await e.enumerate([H0, H1]);
  names.table[H0.host] = [{ name: "app", port: 40009 }]; // the node restarted on a new port
  e.invalidate(H0.host);
  const after = await e.enumerate([H0, H1]);
  assert.equal(after.epmdQueries, 1);
  assert.equal(after.peers.find((p) => p.host === H0.host)?.port, 40009);
  e.invalidate(`app@${H1.host}`); // a node name works too
  assert.equal((await e.enumerate([H0, H1])).epmdQueries, 1);
  await e.enumerate([H0]); // H1 left discovery: dropped from the cache
  assert.equal((await e.enumerate([H0, H1])).epmdQueries, 1);
  assert.deepEqual(names.asked, [H0.host, H1.host, H0.host, H1.host, H1.host]);
});

Deno.test("NodeEnumerator filters by basename and skips helper nodes", async () => {
  const names = fakeNames({
    [H0.host]: [
      { name: "app", port: 1 },
      { name: "worker", port: 2 },
      { name: "erlmesh-123-abcde", port: 3 },
      { name: "rem-1a2b-app", port: 4 },
      { name: "remsh123", port: 5 },
      { name: "maint_app", port: 6 },
      { name: "console", port: 7 },
      { name: "erl_call_1234_0", port: 8 },
    ],
  });
  const all = await new NodeEnumerator({ useEpmd: true, names: names.fn }).enumerate([H0]);
  assert.deepEqual(all.peers.map((p) => p.node), [`app@${H0.host}`, `worker@${H0.host}`]);
  const app = await new NodeEnumerator({ useEpmd: true, basename: "app", names: names.fn }).enumerate([H0]);
  assert.deepEqual(app.peers.map((p) => p.node), [`app@${H0.host}`]);
  assert.ok(isHelperName("erlmesh-1-x") && isHelperName("console2") && !isHelperName("app-console"));
});

Deno.test("NodeEnumerator reports failures per host, does not cache them and retries next call", async () => {
  const names = fakeNames({
    [H0.host]: [{ name: "app", port: 1 }],
    [H2.address!]: new EpmdError("TIMEOUT", "Cannot list names: the deadline passed"),
  });
  const e = new NodeEnumerator({ useEpmd: true, basename: "app", names: names.fn });
  const r = await e.enumerate([H0, H1, H2]);
  assert.deepEqual(r.peers.map((p) => p.node), [`app@${H0.host}`]);
  assert.equal(r.epmdQueries, 3);
  assert.deepEqual(r.failures.map((f) => f.host), ["10.244.0.9", H1.host]);
  for (const f of r.failures) {
    assert.ok(f.error instanceof DiscoveryError && f.error.code === "EPMD");
    assert.ok(f.error.cause instanceof EpmdError);
  }
  assert.ok(names.asked.includes("10.244.0.9"), "the address is asked when known");
  const again = await e.enumerate([H0, H1, H2]);
  assert.equal(again.epmdQueries, 2);
  assert.deepEqual(names.asked.slice(3).sort(), ["10.244.0.9", H1.host]);
});

Deno.test("NodeEnumerator keeps to its concurrency limit", async () => {
  let running = 0, peak = 0;
  const names: NamesFn = async () => {
    peak = Math.max(peak, ++running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return { nodes: [{ name: "app", port: 1 }] };
  };
  const hosts = Array.from({ length: 10 }, (_, i) => ({ host: `10.0.0.${i}`, via: "A" as const }));
  const r = await new NodeEnumerator({ useEpmd: true, concurrency: 3, names }).enumerate(hosts);
  assert.equal(r.peers.length, 10);
  assert.equal(peak, 3);
});

Deno.test("NodeEnumerator without EPMD names nodes basename@host and sends nothing", async () => {
  const names = fakeNames({});
  const e = new NodeEnumerator({ useEpmd: false, basename: "app", names: names.fn });
  const r = await e.enumerate([H1, H0, H0]);
  assert.deepEqual(r, {
    peers: [
      { node: `app@${H0.host}`, host: H0.host, via: "SRV" },
      { node: `app@${H1.host}`, host: H1.host, via: "SRV" },
    ],
    epmdQueries: 0,
    failures: [],
  });
  assert.equal(names.asked.length, 0);
});

Deno.test("NodeEnumerator needs a basename without EPMD", () => {
  assert.throws(
    () => new NodeEnumerator({ useEpmd: false }),
    (e) => e instanceof DiscoveryError && e.code === "CONFIG",
  );
  assert.throws(() => new NodeEnumerator({ useEpmd: true, basename: "a@b" }), DiscoveryError);
  assert.throws(() => new NodeEnumerator({ useEpmd: true, concurrency: 0 }), DiscoveryError);
});

Deno.test("NodeEnumerator does not cache an answer that arrives after invalidate()", async () => {
  let release = () => {};
  const names: NamesFn = () => new Promise((r) => (release = () => r({ nodes: [{ name: "app", port: 1 }] })));
  const e = new NodeEnumerator({ useEpmd: true, names });
  const p = e.enumerate([H0]);
  e.invalidate(H0.host);
  release();
  assert.equal((await p).peers.length, 0);
  const next = e.enumerate([H0]);
  release();
  assert.equal((await next).epmdQueries, 1);
});

Deno.test("NodeEnumerator matches a basename with '*' against any run of characters", async () => {
  const names = fakeNames({
    [H2.host]: [{ name: "shop1", port: 1 }, { name: "shop2", port: 2 }, { name: "cart", port: 3 }, {
      name: "sho.p",
      port: 4,
    }],
  });
  const e = new NodeEnumerator({ useEpmd: true, basename: "shop*", names: names.fn });
  assert.deepEqual((await e.enumerate([H2])).peers.map((p) => p.node), [
    "shop1@10.244.0.9",
    "shop2@10.244.0.9",
  ]);
  const all = new NodeEnumerator({ useEpmd: true, basename: "*", names: names.fn });
  assert.equal((await all.enumerate([H2])).peers.length, 4);
  assert.throws(() => new NodeEnumerator({ useEpmd: false, basename: "app*" }), DiscoveryError);
});
