// Fuzzing of what the 'kubernetes' source reads from the API server: EndpointSlice lists and watch
// events. The JSON is parsed by JSON.parse (Response.json() for lists, one line per event for
// watches) and read, without a separate validation step, by hostsOfSlices() and the source's event
// handling; so hostsOfSlices() is fuzzed alone on hostile JSON (mutations of a real slice, and JSON
// values in every field), and the whole source against a loopback API that answers hostile lists and
// watch streams. Only a valid answer or a DiscoveryError, never another exception, never a hang.
import assert from "node:assert/strict";
import fc from "fast-check";
import { EndpointSlice } from "kubernetes-models/discovery.k8s.io/v1";
import { fuzz, mutated } from "../bytes/_fuzz.ts";
import { DiscoveryError } from "./errors.ts";
import type { Discovery } from "./source.ts";
import {
  type EndpointSliceObject,
  hostsOfSlices,
  kubernetesSource,
  SERVICE_NAME_LABEL,
} from "./kubernetes.ts";

const SVC = { service: "app", namespace: "ns" };

/** A slice as the EndpointSlice controller writes it (checked against the Kubernetes schema). */
function slice(name: string, family: "IPv4" | "IPv6", endpoints: [string, string?, boolean?][]) {
  const object = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name,
      namespace: "ns",
      resourceVersion: "101",
      labels: {
        [SERVICE_NAME_LABEL]: "app",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
      },
    },
    addressType: family,
    endpoints: endpoints.map(([ip, hostname, ready = true]) => ({
      addresses: [ip],
      conditions: { ready, serving: ready, terminating: false },
      ...(hostname ? { hostname } : {}),
      targetRef: { kind: "Pod", name: hostname ?? `pod-${ip}`, namespace: "ns" },
    })),
    ports: [{ name: "epmd", port: 4369, protocol: "TCP" }],
  };
  new EndpointSlice(object as ConstructorParameters<typeof EndpointSlice>[0]).validate();
  return object;
}
const slices = [
  slice("app-ipv4-0", "IPv4", [["10.0.0.1", "app-0"], ["10.0.0.2", "app-1", false], ["10.0.0.3"]]),
  slice("app-ipv6-0", "IPv6", [["fd00::1", "app-0"], ["fd00::7"]]),
];
const list = {
  kind: "EndpointSliceList",
  apiVersion: "discovery.k8s.io/v1",
  metadata: { resourceVersion: "101" },
  items: slices,
};
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Hostile JSON values in every place of a slice, or a mutation of the real one's text. */
const hostileSlice = fc.oneof(
  mutated([enc.encode(JSON.stringify(slices[0])), enc.encode(JSON.stringify(slices[1]))]).map((b) => {
    try {
      return JSON.parse(dec.decode(b)) as unknown;
    } catch {
      return undefined; // not JSON: the API client fails on it before any slice is read
    }
  }),
  fc.record({
    addressType: fc.oneof(fc.constantFrom("IPv4", "IPv6", "FQDN"), fc.jsonValue()),
    endpoints: fc.oneof(
      fc.array(
        fc.oneof(
          fc.record({
            addresses: fc.oneof(
              fc.array(fc.oneof(fc.constantFrom("10.0.0.9", "fd00::9", "::", ""), fc.jsonValue())),
              fc.jsonValue(),
            ),
            hostname: fc.oneof(fc.constantFrom("app-9", "APP-9", "a".repeat(70), "a..b", ""), fc.jsonValue()),
            conditions: fc.oneof(
              fc.record({ ready: fc.jsonValue(), serving: fc.jsonValue(), terminating: fc.jsonValue() }, {
                requiredKeys: [],
              }),
              fc.jsonValue(),
            ),
          }, { requiredKeys: [] }),
          fc.jsonValue(),
        ),
        { maxLength: 4 },
      ),
      fc.jsonValue(),
    ),
    metadata: fc.oneof(
      fc.record({ name: fc.jsonValue(), resourceVersion: fc.jsonValue() }, { requiredKeys: [] }),
      fc.jsonValue(),
    ),
  }, { requiredKeys: [] }),
  fc.jsonValue(),
);

