/**
 * The `kubernetes` discovery source against the test API server (tests/_kubeapi.ts): HTTPS with a
 * per-run CA, bearer tokens, list and watch, bookmarks, 410 Gone, slices split above 100 endpoints,
 * 403, a cut watch and a rotated token.
 */
import assert from "node:assert/strict";
import {
  type DiscoverySource,
  FakeResolver,
  KubernetesForbiddenError,
  kubernetesSource,
  type KubernetesSourceOptions,
  srvSource,
} from "../lib/discovery/mod.ts";
import { type KubeApiControl, type PodEndpoint, startKubeApi } from "./_kubeapi.ts";
import { hasOpenssl } from "./_harness/tls.ts";
import { tempPrefix } from "./_harness/prefix.ts";
import { waitUntil } from "./_harness/wait.ts";
import { erlmesh } from "./_cli.ts";

const ignore = !hasOpenssl();
if (ignore) console.warn("SKIP kubernetes source tests: openssl is not installed");

const DOMAIN = "app.default.svc.cluster.local";

function sts(n: number, from = 0): PodEndpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `app-${from + i}`,
    hostname: `app-${from + i}`,
    ip: `10.244.${Math.floor((from + i) / 200)}.${10 + (from + i) % 200}`,
    ready: true,
  }));
}

