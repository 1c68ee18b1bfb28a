/**
 * `deno task bench`: one report with the figures of every issue so far, each measured side by side with
 * what a user would run instead, in the same run, headed by the machine it ran on (about an hour on two
 * cores; root, OTP 25/27/29, rebar3, unbound, iproute2, iptables, openssl, cgroup v1 `cpu`).
 *
 * `deno task bench PART [ARGS…]` runs one part with its own arguments instead:
 * - `wire`: `ping` as a process against `erl -eval 'net_adm:ping(…)'`; connect + rpc, plain and TLS;
 * - `etf`: the term codec against the node's own `term_to_binary`;
 * - `cluster [--quick] [--runs=K] [N…]`: formation, joins, restarts, heals, DNS load (default N = 3 and 10);
 * - `runtime [--only=commands,agent,footprint,run] [--agent-seconds=S] [--runs=K]`: start-up and memory;
 * - `churn [--events=100] [--pods=20] [--soak-pods=10] [--soak-minutes=10]`: churn and soak.
 *
 * Figures, never assertions.
 * @module
 */

import { commitLine, withBundle } from "./_entry.ts";

const PARTS = ["wire", "etf", "cluster", "runtime", "churn"] as const;
type Part = typeof PARTS[number];

/** The report's sizes: N = 3 three times for medians, N = 10 once; churn and soak shortened. */
const REPORT = {
  clusterRuns: [["--runs=3", "3"], ["--runs=1", "10"]],
  churn: ["--events=40", "--pods=20", "--soak-pods=10", "--soak-minutes=3"],
  runtime: { agentSeconds: 300, commandRuns: 7 },
};

async function text(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "unknown";
  }
}

/** What the figures depend on: CPU, cores, memory, kernel, the runtimes compared, the commit. */
async function machine(): Promise<string[]> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown CPU";
  const memKb = Number(
    (await Deno.readTextFile("/proc/meminfo").catch(() => "")).match(/MemTotal:\s+(\d+)/)?.[1],
  );
  const otp = await text("erl", [
    "-noshell",
    "-eval",
    'io:format("~s", [erlang:system_info(otp_release)]), halt().',
  ]);
  return [
    `machine: ${model}, ${navigator.hardwareConcurrency} cores, ${
      Math.round(memKb / 1024 / 1024)
    } GB, Linux ${Deno.osRelease()}`,
    `erlmesh: ${await text("git", [
      "-C",
      new URL("..", import.meta.url).pathname,
      "log",
      "-1",
      "--format=%h %cs",
    ])}, run as 'deno run' of its bundle on Deno ${Deno.version.deno} (V8 ${Deno.version.v8}); OTP ${otp} on PATH`,
  ];
}

function section(title: string, what: string): void {
  console.log(`\n# ${title}\n${what}`);
}

async function runPart(part: Part, args: string[]): Promise<void> {
  switch (part) {
    case "wire": {
      const { benchWire } = await import("./wire.ts");
      await benchWire();
      break;
    }
    case "etf": {
      const { benchEtf } = await import("./etf.ts");
      await benchEtf();
      break;
    }
    case "cluster": {
      const { benchCluster } = await import("./cluster.ts");
      await benchCluster(args);
      break;
    }
    case "runtime": {
      const { benchRuntime, runtimeOptionsFromArgs } = await import("./runtime.ts");
      await benchRuntime(runtimeOptionsFromArgs(args));
      break;
    }
    case "churn": {
      const { benchChurn } = await import("./churn.ts");
      await benchChurn(args);
      break;
    }
  }
}

async function report(): Promise<void> {
  const t0 = Date.now();
  section(
    "Issue 9: a lean core (start-up and footprint)",
    "Each command as a process beside `deno eval 1` and the `erl` one-liners a user runs instead; the agent's memory.",
  );
  const { benchRuntime } = await import("./runtime.ts");
  await benchRuntime(REPORT.runtime);
  section(
    "Issues 9 and 12: the wire (ping, connect + rpc, plain and TLS)",
    "`erlmesh ping` beside `erl -eval 'net_adm:ping(…)'`; connect + one rpc over inet_tcp and inet_tls.",
  );
  await runPart("wire", []);
  section("The term codec", "erlmesh's ETF codec beside the node's term_to_binary/binary_to_term.");
  await runPart("etf", []);
  section(
    "Issues 10, 12 and 13: formation as a user sees it",
    "The agent beside the article's loop in the nodes, in a simulated StatefulSet; TLS, IPv6 and the Kubernetes API " +
      "source beside the plain DNS mode. N = 20: `deno task bench cluster 20`.",
  );
  for (const args of REPORT.clusterRuns) await runPart("cluster", args);
  section(
    "Issue 14: churn and soak (shortened; the full run is `deno task bench churn`)",
    `Random kill, restart, scale and partition events, the same for the loop and the agent; then a soak (${
      REPORT.churn.join(" ")
    }).`,
  );
  await runPart("churn", REPORT.churn);
  console.log(`\nReport run time: ${Math.round((Date.now() - t0) / 60_000)} min`);
}

const [first, ...rest] = Deno.args;
if (first !== undefined && !(PARTS as readonly string[]).includes(first)) {
  console.error(
    `erlmesh bench: Unknown part '${first}': expected one of ${PARTS.join(", ")}, or none for the report`,
  );
  Deno.exit(2);
}
console.log(
  `erlmesh benchmarks${first ? ` (${first})` : ": the report"}, ${new Date().toISOString()}\n${
    (await machine()).join("\n")
  }`,
);
// Every erlmesh process runs the bundle, the form the binary is compiled from (bench/_entry.ts).
await withBundle(async () => {
  console.log(
    `erlmesh as run: the bundle (deno task bundle) under 'deno run', built now at ${await commitLine()}`,
  );
  if (first) await runPart(first as Part, rest);
  else await report();
});