Deno.test("hostsOfSlices() on hostile EndpointSlice JSON returns valid hosts, never throws", async () => {
  const input = fc.tuple(
    fc.array(hostileSlice, { maxLength: 3 }),
    fc.constantFrom<"auto" | "fqdn" | "ip">("auto", "fqdn", "ip"),
    fc.constantFrom<"IPv4" | "IPv6">("IPv4", "IPv6"),
  );
  await fuzz("kubernetes: hostsOfSlices on hostile JSON", input, ([items, hostForm, addressType]) => {
    const hosts = hostsOfSlices(items.filter((x) => x !== undefined) as EndpointSliceObject[], {
      ...SVC,
      hostForm,
      addressType,
    });
    for (const h of hosts) {
      assert.ok(
        typeof h.host === "string" && h.host.length > 0 && h.host.length <= 253,
        `bad host ${h.host}`,
      );
      assert.ok(!/\s/.test(h.host), `bad host '${h.host}'`);
    }
    return hosts.length > 0 ? "ok (hosts)" : "ok (none)";
  }, { runs: 5000 });
});

// -- the whole source against a loopback API ------------------------------------------------------

/** A plain-HTTP API on loopback answering lists with `listBody` and the first watch with `watchBody`. */
function fakeApi() {
  const state = {
    listBody: JSON.stringify(list),
    listStatus: 200,
    watchBody: "",
    watchStatus: 200,
    watches: 0,
    secondWatch: undefined as (() => void) | undefined,
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    if (url.searchParams.get("watch") !== "1") {
      return new Response(state.listBody, {
        status: state.listStatus,
        headers: { "content-type": "application/json" },
      });
    }
    if (++state.watches === 1) return new Response(state.watchBody, { status: state.watchStatus });
    // Every later watch: the events before were handled; stay open until the source lets go.
    state.secondWatch?.();
    return new Response(
      new ReadableStream({
        start: (c) => req.signal.addEventListener("abort", () => c.close(), { once: true }),
      }),
    );
  });
  return { state, server, url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}` };
}

async function accountDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "erlmesh-fuzz-sa-" });
  await Deno.writeTextFile(`${dir}/token`, "fuzz-token");
  await Deno.writeTextFile(`${dir}/ca.crt`, "unused over plain HTTP");
  return dir;
}

/** Settles `p` or fails after 10 s: a hang. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} hung`)), 10000))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const JS_TYPE_ERROR = /Cannot read properties of|is not iterable|is not a function|is not an object/;

function outcome(d: { hosts: { host: string }[]; error?: Error }): string {
  if (d.error !== undefined) {
    assert.ok(d.error instanceof DiscoveryError, `not a DiscoveryError: ${d.error}`);
    assert.ok(/^[A-Z]/.test(d.error.message) && !d.error.message.endsWith("."), d.error.message);
    // A JavaScript TypeError inside is a failure of the source's reading, not a reason the API gave.
    assert.ok(!JS_TYPE_ERROR.test(d.error.message), d.error.message);
    assert.ok(!/:\s*$/.test(d.error.message), `no reason after the colon: '${d.error.message}'`);
    return `DiscoveryError ${d.error.code}`;
  }
  for (const h of d.hosts) assert.ok(typeof h.host === "string" && h.host.length > 0);
  return "ok";
}

/** List bodies: the real list's text mutated, or the real list with hostile slices in it. */
const listBody = fc.oneof(
  mutated([enc.encode(JSON.stringify(list))]).map((b) => dec.decode(b)),
  fc.array(hostileSlice, { maxLength: 3 }).map((items) => JSON.stringify({ ...list, items })),
  fc.jsonValue().map((v) => JSON.stringify(v)),
);