/** A server, a service-account dir with its token and CA, and a source factory; all removed after. */
async function setUp(options: Parameters<typeof startKubeApi>[0] = {}) {
  const api = await startKubeApi(options);
  const dir = await Deno.makeTempDir({ prefix: tempPrefix("sa") });
  await Deno.copyFile(api.caFile, `${dir}/ca.crt`);
  await Deno.writeTextFile(`${dir}/token`, (options.tokens ?? ["token-1"])[0]);
  const unsubscribe: (() => void)[] = [];
  return {
    api,
    dir,
    source(extra: Partial<KubernetesSourceOptions> = {}): DiscoverySource {
      return kubernetesSource({
        service: "app",
        namespace: "default",
        apiUrl: api.url,
        serviceAccountDir: dir,
        requestTimeoutMs: 2000,
        backoffMs: 50,
        maxBackoffMs: 200,
        ...extra,
      });
    },
    watch(source: DiscoverySource): { changes: () => number } {
      let n = 0;
      unsubscribe.push(source.subscribe!(() => n++));
      return { changes: () => n };
    },
    async [Symbol.asyncDispose]() {
      for (const u of unsubscribe) u();
      await api.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function hostsOf(source: DiscoverySource): Promise<string[]> {
  return (await source.discover()).hosts.map((h) => h.host);
}

Deno.test({
  name: "kubernetes source: one list per discover() without a subscriber; StatefulSet hostnames as FQDNs",
  ignore,
  async fn() {
    await using t = await setUp();
    await t.api.setPods("app", sts(3));
    await t.api.setPods("other", sts(2, 10));
    const source = t.source();
    const found = await source.discover();
    assert.deepEqual(
      found.hosts,
      [0, 1, 2].map((i) => ({
        host: `app-${i}.${DOMAIN}`,
        address: `10.244.0.${10 + i}`,
        via: "EndpointSlice",
      })),
    );
    assert.deepEqual([found.stale, found.error, found.queries, found.recordTypes], [
      false,
      undefined,
      1,
      ["EndpointSlice"],
    ]);
    assert.deepEqual(await hostsOf(t.source({ hostForm: "ip" })), [
      "10.244.0.10",
      "10.244.0.11",
      "10.244.0.12",
    ]);
    assert.equal((await t.api.stats()).lists, 2);
    assert.equal((await t.api.stats()).watches, 0);
  },
});

Deno.test({
  name: "kubernetes source: 250 endpoints in 3 slices, listed in pages, are joined",
  ignore,
  async fn() {
    await using t = await setUp({ pageSize: 1 });
    await t.api.setPods("app", sts(250));
    const hosts = await hostsOf(t.source());
    assert.equal(hosts.length, 250);
    assert.equal(new Set(hosts).size, 250);
    assert.equal((await t.api.stats()).lists, 3, "one page per slice, followed by 'continue'");
  },
});

Deno.test({
  name:
    "kubernetes source: Deployment pods (no hostname) as IPs, dashed names with hostForm fqdn, one family",
  ignore,
  async fn() {
    await using t = await setUp();
    await t.api.setPods("app", [
      { name: "app-x1", ip: "10.244.0.7", ready: true },
      { name: "app-x1", ip: "fd00:10:244::7", ready: true },
    ]);
    assert.deepEqual(await hostsOf(t.source()), ["10.244.0.7"]);
    assert.deepEqual(await hostsOf(t.source({ addressType: "IPv6" })), ["fd00:10:244::7"]);
    assert.deepEqual(await hostsOf(t.source({ hostForm: "fqdn" })), [`10-244-0-7.${DOMAIN}`]);
  },
});

Deno.test({
  name: "kubernetes source: watching, a change is pushed at once and discover() sends no request",
  ignore,
  async fn() {
    await using t = await setUp({ bookmarkMs: 100 });
    await t.api.setPods("app", sts(2));
    const source = t.source();
    const w = t.watch(source);
    assert.equal((await hostsOf(source)).length, 2);
    await waitUntil(async () => (await t.api.stats()).open === 1, { what: "the watch open" });
    const before = w.changes();
    await t.api.setPods("app", sts(3));
    await waitUntil(() => w.changes() > before, { what: "a change pushed to the subscriber" });
    assert.deepEqual(await hostsOf(source), [0, 1, 2].map((i) => `app-${i}.${DOMAIN}`));
    // A pod being deleted turns terminating: it is gone from the answer at once.
    const pods = sts(3);
    pods[1] = { ...pods[1], terminating: true };
    await t.api.setPods("app", pods);
    await waitUntil(async () => (await hostsOf(source)).length === 2, {
      what: "the terminating pod dropped",
    });
    assert.deepEqual(await hostsOf(source), [`app-0.${DOMAIN}`, `app-2.${DOMAIN}`]);
    await waitUntil(async () => (await t.api.stats()).bookmarks >= 2, { what: "bookmarks" });
    for (let i = 0; i < 5; i++) await source.discover();
    const stats = await t.api.stats();
    assert.deepEqual(
      [stats.lists, stats.watches],
      [1, 1],
      "one list and one watch, whatever discover() does",
    );
    const answer = await source.discover();
    assert.deepEqual([answer.queries, answer.stale, answer.error], [0, false, undefined]);
  },
});

Deno.test({
  name: "kubernetes source: publishNotReadyAddresses lists pods that are not Ready, never terminating ones",
  ignore,
  async fn() {
    await using t = await setUp();
    const pods = sts(3);
    pods[1] = { ...pods[1], ready: false };
    pods[2] = { ...pods[2], terminating: true };
    await t.api.setPods("app", pods, { publishNotReadyAddresses: true });
    assert.deepEqual(await hostsOf(t.source()), [`app-0.${DOMAIN}`, `app-1.${DOMAIN}`]);
    await t.api.setPods("app", pods);
    assert.deepEqual(await hostsOf(t.source()), [`app-0.${DOMAIN}`]);
  },
});

Deno.test({
  name: "kubernetes source: a watch cut in the middle resumes from its resource version, missing nothing",
  ignore,
  async fn() {
    await using t = await setUp();
    await t.api.setPods("app", sts(2));
    const source = t.source();
    t.watch(source);
    await waitUntil(async () => (await t.api.stats()).open === 1, { what: "the watch open" });
    assert.equal(await t.api.cutWatches(), 1);
    await t.api.setPods("app", sts(4)); // while no watch is open
    await waitUntil(async () => (await hostsOf(source)).length === 4, { what: "the 4 pods after the cut" });
    const stats = await t.api.stats();
    assert.equal(stats.lists, 1, "resumed from the resource version, no fresh list");
    assert.ok(stats.watches >= 2);
    await waitUntil(async () => (await source.discover()).error === undefined, { what: "the error cleared" });
  },
});

Deno.test({
  name: "kubernetes source: a watch gone silent past its timeoutSeconds is dropped and started again",
  ignore,
  async fn() {
    await using t = await setUp({ bookmarkMs: 60_000 });
    await t.api.setPods("app", sts(2));
    const source = t.source({ watchTimeoutSeconds: 1, idleGraceMs: 300 });
    t.watch(source);
    await waitUntil(async () => (await t.api.stats()).open === 1, { what: "the watch open" });
    // The connection dies without a reset: the server neither sends nor ends it.
    assert.equal(await t.api.freezeWatches(), 1);
    await t.api.setPods("app", sts(3));
    await waitUntil(async () => (await hostsOf(source)).length === 3, {
      what: "the change seen through a new watch",
      timeoutMs: 10_000,
    });
    const stats = await t.api.stats();
    assert.deepEqual([stats.lists, stats.watches >= 2], [1, true], JSON.stringify(stats));
  },
});

Deno.test({
  name: "kubernetes source: a server that ends every watch at once is not asked in a loop (backoff)",
  ignore,
  async fn() {
    await using t = await setUp({ watchCapSeconds: 0 });
    await t.api.setPods("app", sts(2));
    const source = t.source({ backoffMs: 100, maxBackoffMs: 400 });
    t.watch(source);
    await waitUntil(async () => (await t.api.stats()).watches >= 3, { what: "a few watches" });
    const from = (await t.api.stats()).watches;
    await new Promise((r) => setTimeout(r, 2000)); // an observation window: requests must be spread out
    const during = (await t.api.stats()).watches - from;
    // At most one watch per 200 ms (half the 400 ms ceiling) once backed off; an unguarded loop sends hundreds.
    assert.ok(during <= 12, `${during} watches in 2 s`);
    assert.deepEqual(await hostsOf(source), [`app-0.${DOMAIN}`, `app-1.${DOMAIN}`]);
  },
});

for (const goneAs of ["event", "status"] as const) {
  Deno.test({
    name: `kubernetes source: 410 Gone (as ${
      goneAs === "event" ? "an ERROR event" : "HTTP 410"
    }) → a fresh list`,
    ignore,
    async fn() {
      await using t = await setUp({ goneAs });
      await t.api.setPods("app", sts(2));
      const source = t.source();
      t.watch(source);
      await waitUntil(async () => (await t.api.stats()).open === 1, { what: "the watch open" });
      await t.api.compact();
      await t.api.cutWatches();
      await t.api.setPods("app", sts(3));
      await waitUntil(async () => (await hostsOf(source)).length === 3, {
        what: "the 3 pods after the relist",
      });
      const stats = await t.api.stats();
      assert.ok(stats.gone >= 1, JSON.stringify(stats));
      assert.equal(stats.lists, 2, JSON.stringify(stats));
    },
  });
}

Deno.test({
  name: "kubernetes source: a rotated token is read from the file; a 401 keeps the last view until it is",
  ignore,
  async fn() {
    await using t = await setUp();
    await t.api.setPods("app", sts(2));
    const source = t.source();
    t.watch(source);
    await waitUntil(async () => (await t.api.stats()).open === 1, { what: "the watch open" });
    // The kubelet writes the new token before the old one stops working: no request fails.
    await Deno.writeTextFile(`${t.dir}/token`, "token-2");
    await t.api.setTokens(["token-1", "token-2"]);
    await t.api.setTokens(["token-2"]);
    await t.api.cutWatches();
    await t.api.setPods("app", sts(3));
    await waitUntil(async () => (await hostsOf(source)).length === 3, {
      what: "the watch back with token-2",
    });
    assert.equal((await t.api.stats()).unauthorized, 0);
    // A token the server no longer accepts: 401, the last view is kept, stale, until the file changes.
    await t.api.setTokens(["token-3"]);
    await t.api.cutWatches();
    const stale = await waitUntil(async () => {
      const d = await source.discover();
      return d.error?.code === "UNAUTHORIZED" && d;
    }, { what: "a 401" });
    assert.deepEqual([stale.stale, stale.hosts.length], [true, 3]);
    assert.ok(!stale.error!.message.includes("token-"), "no token in errors");
    await Deno.writeTextFile(`${t.dir}/token`, "token-3");
    await waitUntil(async () => (await source.discover()).error === undefined, {
      what: "recovery with token-3",
    });
  },
});

Deno.test({
  name:
    "kubernetes source: 403 names the missing permission; with a DNS fallback, DNS answers until it is granted",
  ignore,
  async fn() {
    await using t = await setUp();
    await t.api.setPods("app", sts(2));
    await t.api.setForbidden(true);
    const refused = await t.source().discover();
    assert.ok(refused.error instanceof KubernetesForbiddenError, String(refused.error));
    assert.equal(refused.error.code, "FORBIDDEN");
    assert.deepEqual(refused.error.permission, {
      verb: "list",
      resource: "endpointslices",
      group: "discovery.k8s.io",
      namespace: "default",
    });
    assert.match(
      refused.error.message,
      /^Cannot list endpointslices\.discovery\.k8s\.io in namespace 'default'/,
    );
    assert.match(refused.error.message, /verbs 'list' and 'watch'/);
    assert.deepEqual(refused.hosts, []);

    const srv = `_epmd._tcp.${DOMAIN}.`;
    const dns = new FakeResolver().set(srv, "SRV", FakeResolver.srvRecords([`app-9.${DOMAIN}.`]));
    const source = t.source({ fallback: srvSource({ name: srv, resolver: dns }) });
    const w = t.watch(source);
    const viaDns = await waitUntil(async () => {
      const d = await source.discover();
      return d.error?.code === "FORBIDDEN" && d;
    }, { what: "the fallback answer" });
    assert.deepEqual(viaDns.hosts.map((h) => [h.host, h.via]), [[`app-9.${DOMAIN}`, "SRV"]]);
    assert.ok(dns.queries.length >= 1);
    const before = w.changes();
    await t.api.setForbidden(false);
    await waitUntil(() => w.changes() > before, { what: "a change pushed when the API answers again" });
    await waitUntil(async () => (await hostsOf(source)).length === 2, { what: "the API's answer again" });
    assert.equal((await source.discover()).error, undefined);
  },
});

Deno.test({
  name: "kubernetes source: every request has a deadline (a server that accepts and never answers)",
  ignore,
  async fn() {
    await using t = await setUp();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of listener) held.push(c);
    })();
    try {
      const source = t.source({ apiUrl: `https://127.0.0.1:${listener.addr.port}`, requestTimeoutMs: 300 });
      const d = await source.discover();
      assert.equal(d.error?.code, "TIMEOUT", d.error?.message);
      assert.match(d.error!.message, /no answer within 300 ms/);
      // Watching: the first discover() waits for the first list no longer than a request's deadline.
      const watched = t.source({ apiUrl: `https://127.0.0.1:${listener.addr.port}`, requestTimeoutMs: 300 });
      t.watch(watched);
      const first = await watched.discover();
      assert.deepEqual([first.error?.code, first.hosts, first.stale], ["TIMEOUT", [], false]);
    } finally {
      listener.close();
      await accepting.catch(() => {});
      for (const c of held) c.close();
    }
  },
});

