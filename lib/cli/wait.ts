import {
  type WaitAttempt,
  type WaitConditions,
  waitFor,
  type WaitReport,
  type WaitSelf,
} from "../cluster/mod.ts";
import { parseNodeName } from "../dist/mod.ts";
import { basenameOf, sourceFrom } from "./cluster_setup.ts";
import { configFrom } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { printJson, println, writeErr } from "./common.ts";
import { UsageError } from "./errors.ts";
import {
  type CommandDef,
  CONFIG_FILE_OPTION,
  configOptions,
  durationValue,
  KEY_GROUPS,
  type ParsedCommandLine,
} from "./options.ts";

const DEFAULT_TIMEOUT = "120s";
const MAX_TIMEOUT_MS = 24 * 3_600_000;
const MAX_PEERS = 100_000;
/** In logs (not a terminal), an unchanged state is repeated at most this often. */
const LOG_REPEAT_MS = 5000;

function parseTimeout(text: string): number {
  return durationValue(text, "--timeout", 1, MAX_TIMEOUT_MS);
}

function parsePeers(text: string): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_PEERS) {
    throw new UsageError(`Invalid --peers '${text}': expected a whole number from 0 to ${MAX_PEERS}`);
  }
  return n;
}

/** The conditions the flags ask for; none given means `--dns --peers 0`. */
function conditionsFrom(
  raw: Record<string, string | true>,
): { conditions: WaitConditions; defaulted: boolean } {
  const c: WaitConditions = {};
  if (raw.dns) c.dns = true;
  if (raw.self) c.self = true;
  if (raw.peers !== undefined) c.peers = parsePeers(String(raw.peers));
  if (raw.epmd) c.epmd = true;
  if (Object.keys(c).length === 0) return { conditions: { dns: true, peers: 0 }, defaulted: true };
  return { conditions: c, defaulted: false };
}

/** Progress on stderr: one updating line on a terminal, plain lines (on change, or every 5 s) otherwise. */
class Progress {
  #tty: boolean;
  #enc = new TextEncoder();
  #lastKey = "";
  #lastAt = -Infinity;
  #dirty = false;

  constructor() {
    let tty = false;
    try {
      tty = Deno.stderr.isTerminal();
    } catch { /* not a terminal */ }
    this.#tty = tty;
  }

  #write(text: string): void {
    try {
      Deno.stderr.writeSync(this.#enc.encode(text));
    } catch { /* stderr closed */ }
  }

