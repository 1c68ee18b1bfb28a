import assert from "node:assert/strict";
import type { CycleReport, ReconcilerCounters } from "../cluster/mod.ts";
import { parsePrometheus, sampleValue } from "../../tests/_prom.ts";
import {
  Counter,
  escapeHelp,
  escapeLabelValue,
  formatValue,
  Gauge,
  Histogram,
  MeshMetrics,
  PROMETHEUS_CONTENT_TYPE,
} from "./metrics.ts";

const COOKIE = "QWERTYUIOPASDFGHJKLZ";

function report(extra: Partial<CycleReport> = {}): CycleReport {
  return {
    at: 1_700_000_000_000,
    durationMs: 12,
    ok: true,
    local: "app0@127.0.0.1",
    discovered: ["app1@127.0.0.1", "app2@127.0.0.1"],
    connected: ["app1@127.0.0.1"],
    missing: [{ node: "app2@127.0.0.1" }] as unknown as CycleReport["missing"],
    attempted: ["app2@127.0.0.1"],
    stale: false,
    dnsQueries: 1,
    epmdQueries: 2,
    rpcs: 3,
    ...extra,
  };
}

function counters(extra: Partial<ReconcilerCounters> = {}): ReconcilerCounters {
  return {
    cycles: 0,
    failedCycles: 0,
    dnsQueries: 0,
    dnsErrors: 0,
    epmdQueries: 0,
    rpcs: 0,
    connectAttempts: 0,
    connectFailures: {},
    joins: 0,
    leaves: 0,
    ...extra,
  };
}

Deno.test("label values escape backslash, double quote and newline; HELP escapes backslash and newline", () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assert.equal(escapeHelp('say "hi"\\now\nplease'), 'say "hi"\\\\now\\nplease');
  const c = new Counter("x_total", "Line one\nline \\two", ["reason"]);
  c.inc(2, { reason: 'bad "cookie"\\\n' });
  assert.equal(
    c.render(),
    '# HELP x_total Line one\\nline \\\\two\n# TYPE x_total counter\nx_total{reason="bad \\"cookie\\"\\\\\\n"} 2\n',
  );
  const { samples } = parsePrometheus(c.render());
  assert.deepEqual(samples, [{ name: "x_total", labels: { reason: 'bad \\"cookie\\"\\\\\\n' }, value: 2 }]);
});

Deno.test("values: integers and decimals as JavaScript prints them, +Inf, -Inf and NaN", () => {
  assert.deepEqual([3, 0.25, 1e21, Infinity, -Infinity, NaN].map(formatValue), [
    "3",
    "0.25",
    "1e+21",
    "+Inf",
    "-Inf",
    "NaN",
  ]);
});

Deno.test("histogram buckets are cumulative, le inclusive, +Inf equals _count", () => {
  const h = new Histogram("d_seconds", "D", [1, 0.1, 0.5]);
  for (const v of [0.05, 0.1, 0.3, 0.5, 0.7, 3, NaN]) h.observe(v);
  assert.equal(
    h.render(),
    [
      "# HELP d_seconds D",
      "# TYPE d_seconds histogram",
      'd_seconds_bucket{le="0.1"} 2',
      'd_seconds_bucket{le="0.5"} 4',
      'd_seconds_bucket{le="1"} 5',
      'd_seconds_bucket{le="+Inf"} 6',
      "d_seconds_sum 4.65",
      "d_seconds_count 6",
      "",
    ].join("\n"),
  );
  const empty = parsePrometheus(new Histogram("e", "E", [1]).render()).samples;
  assert.deepEqual(empty.map((s) => s.value), [0, 0, 0, 0]);
  assert.throws(() => new Histogram("f", "F", [1, 1]), /Invalid buckets of 'f'/);
});

Deno.test("counters: unlabelled ones start at 0, labelled series appear at their first increment", () => {
  const plain = new Counter("p_total", "P");
  const by = new Counter("q_total", "Q", ["reason"]);
  assert.equal(plain.render(), "# HELP p_total P\n# TYPE p_total counter\np_total 0\n");
  assert.equal(by.render(), "# HELP q_total Q\n# TYPE q_total counter\n");
  by.inc(1, { reason: "b" });
  by.inc(2, { reason: "a" });
  by.inc(1, { reason: "b" });
  assert.deepEqual([by.value({ reason: "a" }), by.value({ reason: "b" }), by.value({ reason: "c" })], [
    2,
    2,
    0,
  ]);
  assert.throws(
    () => plain.inc(-1),
    /Cannot increment counter 'p_total' by -1: expected a finite number >= 0/,
  );
  assert.throws(() => plain.inc(NaN), /Cannot increment counter 'p_total' by NaN/);
  assert.throws(() => by.inc(1), /Cannot increment counter 'q_total' with labels '': expected 'reason'/);
  assert.throws(() => new Counter("1x", "X"), /Invalid metric name '1x'/);
  assert.throws(() => new Counter("x", "X", ["__r"]), /Invalid label name '__r' of 'x'/);
  const g = new Gauge("g", "G");
  g.set(-1.5);
  assert.equal(g.render(), "# HELP g G\n# TYPE g gauge\ng -1.5\n");
});