Deno.test({
  name: "kubernetes source: an untrusted server certificate is an error, never a silent success",
  ignore,
  async fn() {
    await using t = await setUp();
    await using other = await startKubeApi();
    await other.setPods("app", sts(1));
    const d = await t.source({ apiUrl: other.url }).discover();
    assert.equal(d.error?.code, "API", d.error?.message);
    assert.deepEqual(d.hosts, []);
  },
});

/** Keeps the type import used when every test is ignored. */
export type { KubeApiControl };

/** A minimal EPMD on 127.0.0.1 and 127.0.0.2 (one port) answering NAMES with one node 'app'. */
function namesOnlyEpmd(): AsyncDisposable & { port: number } {
  const first = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const second = Deno.listen({ hostname: "127.0.0.2", port: first.addr.port });
  const serve = async (l: Deno.Listener) => {
    for await (const conn of l) {
      (async () => {
        try {
          await conn.read(new Uint8Array(16)); // the NAMES request
          const reply = new Uint8Array([
            0,
            0,
            0x11,
            0x11,
            ...new TextEncoder().encode("name app at port 9100\n"),
          ]);
          await conn.write(reply);
        } finally {
          conn.close();
        }
      })().catch(() => {});
    }
  };
  const loops = [serve(first).catch(() => {}), serve(second).catch(() => {})];
  return {
    port: first.addr.port,
    async [Symbol.asyncDispose]() {
      first.close();
      second.close();
      await Promise.all(loops);
    },
  };
}

