import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CycleReport, ReconcilerCounters } from "../cluster/mod.ts";

/** The Prometheus metrics of one reconcile loop. Labels hold node names and reasons, never a cookie. */
export class MeshMetrics {
  /** The registry `/metrics` serves. */
  readonly registry: Registry = new Registry();
  #discovered = new Gauge({
    name: "erlmesh_discovered_peers",
    help: "Peers the last cycle discovered",
    registers: [this.registry],
  });
  #connected = new Gauge({
    name: "erlmesh_connected_peers",
    help: "Discovered peers the local node is connected to",
    registers: [this.registry],
  });
  #missing = new Gauge({
    name: "erlmesh_missing_peers",
    help: "Discovered peers the local node is not connected to",
    registers: [this.registry],
  });
  #localUp = new Gauge({
    name: "erlmesh_local_node_up",
    help: "1 when the local node answered the last cycle",
    registers: [this.registry],
  });
  #lastSuccess = new Gauge({
    name: "erlmesh_last_successful_cycle_timestamp_seconds",
    help: "Unix time of the last cycle that reached the local node",
    registers: [this.registry],
  });
  #stale = new Gauge({
    name: "erlmesh_discovery_stale",
    help: "1 when discovery serves the last good answer after a failure",
    registers: [this.registry],
  });
  #cycle = new Histogram({
    name: "erlmesh_cycle_duration_seconds",
    help: "Duration of one reconcile cycle",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  #cycles = new Counter({
    name: "erlmesh_cycles_total",
    help: "Reconcile cycles run",
    registers: [this.registry],
  });
  #failedCycles = new Counter({
    name: "erlmesh_failed_cycles_total",
    help: "Cycles that could not reach the local node",
    registers: [this.registry],
  });
  #attempts = new Counter({
    name: "erlmesh_connect_attempts_total",
    help: "Connect attempts for missing peers",
    registers: [this.registry],
  });
  #failures = new Counter({
    name: "erlmesh_connect_failures_total",
    help: "Failed connect attempts, by reason",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  #dnsQueries = new Counter({
    name: "erlmesh_dns_queries_total",
    help: "DNS queries sent",
    registers: [this.registry],
  });
  #dnsErrors = new Counter({
    name: "erlmesh_dns_errors_total",
    help: "Discovery lookups that failed (timeouts, unreachable server)",
    registers: [this.registry],
  });
  #epmdQueries = new Counter({
    name: "erlmesh_epmd_queries_total",
    help: "EPMD requests sent",
    registers: [this.registry],
  });
  #rpcs = new Counter({
    name: "erlmesh_rpcs_total",
    help: "Remote calls made to the local node",
    registers: [this.registry],
  });
  #joins = new Counter({
    name: "erlmesh_joins_total",
    help: "Peers that joined the local node",
    registers: [this.registry],
  });
  #leaves = new Counter({
    name: "erlmesh_leaves_total",
    help: "Peers that left the local node",
    registers: [this.registry],
  });
  #last: ReconcilerCounters | undefined;

  /** Updates every metric from one cycle's report and the loop's counters. */
  update(report: CycleReport, counters: ReconcilerCounters): void {
    this.#discovered.set(report.discovered.length);
    this.#missing.set(report.missing.length);
    this.#connected.set(report.discovered.length - report.missing.length);
    this.#localUp.set(report.ok ? 1 : 0);
    this.#stale.set(report.stale ? 1 : 0);
    if (report.ok) this.#lastSuccess.set(Math.floor((report.at + report.durationMs) / 1000));
    this.#cycle.observe(report.durationMs / 1000);
    const prev = this.#last;
    const d = (k: keyof Omit<ReconcilerCounters, "connectFailures">) => counters[k] - (prev?.[k] ?? 0);
    this.#cycles.inc(d("cycles"));
    this.#failedCycles.inc(d("failedCycles"));
    this.#attempts.inc(d("connectAttempts"));
    this.#dnsQueries.inc(d("dnsQueries"));
    this.#dnsErrors.inc(d("dnsErrors"));
    this.#epmdQueries.inc(d("epmdQueries"));
    this.#rpcs.inc(d("rpcs"));
    this.#joins.inc(d("joins"));
    this.#leaves.inc(d("leaves"));
    for (const [reason, n] of Object.entries(counters.connectFailures)) {
      const delta = n - (prev?.connectFailures[reason] ?? 0);
      if (delta > 0) this.#failures.inc({ reason }, delta);
    }
    this.#last = { ...counters, connectFailures: { ...counters.connectFailures } };
  }

  /** The metrics in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of {@link MeshMetrics.text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