// A one-shot source (no subscriber) keeps its HTTP client for the next discover(): one source serves
// every input and the client outlives the test's resource check.
Deno.test({
  name: "kubernetesSource().discover() on hostile EndpointSlice lists answers or gives a DiscoveryError",
  sanitizeResources: false,
  fn: async () => {
    const api = fakeApi();
    const dir = await accountDir();
    try {
      const source = kubernetesSource({
        ...SVC,
        apiUrl: api.url,
        serviceAccountDir: dir,
        requestTimeoutMs: 5000,
      });
      // Mostly 200; the statuses the source reads a Status body for too (401, 403, 410, 500).
      const status = fc.oneof(
        { weight: 6, arbitrary: fc.constant(200) },
        { weight: 1, arbitrary: fc.constantFrom(401, 403, 410, 500) },
      );
      await fuzz("kubernetes: source on hostile lists", fc.tuple(status, listBody), async ([code, body]) => {
        api.state.listStatus = code;
        api.state.listBody = body;
        return outcome(await within(source.discover(), "discover()"));
      }, { runs: 1000, async: true, longDivisor: 10 });
    } finally {
      await api.server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Watch streams: lines of real events mutated, hostile objects, ERROR events, junk, in any order. */
const event = fc.oneof(
  fc.tuple(fc.constantFrom("ADDED", "MODIFIED", "DELETED", "BOOKMARK"), fc.constantFrom(...slices)).map((
    [type, object],
  ) =>
    JSON.stringify({ type, object: { ...object, metadata: { ...object.metadata, resourceVersion: "102" } } })
  ),
  fc.tuple(fc.constantFrom("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR", "X"), hostileSlice).map((
    [type, object],
  ) => JSON.stringify({ type, object })),
  fc.constantFrom(
    JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } }),
    JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 500, message: "etcd" } }),
    "null",
    "[]",
    "{",
    "",
  ),
  fc.jsonValue().map((v) => JSON.stringify(v)),
);
const watchBody = fc.oneof(
  fc.array(event, { maxLength: 4 }).map((lines) => lines.join("\n") + "\n"),
  mutated([enc.encode(JSON.stringify({ type: "MODIFIED", object: slices[0] }) + "\n")]).map((b) =>
    dec.decode(b)
  ),
);

