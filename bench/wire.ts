/**
 * Wire-core benchmarks: `erlmesh ping` as a process against `erl -eval 'net_adm:ping(...)'`, and
 * handshake + one rpc on a warm process.
 */
import { connectNode, Cookie } from "../lib/dist/mod.ts";
import { freePort, randomCookie, randomId, startNode } from "../tests/_harness/mod.ts";
import { childEnv, erlmeshArgv } from "../tests/_erlmesh.ts";
import { median, printTable, quantile, round } from "./_stats.ts";

/** The goal: `erlmesh ping` as a process at least this many times faster than the `erl` one-liner. */
const PING_GOAL = 4;

async function timeProcess(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, {
    args,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dt = performance.now() - t0;
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success || !text.includes("pong")) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${text} ${new TextDecoder().decode(out.stderr)}`);
  }
  return dt;
}

/** Runs the wire benchmarks and returns the figures. */
export async function benchWire(runs = 15, iterations = 1000): Promise<Record<string, number>> {
  const secret = randomCookie();
  const epmdPort = freePort();
  const name = `bench${randomId(4)}@127.0.0.1`;
  await using _node = await startNode({ name, cookie: secret, epmdPort });
  const home = await Deno.makeTempDir({ prefix: "erlmesh-bench-" });
  await Deno.writeTextFile(`${home}/.erlang.cookie`, secret, { mode: 0o400 });
  // Both pingers get the same environment: the cookie in $HOME/.erlang.cookie, the node's EPMD port.
  const env = childEnv({ HOME: home, ERL_EPMD_PORT: String(epmdPort) });
  try {
    const [cmd, ...erlmeshArgs] = erlmeshArgv(["ping", name]);
    const erlArgs = (i: number) => [
      "-noshell",
      "-name",
      `pinger${i}${randomId(3)}@127.0.0.1`,
      "-eval",
      `io:format("~p~n", [net_adm:ping('${name}')]), halt().`,
    ];
    await timeProcess(cmd, erlmeshArgs, env); // warm the module cache
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await timeProcess(cmd, erlmeshArgs, env));
      theirs.push(await timeProcess("erl", erlArgs(i), env));
    }
    const ratio = median(theirs) / median(ours);
    printTable(`ping as a process, both pinging ${name} (${runs} runs each, interleaved; wall time, ms)`, [
      "command",
      "median",
      "p90",
      "min",
    ], [
      [
        "erlmesh ping NODE (deno run)",
        round(median(ours)),
        round(quantile(ours, 0.9)),
        round(Math.min(...ours)),
      ],
      [
        "erl -noshell -eval 'net_adm:ping(NODE)'",
        round(median(theirs)),
        round(quantile(theirs, 0.9)),
        round(Math.min(...theirs)),
      ],
      ["ratio (erl / erlmesh)", `${round(ratio, 2)}x`, "", ""],
    ]);
    console.log(
      `goal: erlmesh ping at least ${PING_GOAL}x faster than the erl one-liner: ${
        ratio >= PING_GOAL ? "met" : "NOT MET"
      } (${round(ratio, 2)}x; erlmesh as 'deno run main.ts', not compiled: deno compile cannot download its` +
        ` runtime here)`,
    );

    const cookie = new Cookie(secret, "bench");
    const times: number[] = [];
    const rpcOnly: number[] = [];
    for (let i = 0; i < iterations + 20; i++) {
      const t0 = performance.now();
      const conn = await connectNode(name, { cookie, epmdPort });
      const t1 = performance.now();
      await conn.rpc("erlang", "node", []);
      const t2 = performance.now();
      conn.close();
      if (i >= 20) {
        times.push(t2 - t0);
        rpcOnly.push(t2 - t1);
      }
    }
    printTable(`EPMD lookup + handshake + one rpc on a warm process (${iterations} iterations, ms)`, [
      "measure",
      "median",
      "p99",
    ], [
      ["connect + rpc", round(median(times), 3), round(quantile(times, 0.99), 3)],
      ["rpc round trip alone", round(median(rpcOnly), 3), round(quantile(rpcOnly, 0.99), 3)],
    ]);
    return {
      pingProcessMedianMs: round(median(ours)),
      erlPingProcessMedianMs: round(median(theirs)),
      pingRatio: round(ratio, 2),
      connectRpcMedianMs: round(median(times), 3),
      connectRpcP99Ms: round(quantile(times, 0.99), 3),
      rpcMedianMs: round(median(rpcOnly), 3),
      rpcP99Ms: round(quantile(rpcOnly, 0.99), 3),
    };
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) await benchWire();
