import assert from "node:assert/strict";
import { DiscoveryError, FakeResolver, type Resolver } from "./mod.ts";
import { lookup } from "./resolver.ts";

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

Deno.test("lookup() maps Deno.errors.NotFound to NXDOMAIN_OR_NODATA with the query", async () => {
  const dns = new FakeResolver();
  const err = await rejection(lookup(dns, "nope.default.svc.cluster.local.", "SRV", { timeoutMs: 100 }));
  assert.ok(err instanceof DiscoveryError);
  assert.equal(err.code, "NXDOMAIN_OR_NODATA");
  assert.equal(err.query, "nope.default.svc.cluster.local. SRV");
  assert.ok(err.cause instanceof Deno.errors.NotFound);
});

Deno.test("lookup() gives TIMEOUT when the resolver does not answer within the deadline", async () => {
  const dns = new FakeResolver().set("app.default.svc.cluster.local.", "A", "hang");
  const t0 = performance.now();
  const err = await rejection(lookup(dns, "app.default.svc.cluster.local.", "A", { timeoutMs: 50 }));
  assert.ok(err instanceof DiscoveryError && err.code === "TIMEOUT", String(err));
  assert.ok(performance.now() - t0 < 1000);
});

Deno.test("lookup() gives TIMEOUT even when the resolver ignores the signal", async () => {
  let release = () => {};
  const deaf: Resolver = {
    srv: () => new Promise((resolve) => (release = () => resolve([]))),
    addresses: () => Promise.resolve([]),
  };
  const err = await rejection(lookup(deaf, "x.cluster.local.", "SRV", { timeoutMs: 30 }));
  assert.ok(err instanceof DiscoveryError && err.code === "TIMEOUT", String(err));
  release();
});

Deno.test("lookup() maps other resolver errors to DNS and passes the caller's abort through", async () => {
  const dns = new FakeResolver().set("a.cluster.local.", "A", new Deno.errors.ConnectionRefused("refused"));
  const err = await rejection(lookup(dns, "a.cluster.local.", "A", { timeoutMs: 100 }));
  assert.ok(err instanceof DiscoveryError && err.code === "DNS", String(err));
  assert.match(err.message, /^Cannot resolve 'a\.cluster\.local\.' A: refused$/);

  const reason = new Error("shutting down");
  const controller = new AbortController();
  dns.set("a.cluster.local.", "A", "hang");
  const p = lookup(dns, "a.cluster.local.", "A", { timeoutMs: 5000, signal: controller.signal });
  controller.abort(reason);
  assert.equal(await rejection(p), reason);
});
