/**
 * The agent's metrics in the Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE`
 * lines, counters, gauges and one histogram (`_bucket{le=…}` cumulative, `_sum`, `_count`).
 *
 * A small writer of its own rather than prom-client: prom-client pulls in Deno's Node-compat layer
 * (`deno eval 'import "npm:prom-client"'` costs about 80 ms of CPU and 11 MB of RSS more than `deno eval 1`),
 * and the format erlmesh needs is a page of code.
 *
 * @module
 */
import type { CycleReport, ReconcilerCounters } from "../cluster/mod.ts";

/** The content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value as the format writes it between double quotes: `\`, `"` and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** A `# HELP` text as the format writes it: `\` and newline escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

/** A sample value: `+Inf`, `-Inf`, `NaN` or the number as JavaScript prints it (Go's float parser reads it). */
export function formatValue(x: number): string {
  if (x === Infinity) return "+Inf";
  if (x === -Infinity) return "-Inf";
  return String(x);
}

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** One metric family. */
abstract class Metric {
  readonly name: string;
  readonly help: string;
  abstract readonly type: "counter" | "gauge" | "histogram";

  constructor(name: string, help: string) {
    if (!METRIC_NAME.test(name)) {
      throw new Error(`Invalid metric name '${name}': expected [a-zA-Z_:][a-zA-Z0-9_:]*`);
    }
    this.name = name;
    this.help = help;
  }

  /** The sample lines. */
  protected abstract samples(): string[];

  /** The family as text: HELP, TYPE and samples, each line ending in a newline. */
  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    return [...lines, ...this.samples()].join("\n") + "\n";
  }
}

/**
 * A counter. Without label names it has one series, shown as 0 before the first increment; with label
 * names a series appears at its first increment.
 */
export class Counter extends Metric {
  readonly type = "counter";
  readonly labelNames: readonly string[];
  #series = new Map<string, number>();

  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith("__")) {
        throw new Error(
          `Invalid label name '${l}' of '${name}': expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with __`,
        );
      }
    }
    this.labelNames = labelNames;
    if (labelNames.length === 0) this.#series.set("", 0);
  }

  /** Adds `by` (finite, ≥ 0) to the series of `labels` (exactly the counter's label names). */
  inc(by = 1, labels: Labels = {}): void {
    if (!(by >= 0) || !Number.isFinite(by)) {
      throw new Error(`Cannot increment counter '${this.name}' by ${by}: expected a finite number >= 0`);
    }
    const keys = Object.keys(labels);
    if (keys.length !== this.labelNames.length || this.labelNames.some((l) => !(l in labels))) {
      throw new Error(
        `Cannot increment counter '${this.name}' with labels '${keys.join(",")}': expected '${
          this.labelNames.join(",")
        }'`,
      );
    }
    const key = labelText(Object.fromEntries(this.labelNames.map((l) => [l, labels[l]])));
    this.#series.set(key, (this.#series.get(key) ?? 0) + by);
  }

  /** The value of the series of `labels`, 0 if it has none. */
  value(labels: Labels = {}): number {
    return this.#series.get(labelText(Object.fromEntries(this.labelNames.map((l) => [l, labels[l]])))) ?? 0;
  }

  protected samples(): string[] {
    return [...this.#series].map(([labels, v]) => `${this.name}${labels} ${formatValue(v)}`);
  }
}

/** A gauge without labels, 0 until set. */
export class Gauge extends Metric {
  readonly type = "gauge";
  #value = 0;

  /** Sets the value. */
  set(value: number): void {
    this.#value = value;
  }

  protected samples(): string[] {
    return [`${this.name} ${formatValue(this.#value)}`];
  }
}