Deno.test("MeshMetrics: every metric the README lists, with its type, parsed by the strict reader", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const listed = new Set(readme.match(/(?:erlmesh|process)_[a-z_]+(?=`|\{)/g));
  const m = new MeshMetrics();
  m.update(report(), counters({ cycles: 1 }));
  const { types } = parsePrometheus(m.text());
  assert.deepEqual(new Set(types.keys()), listed);
  for (const [name, type] of types) {
    const want = name === "erlmesh_cycle_duration_seconds"
      ? "histogram"
      : name.endsWith("_total")
      ? "counter"
      : "gauge";
    assert.equal(type, want, name);
  }
  assert.equal(m.contentType, PROMETHEUS_CONTENT_TYPE);
});

Deno.test("MeshMetrics: the process's own figures, read at each scrape, as client libraries name them", () => {
  const m = new MeshMetrics();
  const read = () => {
    const { samples } = parsePrometheus(m.text());
    return (name: string) => {
      const v = sampleValue(samples, name);
      assert.ok(v !== undefined && Number.isFinite(v), `${name} is exposed`);
      return v;
    };
  };
  const first = read();
  const rss = Deno.memoryUsage().rss;
  // Within 32 MB of what Deno says now: the same figure, read a moment apart.
  assert.ok(Math.abs(first("process_resident_memory_bytes") - rss) < 32 * 2 ** 20);
  assert.ok(first("process_virtual_memory_bytes") >= first("process_resident_memory_bytes"));
  const start = first("process_start_time_seconds");
  assert.ok(start <= Date.now() / 1000 && start > Date.now() / 1000 - 3600, `started ${start}`);
  assert.ok(first("erlmesh_heap_used_bytes") > 0);
  assert.ok(first("erlmesh_heap_total_bytes") >= first("erlmesh_heap_used_bytes"));
  // The descriptors open now (stdio at least; other test files of this process open and close theirs).
  const fds = first("process_open_fds");
  assert.ok(fds >= 3 && fds <= first("process_max_fds"), `${fds} fds`);
  // CPU time only grows, and work shows in it.
  const cpu0 = first("process_cpu_seconds_total");
  let cpu = cpu0;
  for (const until = performance.now() + 5000; cpu === cpu0 && performance.now() < until;) {
    for (const spin = performance.now() + 20; performance.now() < spin;) { /* work */ }
    cpu = read()("process_cpu_seconds_total");
  }
  assert.ok(cpu > cpu0, `CPU time ${cpu0} s, then ${cpu} s`);
});

Deno.test("MeshMetrics: gauges from the last report, counters from the loop's totals", () => {
  const m = new MeshMetrics();
  m.update(
    report(),
    counters({ cycles: 1, rpcs: 3, connectAttempts: 1, connectFailures: { NOT_REGISTERED: 1 } }),
  );
  m.update(
    report({ ok: false, durationMs: 600, discovered: [], missing: [], stale: true }),
    counters({
      cycles: 2,
      failedCycles: 1,
      rpcs: 4,
      connectAttempts: 3,
      connectFailures: { NOT_REGISTERED: 2, COOKIE_REFUSED: 1 },
    }),
  );
  const { samples } = parsePrometheus(m.text());
  const v = (name: string, labels?: Record<string, string>) => sampleValue(samples, name, labels);
  assert.deepEqual(
    [
      v("erlmesh_discovered_peers"),
      v("erlmesh_missing_peers"),
      v("erlmesh_connected_peers"),
      v("erlmesh_local_node_up"),
      v("erlmesh_discovery_stale"),
      v("erlmesh_last_successful_cycle_timestamp_seconds"),
    ],
    [0, 0, 0, 0, 1, 1_700_000_000],
  );
  assert.deepEqual(
    [
      v("erlmesh_cycles_total"),
      v("erlmesh_failed_cycles_total"),
      v("erlmesh_rpcs_total"),
      v("erlmesh_connect_attempts_total"),
      v("erlmesh_connect_failures_total", { reason: "NOT_REGISTERED" }),
      v("erlmesh_connect_failures_total", { reason: "COOKIE_REFUSED" }),
      v("erlmesh_joins_total"),
    ],
    [2, 1, 4, 3, 2, 1, 0],
  );
  assert.deepEqual(
    [
      v("erlmesh_cycle_duration_seconds_bucket", { le: "0.025" }),
      v("erlmesh_cycle_duration_seconds_bucket", { le: "0.5" }),
      v("erlmesh_cycle_duration_seconds_bucket", { le: "1" }),
      v("erlmesh_cycle_duration_seconds_count"),
      v("erlmesh_cycle_duration_seconds_sum"),
    ],
    [1, 1, 2, 2, 0.612],
  );
});

Deno.test("MeshMetrics: no cookie in any label or value, even when the loop's reports carry it", () => {
  const m = new MeshMetrics();
  const leak = `Cannot connect: cookie ${COOKIE} refused`;
  m.update(
    report({
      ok: false,
      error: leak,
      discoveryError: { code: "TIMEOUT", message: leak },
      hostFailures: [{ host: "127.0.0.1", message: leak }],
    }),
    counters({ cycles: 1, failedCycles: 1, connectFailures: { COOKIE_REFUSED: 1 } }),
  );
  const text = m.text();
  assert.ok(!text.includes(COOKIE));
  const labelNames = new Set(parsePrometheus(text).samples.flatMap((s) => Object.keys(s.labels)));
  assert.deepEqual(labelNames, new Set(["le", "reason"]));
});
