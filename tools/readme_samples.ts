/**
 * Writes the README's sample outputs from real runs, so they cannot drift from the CLI: starts three
 * OTP nodes on 127.0.0.1 (their own EPMD port, a fresh cookie), meshes them with `erlmesh agent`, runs
 * each sample's command as a process, and rewrites each block between `<!-- sample: ID -->` and
 * `<!-- /sample -->` in README.md with `$ erlmesh ARGS` and what the command printed.
 *
 * Run: `deno run -A tools/readme_samples.ts` (needs `erl` and `epmd` on the PATH; takes a few seconds).
 *
 * @module
 */
import { freePort, type OtpNode, randomCookie, startNode } from "../tests/_harness/mod.ts";
import { readLines } from "../tests/_harness/_process.ts";
import { childEnv, erlmeshArgv } from "../tests/_erlmesh.ts";

/** One sample: the command a block shows. */
export interface SampleSpec {
  /** The marker id: `<!-- sample: ID -->`. */
  id: string;
  /** `erlmesh` arguments. */
  args: string[];
  /** Extra environment, shown before the command (`NAME=value erlmesh …`). */
  env?: Record<string, string>;
  /** The exit code the prose around the block expects; another one fails the script. */
  code: number;
}

/** The nodes the samples run against, all on 127.0.0.1. */
export const NODES = ["app0", "app1", "app2"].map((a) => `${a}@127.0.0.1`);
const [A, B, C] = NODES;
const PEERS = ["--basename", "app*", "--hosts", "127.0.0.1"];

/** The agent sample: it runs until its node has joined both peers, then gets SIGTERM. */
const AGENT: SampleSpec = {
  id: "agent",
  args: ["agent", "--node", A, ...PEERS, "--log-format", "text"],
  code: 0,
};

/** Every sample, in README order. */
export const SAMPLES: readonly SampleSpec[] = [
  AGENT,
  { id: "names", args: ["names"], code: 0 },
  { id: "ping", args: ["ping", A, B], code: 0 },
  { id: "nodes", args: ["nodes", A], code: 0 },
  { id: "mesh", args: ["mesh", ...PEERS], code: 0 },
  { id: "status", args: ["status", "--node", A, ...PEERS], code: 0 },
  { id: "bad-node", args: ["ping", "a@b@c"], code: 2 },
  { id: "bad-config", args: ["agent", "--node", A, ...PEERS], env: { ERLMESH_INTERVAL: "5x" }, code: 2 },
];

const BEGIN = /<!-- sample: ([a-z0-9-]+) -->/g;
const END = "<!-- /sample -->";

/** The sample blocks of `readme`, by id, in order: the text between each marker pair. */
export function sampleBlocks(readme: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of readme.matchAll(BEGIN)) {
    const from = m.index! + m[0].length;
    const to = readme.indexOf(END, from);
    const next = readme.slice(from).search(/<!-- sample: /);
    if (to === -1 || (next !== -1 && from + next < to)) {
      throw new Error(`Cannot read README sample '${m[1]}': no '${END}' before the next sample or the end`);
    }
    if (out.has(m[1])) throw new Error(`Cannot read README samples: '${m[1]}' appears twice`);
    out.set(m[1], readme.slice(from, to));
  }
  return out;
}

/** Quotes an argument the way a POSIX shell needs it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The command line a sample shows. */
export function commandLine(s: SampleSpec): string {
  const env = Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${shellQuote(v)} `).join("");
  return `$ ${env}erlmesh ${s.args.map(shellQuote).join(" ")}`;
}

/** A block's text (between its markers) for the command line and the command's output. */
export function blockText(s: SampleSpec, output: string): string {
  return `\n\n\`\`\`\n${commandLine(s)}\n${output.trimEnd()}\n\`\`\`\n\n`;
}

/** `readme` with each sample block in `outputs` replaced; throws when a marker is missing. */
export function renderSamples(readme: string, outputs: Map<string, string>): string {
  const blocks = sampleBlocks(readme);
  let out = readme;
  for (const s of SAMPLES) {
    const output = outputs.get(s.id);
    if (output === undefined) continue;
    if (!blocks.has(s.id)) {
      throw new Error(`Cannot write sample '${s.id}': README.md has no '<!-- sample: ${s.id} -->'`);
    }
    const begin = `<!-- sample: ${s.id} -->`;
    const from = out.indexOf(begin) + begin.length;
    const to = out.indexOf(END, from);
    out = out.slice(0, from) + blockText(s, output) + out.slice(to);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Running the samples.

/** Runs one sample to its end; stdout then stderr, as a terminal would mostly show them. */
async function runSample(s: SampleSpec, env: Record<string, string>): Promise<string> {
  const { code, output } = await runErlmesh(s, env);
  if (code !== s.code) {
    throw new Error(`Cannot use sample '${s.id}': exit code ${code}, expected ${s.code}:\n${output}`);
  }
  return output;
}

async function runErlmesh(
  s: SampleSpec,
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  const argv = erlmeshArgv(s.args);
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { ...env, ...s.env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** Runs the agent until its node has joined both peers, stops it with SIGTERM, and returns its log. */
async function runAgent(env: Record<string, string>): Promise<string> {
  const argv = erlmeshArgv(AGENT.args);
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let joined!: () => void;
  const bothJoined = new Promise<void>((r) => (joined = r));
  const readers = [child.stdout, child.stderr].map((s) =>
    readLines(s, (l) => {
      lines.push(l);
      if ([B, C].every((n) => lines.some((x) => x.includes(`Peer ${n} joined`)))) joined();
    })
  );
  const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const first = await Promise.race([bothJoined.then(() => "joined"), child.status.then(() => "exited")]);
    if (first !== "joined") throw new Error(`Cannot run the agent sample: it exited:\n${lines.join("\n")}`);
    child.kill("SIGTERM");
    const status = await child.status;
    await Promise.all(readers.map((r) => r.done));
    if (status.code !== 0) throw new Error(`Cannot run the agent sample: exit code ${status.code}`);
    return lines.join("\n");
  } finally {
    clearTimeout(deadline);
  }
}

/** Starts the nodes, runs every sample, and returns the outputs by id. */
export async function collectSamples(): Promise<Map<string, string>> {
  const cookie = randomCookie();
  const epmdPort = freePort();
  const env = childEnv({ RELEASE_COOKIE: cookie, ERL_EPMD_PORT: String(epmdPort) });
  const nodes: OtpNode[] = [];
  try {
    for (const name of NODES) nodes.push(await startNode({ name, cookie, epmdPort }));
    const outputs = new Map<string, string>();
    outputs.set(AGENT.id, await runAgent(env));
    // The agent connected app0 to both peers; one pass for each peer completes the mesh.
    for (const n of [B, C]) {
      await runSample({ id: `once ${n}`, args: ["agent", "--once", "--node", n, ...PEERS], code: 0 }, env);
    }
    for (const s of SAMPLES) if (s !== AGENT) outputs.set(s.id, await runSample(s, env));
    const leaked = [...outputs.entries()].filter(([, o]) => o.includes(cookie)).map(([id]) => id);
    if (leaked.length) throw new Error(`Cannot use samples ${leaked.join(", ")}: they print the cookie`);
    return outputs;
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

if (import.meta.main) {
  const path = new URL("../README.md", import.meta.url);
  const outputs = await collectSamples();
  await Deno.writeTextFile(path, renderSamples(await Deno.readTextFile(path), outputs));
  console.log(`README.md: ${outputs.size} samples written (${[...outputs.keys()].join(", ")})`);
}