  update(a: WaitAttempt): void {
    const states = a.conditions.map((c) => `${c.name} ${c.ok ? "ok" : "waiting"} (${c.summary})`).join(", ");
    const next = a.nextDelayMs === undefined ? "" : `; next in ${(a.nextDelayMs / 1000).toFixed(1)} s`;
    const line = `Waiting ${(a.elapsedMs / 1000).toFixed(1)} s, attempt ${a.attempt}: ${states}${next}`;
    if (this.#tty) {
      const cols = (() => {
        try {
          return Deno.consoleSize().columns;
        } catch {
          return 200;
        }
      })();
      this.#write(`\r\x1b[2K${cols >= 20 ? line.slice(0, cols - 1) : line}`);
      this.#dirty = true;
      return;
    }
    const key = a.conditions.map((c) => `${c.name}:${c.ok}:${c.summary}`).join(" ") + ` ${a.hosts.join(",")}`;
    const now = performance.now();
    if (key === this.#lastKey && now - this.#lastAt < LOG_REPEAT_MS) return;
    this.#lastKey = key;
    this.#lastAt = now;
    this.#write(`erlmesh wait: ${line}\n`);
  }

  end(): void {
    if (this.#tty && this.#dirty) this.#write("\r\x1b[2K");
  }
}

function reportJson(report: WaitReport, self: WaitSelf): Record<string, unknown> {
  return {
    ok: report.ok,
    attempts: report.attempts,
    elapsedMs: Math.round(report.elapsedMs),
    timeoutMs: report.timeoutMs,
    source: report.source,
    self,
    conditions: Object.fromEntries(
      report.last.conditions.map((c) => [c.name, { ok: c.ok, summary: c.summary, seen: c.seen }]),
    ),
    failed: report.failed,
    dnsAnswered: report.last.dnsAnswered,
    stale: report.last.stale,
    hosts: report.last.hosts,
    selfListed: report.last.selfListed,
    peers: report.last.peers,
    epmd: report.last.epmd,
    message: report.message,
  };
}

/** The configuration keys `wait` reads. */
const KEYS = [
  ...KEY_GROUPS.node,
  ...KEY_GROUPS.discovery,
  "epmdPort",
  "distPort",
  // inet6 nodes are found by AAAA records: the flag as well as the environment must say so.
  "protoDist",
  "connectTimeout",
  "concurrency",
] as const;

/** `erlmesh wait`: the initContainer gate. */
export const command: CommandDef = {
  name: "wait",
  summary: COMMANDS.wait.summary,
  args: [],
  options: [
    {
      long: "dns",
      key: "dns",
      help: "the DNS server answers for the Service; any answer counts, 'no records' too (Deno cannot tell " +
        "NXDOMAIN from SERVFAIL), only timeouts and connection errors do not",
    },
    {
      long: "self",
      key: "self",
      help:
        "this pod (POD_IP, or its FQDN from --node or POD_NAME) is in the Service's answer (SRV targets or " +
        "A/AAAA records, never /etc/hosts); needs publishNotReadyAddresses on the Service",
    },
    {
      long: "peers",
      arg: "k",
      key: "peers",
      help:
        "at least K peers other than this pod are discoverable (hosts; nodes with --epmd); 0 passes on an " +
        "empty answer (pod 0 of an OrderedReady StatefulSet)",
    },
    {
      long: "epmd",
      key: "epmd",
      help: "every discovered peer's EPMD answers NAMES; with --peers K, at least K nodes of the basename",
    },
    {
      long: "timeout",
      arg: "duration",
      key: "timeout",
      help: "give up after this long; keep it at 60s or more, negative answers may be cached for 30 s",
      defaultDoc: DEFAULT_TIMEOUT,
    },
    CONFIG_FILE_OPTION,
    ...configOptions(KEYS),
  ],
  notes: "With no condition flag, waits for '--dns --peers 0' (the DNS server answers for the Service). " +
    "Polls with backoff from 250 ms doubling to 5 s. Exit 0 when all conditions hold, 1 at the deadline " +
    "(the message names each failed condition and the last thing seen), 2 for bad options.",
};

/** Runs `erlmesh wait`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const raw = cli.values;

  const { conditions, defaulted } = conditionsFrom(raw);
  const timeoutMs = parseTimeout(String(raw.timeout ?? DEFAULT_TIMEOUT));
  const cfg = await configFrom(cli, KEYS);
  if (conditions.dns && cfg.discovery !== "srv" && cfg.discovery !== "a") {
    throw new UsageError(
      `Cannot wait for ${
        defaulted ? "the default condition --dns" : "--dns"
      } with discovery '${cfg.discovery}' (from ${cfg.sources.discovery ?? "default"}): ` +
        "it needs DNS discovery ('srv' or 'a'); set the headless Service in --service, ERLMESH_SERVICE or " +
        "K8S_HEADLESS_SVC",
    );
  }
  if (conditions.epmd && cfg.distPort !== undefined) {
    throw new UsageError(
      `Cannot wait for --epmd with distPort ${cfg.distPort} (from ${cfg.sources.distPort ?? "default"}): ` +
        "the nodes run without EPMD; --peers counts the discovered hosts instead",
    );
  }
  // This pod as its Service lists it, by the one rule of the configuration.
  const self: WaitSelf = {};
  if (cfg.identity.fqdn !== undefined) self.host = cfg.identity.fqdn;
  if (cfg.identity.ip !== undefined) self.ip = cfg.identity.ip;
  if (conditions.self && self.host === undefined && self.ip === undefined) {
    throw new UsageError(
      "Cannot wait for --self: this pod's identity is unknown; set POD_IP (downward API status.podIP), " +
        "or POD_NAME with --service, or --node with the pod's FQDN or IP",
    );
  }
  const source = sourceFrom(cfg);
  const progress = new Progress();
  const report = await waitFor(conditions, {
    source,
    // This pod's own node, when it is named, is not one of its peers.
    self: cfg.node ? { ...self, alive: parseNodeName(cfg.node).alive } : self,
    basename: basenameOf(cfg),
    epmdPort: cfg.epmdPort,
    epmdTimeoutMs: cfg.connectTimeout,
    concurrency: cfg.concurrency,
    timeoutMs,
    onProgress: (a) => progress.update(a),
  }).finally(() => progress.end());

  if (cli.output === "json") printJson(reportJson(report, self));
  else if (report.ok) {
    println(report.message);
    for (const c of report.last.conditions) println(`  ${c.name.padEnd(5)}  ${c.seen}`);
  }
  if (!report.ok) {
    if (cli.output !== "json") writeErr(`erlmesh: ${report.message}\n`);
    return 1;
  }
  return 0;
}
