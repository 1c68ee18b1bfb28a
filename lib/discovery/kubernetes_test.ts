import assert from "node:assert/strict";
import { endpointCounts, type EndpointSliceObject, hostsOfSlices, kubernetesSource } from "./mod.ts";
import { DiscoveryError } from "./errors.ts";

const SVC = { service: "app", namespace: "ns", clusterDomain: "cluster.local" };

Deno.test("endpointCounts() follows the documented conditions: terminating never, ready unless false", () => {
  // nil conditions: ready is taken as true, terminating as false.
  assert.equal(endpointCounts(undefined), true);
  assert.equal(endpointCounts({}), true);
  assert.equal(endpointCounts({ ready: null, serving: null, terminating: null }), true);
  // Without publishNotReadyAddresses: ready = serving && !terminating.
  assert.equal(endpointCounts({ ready: true, serving: true, terminating: false }), true);
  assert.equal(endpointCounts({ ready: false, serving: false, terminating: false }), false);
  assert.equal(endpointCounts({ ready: false, serving: true, terminating: true }), false);
  // With publishNotReadyAddresses ready is true for every pod: a not-Ready pod counts, a terminating one never.
  assert.equal(endpointCounts({ ready: true, serving: false, terminating: false }), true);
  assert.equal(endpointCounts({ ready: true, serving: true, terminating: true }), false);
  assert.equal(endpointCounts({ ready: true, serving: false, terminating: true }), false);
});

Deno.test("hostsOfSlices() joins slices of both families, names hostnames once, skips FQDN slices", () => {
  const slices: EndpointSliceObject[] = [
    {
      addressType: "IPv4",
      endpoints: [
        { addresses: ["10.0.0.2"], hostname: "app-1", conditions: { ready: true } },
        { addresses: ["10.0.0.1"], hostname: "APP-0" },
        { addresses: ["10.0.0.9"], hostname: "app-9", conditions: { terminating: true, ready: true } },
        { addresses: ["not an ip"], hostname: "app-8" },
      ],
    },
    {
      addressType: "IPv6",
      endpoints: [{ addresses: ["fd00::1"], hostname: "app-0" }, { addresses: ["fd00::3"] }],
    },
    { addressType: "FQDN", endpoints: [{ addresses: ["db.example.com"] }] },
    { addressType: "IPv4", endpoints: null },
    { addressType: "IPv4", endpoints: [{ addresses: ["10.0.0.3"] }] },
  ];
  assert.deepEqual(hostsOfSlices(slices, SVC), [
    { host: "10.0.0.3", address: "10.0.0.3", via: "EndpointSlice" },
    { host: "app-0.app.ns.svc.cluster.local", address: "10.0.0.1", via: "EndpointSlice" },
    { host: "app-1.app.ns.svc.cluster.local", address: "10.0.0.2", via: "EndpointSlice" },
  ]);
  assert.deepEqual(hostsOfSlices(slices, { ...SVC, addressType: "IPv6" }).map((h) => h.host), [
    "app-0.app.ns.svc.cluster.local",
    "app-1.app.ns.svc.cluster.local",
    "fd00::3",
  ]);
  assert.deepEqual(hostsOfSlices(slices, { ...SVC, hostForm: "ip" }).map((h) => h.host), [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
  ]);
  assert.deepEqual(hostsOfSlices(slices, { ...SVC, hostForm: "fqdn" }).map((h) => h.host), [
    "10-0-0-3.app.ns.svc.cluster.local",
    "app-0.app.ns.svc.cluster.local",
    "app-1.app.ns.svc.cluster.local",
  ]);
});

Deno.test("kubernetesSource() rejects a Service name that is not one DNS label", () => {
  for (const service of ["", "App", "app.ns", "-app"]) {
    assert.throws(
      () => kubernetesSource({ service, namespace: "ns", apiUrl: "https://127.0.0.1:1" }),
      (e) =>
        e instanceof DiscoveryError && e.code === "CONFIG" && e.message.startsWith("Invalid Service name"),
      service,
    );
  }
});

Deno.test("kubernetesSource() says when the service-account token cannot be read, without a request", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = kubernetesSource({
      service: "app",
      namespace: "ns",
      apiUrl: "https://127.0.0.1:1",
      serviceAccountDir: dir,
    });
    const d = await source.discover();
    assert.equal(d.error?.code, "CONFIG");
    assert.match(d.error!.message, /^Cannot read the service-account token '.*\/token'/);
    assert.deepEqual(d.hosts, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