Deno.test("kubernetesSource() watching hostile event streams answers or gives a DiscoveryError", async () => {
  const api = fakeApi();
  const dir = await accountDir();
  try {
    // Mostly 200; 410 Gone (a fresh list follows), 401, 403 and 500 with the same bodies.
    const status = fc.oneof(
      { weight: 6, arbitrary: fc.constant(200) },
      { weight: 1, arbitrary: fc.constantFrom(401, 403, 410, 500) },
    );
    await fuzz(
      "kubernetes: source on hostile watch streams",
      fc.tuple(status, watchBody),
      async ([code, body]) => {
        api.state.watchStatus = code;
        api.state.watchBody = body;
        api.state.watches = 0;
        const handled = new Promise<void>((resolve) => (api.state.secondWatch = resolve));
        const source = kubernetesSource({
          ...SVC,
          apiUrl: api.url,
          serviceAccountDir: dir,
          backoffMs: 1,
          maxBackoffMs: 1,
        });
        // Each change (new hosts, an error, a recovery) is answered as discover() sees it at that moment.
        const seen: Promise<Discovery>[] = [];
        const stop = source.subscribe!(() => seen.push(source.discover()));
        try {
          await within(handled, "the watch");
          seen.push(source.discover());
          const outcomes = (await within(Promise.all(seen), "discover()")).map(outcome);
          return outcomes.find((o) => o !== "ok") ?? "ok";
        } finally {
          stop();
        }
      },
      { runs: 300, async: true, longDivisor: 100 },
    );
  } finally {
    await api.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

// Found by the fuzzers above: JSON the API never sends made hostsOfSlices() throw a TypeError, and the
// source fail a whole list for one bad item, or report JavaScript's own message as its error.
Deno.test("hostsOfSlices() skips slices and endpoints of the wrong JSON type and keeps the rest", () => {
  const hostile = [
    null,
    { addressType: "IPv4", endpoints: 5 },
    {
      addressType: "IPv4",
      endpoints: [null, 7, { addresses: [5] }, { addresses: ["10.0.0.8"], hostname: 9 }],
    },
    slices[0],
  ] as unknown as EndpointSliceObject[];
  assert.deepEqual(hostsOfSlices(hostile, SVC).map((h) => h.host), [
    "10.0.0.3",
    "10.0.0.8",
    "app-0.app.ns.svc.cluster.local",
  ]);
});

Deno.test({
  name:
    "kubernetesSource() reads a list with a null item, and names a list or watch event that is not an object",
  sanitizeResources: false, // the one-shot source keeps its HTTP client, as above
  fn: async () => {
    const api = fakeApi();
    const dir = await accountDir();
    try {
      const source = kubernetesSource({ ...SVC, apiUrl: api.url, serviceAccountDir: dir });
      api.state.listBody = JSON.stringify({ ...list, items: [null, slices[0]] });
      const ok = await source.discover();
      assert.equal(ok.error, undefined);
      assert.deepEqual(ok.hosts.map((h) => h.host), [
        "10.0.0.3",
        "app-0.app.ns.svc.cluster.local",
      ]);
      api.state.listBody = "null";
      const bad = await source.discover();
      assert.ok(bad.error instanceof DiscoveryError);
      assert.match(
        bad.error.message,
        /Cannot read the EndpointSlice list: the API server answered null, not a list object/,
      );

      api.state.listBody = JSON.stringify(list);
      api.state.watchStatus = 200;
      api.state.watchBody = "null\n";
      api.state.watches = 0;
      const handled = new Promise<void>((resolve) => (api.state.secondWatch = resolve));
      const watching = kubernetesSource({
        ...SVC,
        apiUrl: api.url,
        serviceAccountDir: dir,
        backoffMs: 1,
        maxBackoffMs: 1,
      });
      const errors: string[] = [];
      const stop = watching.subscribe!(() => {
        watching.discover().then((d) => d.error && errors.push(d.error.message));
      });
      try {
        await within(handled, "the watch");
        await watching.discover();
      } finally {
        stop();
      }
      assert.ok(
        errors.some((m) => /Cannot parse a watch event: it is null, not an object/.test(m)),
        errors.join("\n"),
      );
    } finally {
      await api.server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// Found by the list fuzzer with error statuses: a refusal whose body is JSON but not an object (`null`)
// was reported as JavaScript's "Cannot read properties of null" instead of the HTTP status.
Deno.test({
  name:
    "kubernetesSource() reports a 401, 403 or 500 whose body is not a Status object by its HTTP status, and a 410 with a reason",
  sanitizeResources: false, // the one-shot source keeps its HTTP client, as above
  fn: async () => {
    const api = fakeApi();
    const dir = await accountDir();
    try {
      const source = kubernetesSource({ ...SVC, apiUrl: api.url, serviceAccountDir: dir });
      for (
        const [code, body, expected] of [
          [401, "null", "UNAUTHORIZED"],
          [403, "[]", "FORBIDDEN"],
          [500, "7", "API"],
          [410, "{}", "API"], // a list's continue token expired: said so, not an empty reason
        ] as const
      ) {
        api.state.listStatus = code;
        api.state.listBody = body;
        const { error } = await source.discover();
        assert.ok(error instanceof DiscoveryError, String(error));
        assert.equal(error.code, expected, error.message);
        assert.ok(!JS_TYPE_ERROR.test(error.message), error.message);
        assert.ok(!/:\s*$/.test(error.message), `no reason after the colon: '${error.message}'`);
      }
    } finally {
      await api.server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// What the fuzzers' small inputs cannot show: the source's memory is bounded too. A list page or a
// watch event over 32 MiB (EndpointSlices hold at most 1000 endpoints: a few hundred KiB) is an error,
// read no further, instead of a body or a line without end held whole.
Deno.test({
  name: "kubernetesSource() refuses a list page or a watch event over 32 MiB",
  sanitizeResources: false, // the one-shot source keeps its HTTP client, as above
  fn: async () => {
    const api = fakeApi();
    const dir = await accountDir();
    const huge = "x".repeat(33 * 1024 * 1024);
    try {
      const source = kubernetesSource({ ...SVC, apiUrl: api.url, serviceAccountDir: dir });
      api.state.listBody = JSON.stringify({ ...list, padding: huge });
      const { error } = await source.discover();
      assert.ok(error instanceof DiscoveryError, String(error));
      assert.match(error.message, /Cannot read the EndpointSlice list: it is over 33554432 bytes/);

      api.state.listBody = JSON.stringify(list);
      api.state.watchStatus = 200;
      api.state.watchBody = `{"type":"MODIFIED","object":{"padding":"${huge}`; // no end of line
      api.state.watches = 0;
      const handled = new Promise<void>((resolve) => (api.state.secondWatch = resolve));
      const watching = kubernetesSource({
        ...SVC,
        apiUrl: api.url,
        serviceAccountDir: dir,
        backoffMs: 1,
        maxBackoffMs: 1,
      });
      const errors: string[] = [];
      const stop = watching.subscribe!(() => {
        watching.discover().then((d) => d.error && errors.push(d.error.message));
      });
      try {
        await within(handled, "the watch");
        await watching.discover();
      } finally {
        stop();
      }
      assert.ok(errors.some((m) => /a watch event is over 33554432 characters/.test(m)), errors.join("\n"));
    } finally {
      await api.server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
