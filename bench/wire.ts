/**
 * Wire-core benchmarks: `erlmesh ping` as a process against `erl -eval 'net_adm:ping(...)'`, and
 * handshake + one rpc on a warm process.
 */
import { connectNode, Cookie } from "../lib/dist/mod.ts";
import { freePort, randomCookie, randomId, startNode } from "../tests/_harness/mod.ts";
import { median, printTable, quantile, round } from "./_stats.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function timeProcess(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped", stdin: "null" })
    .output();
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
  const env = { HOME: home, ERL_EPMD_PORT: String(epmdPort) };
  try {
    const deno = Deno.execPath();
    const erlmeshArgs = [
      "run",
      "--quiet",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-run",
      "--allow-sys",
      MAIN,
      "ping",
      name,
    ];
    const erlArgs = (i: number) => [
      "-noshell",
      "-name",
      `pinger${i}${randomId(3)}@127.0.0.1`,
      "-eval",
      `io:format("~p~n", [net_adm:ping('${name}')]), halt().`,
    ];
    await timeProcess(deno, erlmeshArgs, env); // warm the module cache
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await timeProcess(deno, erlmeshArgs, env));
      theirs.push(await timeProcess("erl", erlArgs(i), env));
    }
    const ratio = median(theirs) / median(ours);
    printTable("ping as a process (wall time, ms)", ["command", "median", "p90", "min"], [
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