Deno.test({
  name:
    "erlmesh discover --discovery kubernetes, as a process: the in-cluster variables, a 403, no API server",
  ignore,
  async fn() {
    await using t = await setUp();
    await using epmd = namesOnlyEpmd();
    await t.api.setPods("app", [
      { name: "app-a", ip: "127.0.0.1", ready: true },
      { name: "app-b", ip: "127.0.0.2", ready: true },
      { name: "app-c", ip: "127.0.0.3", ready: true, terminating: true },
    ]);
    const api = new URL(t.api.url);
    const env = {
      KUBERNETES_SERVICE_HOST: api.hostname,
      KUBERNETES_SERVICE_PORT: api.port,
      POD_NAMESPACE: "default",
    };
    const args = [
      "discover",
      "-o",
      "json",
      "--discovery",
      "kubernetes",
      "--service",
      "app",
      "--basename",
      "app",
      "--service-account-dir",
      t.dir,
      "--epmd-port",
      String(epmd.port),
    ];
    const ok = await erlmesh(args, env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const json = JSON.parse(ok.stdout);
    assert.equal(
      json.source,
      `Kubernetes EndpointSlices of Service 'app' in namespace 'default' at ${t.api.url}`,
    );
    assert.deepEqual(json.hosts.map((h: { host: string }) => h.host), ["127.0.0.1", "127.0.0.2"]);
    assert.deepEqual(json.nodes.map((n: { node: string }) => n.node), ["app@127.0.0.1", "app@127.0.0.2"]);
    assert.deepEqual([json.recordTypes, json.error], [["EndpointSlice"], null]);

    await t.api.setForbidden(true);
    const refused = await erlmesh(args, env);
    assert.equal(refused.code, 1);
    const err = JSON.parse(refused.stdout).error;
    assert.equal(err.code, "FORBIDDEN");
    assert.match(err.message, /^Cannot list endpointslices\.discovery\.k8s\.io in namespace 'default'/);

    const noApi = await erlmesh(args, { POD_NAMESPACE: "default" });
    assert.equal(noApi.code, 2, noApi.stdout + noApi.stderr);
    assert.match(noApi.stdout + noApi.stderr, /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT/);
  },
});