/** A histogram without labels: observations counted in buckets by upper bound, with their sum. */
export class Histogram extends Metric {
  readonly type = "histogram";
  /** Upper bounds, ascending, without `+Inf`. */
  readonly buckets: readonly number[];
  /** Observations per bucket (not cumulative); the last entry counts those above every bound. */
  #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(name: string, help: string, buckets: readonly number[]) {
    super(name, help);
    const sorted = [...buckets].sort((a, b) => a - b);
    if (sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new Error(`Invalid buckets of '${name}': expected distinct finite upper bounds`);
    }
    this.buckets = sorted;
    this.#counts = new Array(sorted.length + 1).fill(0);
  }

  /** Counts one observation. NaN is ignored. */
  observe(value: number): void {
    if (Number.isNaN(value)) return;
    const i = this.buckets.findIndex((le) => value <= le);
    this.#counts[i === -1 ? this.buckets.length : i]++;
    this.#sum += value;
    this.#count++;
  }

  protected samples(): string[] {
    let cumulative = 0;
    const lines = this.buckets.map((le, i) => {
      cumulative += this.#counts[i];
      return `${this.name}_bucket{le="${formatValue(le)}"} ${cumulative}`;
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`);
    lines.push(`${this.name}_sum ${formatValue(this.#sum)}`, `${this.name}_count ${this.#count}`);
    return lines;
  }
}

/** A gauge without labels whose value is read when it is rendered; omitted when the read fails. */
class ReadGauge extends Metric {
  readonly type: "gauge" | "counter";
  readonly #read: () => number | undefined;
  #value = NaN;

  constructor(
    name: string,
    help: string,
    read: () => number | undefined,
    type: "gauge" | "counter" = "gauge",
  ) {
    super(name, help);
    this.#read = read;
    this.type = type;
  }

  override render(): string {
    let v: number | undefined;
    try {
      v = this.#read();
    } catch {
      v = undefined;
    }
    if (v === undefined || !Number.isFinite(v)) return "";
    this.#value = v;
    return super.render();
  }

  protected samples(): string[] {
    return [`${this.name} ${formatValue(this.#value)}`];
  }
}

/** Clock ticks per second of `/proc/self/stat` times (USER_HZ: 100 on every Linux architecture). */
const USER_HZ = 100;

/** Fields of `/proc/self/stat` after the command name: utime, stime (ticks) and vsize (bytes). */
function procStat(): { cpuSeconds: number; vsizeBytes: number } | undefined {
  const text = Deno.readTextFileSync("/proc/self/stat");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state): utime is field 14, stime 15, vsize 23.
  const utime = Number(f[11]), stime = Number(f[12]), vsize = Number(f[20]);
  if (![utime, stime, vsize].every(Number.isFinite)) return undefined;
  return { cpuSeconds: (utime + stime) / USER_HZ, vsizeBytes: vsize };
}

/** The soft limit on open files, from `/proc/self/limits`; undefined when unlimited or unreadable. */
function maxFds(): number | undefined {
  const line = Deno.readTextFileSync("/proc/self/limits").split("\n").find((l) =>
    l.startsWith("Max open files")
  );
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  return soft === undefined || soft === "unlimited" ? undefined : Number(soft);
}

function openFds(): number {
  let n = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  return n - 1; // the directory being read is one of them
}

/** The process's figures for one scrape: each source read at most once, at first use. */
class ProcessSample {
  #stat: ReturnType<typeof procStat> | null = null;
  #memory: Deno.MemoryUsage | undefined;

  /** `/proc/self/stat`'s CPU time and virtual memory size. */
  stat(): ReturnType<typeof procStat> {
    if (this.#stat === null) this.#stat = procStat();
    return this.#stat;
  }

  /** Deno's figures: RSS and the JavaScript heap. */
  memory(): Deno.MemoryUsage {
    return this.#memory ??= Deno.memoryUsage();
  }
}

/**
 * The process's own figures, read at each scrape (`sample()` gives that scrape's readings), under the names
 * Prometheus client libraries use (`process_*`), and the JavaScript heap. Those read from `/proc` are left
 * out where there is none.
 */
function processMetrics(sample: () => ProcessSample): Metric[] {
  return [
    new ReadGauge(
      "process_cpu_seconds_total",
      "User and system CPU time spent, seconds",
      () => sample().stat()?.cpuSeconds,
      "counter",
    ),
    new ReadGauge(
      "process_start_time_seconds",
      "Start time of the process since the Unix epoch, seconds",
      () => Math.floor(performance.timeOrigin / 1000),
    ),
    new ReadGauge(
      "process_resident_memory_bytes",
      "Resident memory size, bytes",
      () => sample().memory().rss,
    ),
    new ReadGauge(
      "process_virtual_memory_bytes",
      "Virtual memory size, bytes",
      () => sample().stat()?.vsizeBytes,
    ),
    new ReadGauge("process_open_fds", "Open file descriptors", openFds),
    new ReadGauge("process_max_fds", "Limit on open file descriptors", maxFds),
    new ReadGauge(
      "erlmesh_heap_used_bytes",
      "JavaScript heap in use, bytes",
      () => sample().memory().heapUsed,
    ),
    new ReadGauge(
      "erlmesh_heap_total_bytes",
      "JavaScript heap reserved, bytes",
      () => sample().memory().heapTotal,
    ),
  ];
}

/** The metrics of one reconcile loop. The only labels are `reason` (a diagnosis code) and `le`. */
export class MeshMetrics {
  #discovered = new Gauge("erlmesh_discovered_peers", "Peers the last cycle discovered");
  #connected = new Gauge("erlmesh_connected_peers", "Discovered peers the local node is connected to");
  #missing = new Gauge("erlmesh_missing_peers", "Discovered peers the local node is not connected to");
  #localUp = new Gauge("erlmesh_local_node_up", "1 when the local node answered the last cycle");
  #lastSuccess = new Gauge(
    "erlmesh_last_successful_cycle_timestamp_seconds",
    "Unix time of the last cycle that reached the local node",
  );
  #stale = new Gauge(
    "erlmesh_discovery_stale",
    "1 when discovery serves the last good answer after a failure",
  );
  #cycle = new Histogram(
    "erlmesh_cycle_duration_seconds",
    "Duration of one reconcile cycle",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  #cycles = new Counter("erlmesh_cycles_total", "Reconcile cycles run");
  #failedCycles = new Counter("erlmesh_failed_cycles_total", "Cycles that could not reach the local node");
  #attempts = new Counter("erlmesh_connect_attempts_total", "Connect attempts for missing peers");
  #failures = new Counter("erlmesh_connect_failures_total", "Failed connect attempts, by reason", ["reason"]);
  #dnsQueries = new Counter("erlmesh_dns_queries_total", "DNS queries sent");
  #dnsErrors = new Counter(
    "erlmesh_dns_errors_total",
    "Discovery lookups that failed (timeouts, unreachable server)",
  );
  #epmdQueries = new Counter("erlmesh_epmd_queries_total", "EPMD requests sent");
  #rpcs = new Counter("erlmesh_rpcs_total", "Remote calls made to the local node");
  #joins = new Counter("erlmesh_joins_total", "Peers that joined the local node");
  #leaves = new Counter("erlmesh_leaves_total", "Peers that left the local node");
  #all: Metric[] = [
    this.#discovered,
    this.#connected,
    this.#missing,
    this.#localUp,
    this.#lastSuccess,
    this.#stale,
    this.#cycle,
    this.#cycles,
    this.#failedCycles,
    this.#attempts,
    this.#failures,
    this.#dnsQueries,
    this.#dnsErrors,
    this.#epmdQueries,
    this.#rpcs,
    this.#joins,
    this.#leaves,
    ...processMetrics(() => this.#sample),
  ];
  #sample = new ProcessSample();
  #last: ReconcilerCounters | undefined;

  /** Updates every metric from one cycle's report and the loop's counters (totals since start). */
  update(report: CycleReport, counters: ReconcilerCounters): void {
    this.#discovered.set(report.discovered.length);
    this.#missing.set(report.missing.length);
    this.#connected.set(report.discovered.length - report.missing.length);
    this.#localUp.set(report.ok ? 1 : 0);
    this.#stale.set(report.stale ? 1 : 0);
    if (report.ok) this.#lastSuccess.set(Math.floor((report.at + report.durationMs) / 1000));
    this.#cycle.observe(report.durationMs / 1000);
    const prev = this.#last;
    const add = (c: Counter, k: keyof Omit<ReconcilerCounters, "connectFailures">) => {
      const delta = counters[k] - (prev?.[k] ?? 0);
      if (delta > 0) c.inc(delta);
    };
    add(this.#cycles, "cycles");
    add(this.#failedCycles, "failedCycles");
    add(this.#attempts, "connectAttempts");
    add(this.#dnsQueries, "dnsQueries");
    add(this.#dnsErrors, "dnsErrors");
    add(this.#epmdQueries, "epmdQueries");
    add(this.#rpcs, "rpcs");
    add(this.#joins, "joins");
    add(this.#leaves, "leaves");
    for (const [reason, n] of Object.entries(counters.connectFailures)) {
      const delta = n - (prev?.connectFailures[reason] ?? 0);
      if (delta > 0) this.#failures.inc(delta, { reason });
    }
    this.#last = { ...counters, connectFailures: { ...counters.connectFailures } };
  }

  /** The metrics in the Prometheus text format. */
  text(): string {
    this.#sample = new ProcessSample();
    return this.#all.map((m) => m.render()).join("");
  }

  /** The content type of {@link MeshMetrics.text}. */
  get contentType(): string {
    return PROMETHEUS_CONTENT_TYPE;
  }
}
