/**
 * `deno task demo`: erlmesh's main job on a laptop, no Kubernetes, no root. Starts three real Erlang
 * nodes on 127.0.0.1, each under `erlmesh run` with a static host list (a fresh cookie file, a private
 * EPMD port), shows the full mesh, stops one node and shows the mesh around it, starts it again and
 * shows it rejoin, then cleans up.
 */

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PERMS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-run",
  "--allow-sys",
  "--conditions=browser",
  "--v8-flags=--no-lazy",
];
const enc = new TextEncoder();

function say(text: string): void {
  Deno.stdout.writeSync(enc.encode(text + "\n"));
}

function which(cmd: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Runs erlmesh as a process, echoing the command line and its output. */
async function erlmesh(env: Record<string, string>, ...args: string[]): Promise<number> {
  say(`\n$ erlmesh ${args.join(" ")}`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...PERMS, MAIN, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  say(text.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));
  say(`  (exit code ${out.code})`);
  return out.code;
}

/** One `erlmesh run -- erl ...` process: the way a release runs in its container. */
interface DemoNode {
  name: string;
  http: string;
  child: Deno.ChildProcess;
  log: string[];
}

function startUnderRun(name: string, env: Record<string, string>, hosts: string): DemoNode {
  const http = `127.0.0.1:${freePort()}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...PERMS,
      "--allow-ffi",
      MAIN,
      "run",
      "--node",
      name,
      "--basename",
      "demo*",
      "--discovery",
      "static",
      "--hosts",
      hosts,
      "--http",
      http,
      "--log-format",
      "text",
      "--",
      "erl",
      "-noshell",
      "-name",
      name,
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const node: DemoNode = { name, http, child, log: [] };
  for (const stream of [child.stdout, child.stderr]) {
    (async () => {
      const dec = new TextDecoder();
      for await (const chunk of stream) node.log.push(...dec.decode(chunk).split("\n").filter(Boolean));
    })().catch(() => {});
  }
  return node;
}

async function stopRun(n: DemoNode): Promise<number> {
  try {
    n.child.kill("SIGTERM");
  } catch { /* gone */ }
  const t = setTimeout(() => {
    try {
      n.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10000);
  const status = await n.child.status;
  clearTimeout(t);
  return status.code;
}

/** Runs `erlmesh` quietly until it exits with `want` or `timeoutMs` passes. */
async function until(
  env: Record<string, string>,
  want: number,
  timeoutMs: number,
  ...args: string[]
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...PERMS, MAIN, ...args],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    if (out.code === want) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Runs the demo; returns the number of steps that did not give the expected result. */
export async function demo(): Promise<number> {
  if (!which("erl")) {
    say("The demo needs Erlang/OTP's `erl` on the PATH.");
    say("  Debian/Ubuntu: sudo apt-get install erlang-base    macOS: brew install erlang");
    say("  Fedora: sudo dnf install erlang                    or see https://www.erlang.org/downloads");
    return 1;
  }
  const home = await Deno.makeTempDir({ prefix: "erlmesh-demo-" });
  const cookie = Array.from(
    crypto.getRandomValues(new Uint8Array(20)),
    (b) => String.fromCharCode(65 + (b % 26)),
  ).join("");
  await Deno.writeTextFile(`${home}/.erlang.cookie`, cookie, { mode: 0o400 });
  const epmdPort = String(freePort());
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    ERL_EPMD_PORT: epmdPort,
  };
  for (const k of ["DENO_DIR", "SSL_CERT_FILE", "SSL_CERT_DIR"]) {
    const v = Deno.env.get(k);
    if (v) env[k] = v;
  }
  env.DENO_DIR ??= `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
  const tag = Math.random().toString(36).slice(2, 6);
  const names = ["a", "b", "c"].map((x) => `demo${x}${tag}@127.0.0.1`);
  const runs = new Map<string, DemoNode>();
  let failures = 0;
  const expect = (ok: boolean) => {
    if (!ok) failures++;
  };
  try {
    say("erlmesh demo: three Erlang nodes on 127.0.0.1, each started under `erlmesh run` as a container");
    say(
      `entrypoint would start it, with a static host list. Cookie in ${home}/.erlang.cookie, EPMD port ${epmdPort}.`,
    );
    for (const n of names) {
      say(
        `\n$ erlmesh run --node ${n} --basename 'demo*' --discovery static --hosts 127.0.0.1 -- erl -noshell -name ${n} &`,
      );
      runs.set(n, startUnderRun(n, env, "127.0.0.1"));
    }
    expect(await until(env, 0, 30000, "mesh", "--nodes", names.join(",")));
    expect(await erlmesh(env, "names") === 0);
    expect(await erlmesh(env, "mesh", "--nodes", names.join(",")) === 0);
    expect(await erlmesh(env, "ping", ...names) === 0);
    expect(await erlmesh(env, "nodes", names[0]) === 0);
    expect(await erlmesh(env, "probe", "readiness", "--http", runs.get(names[0])!.http) === 0);

    const [a, b, c] = names;
    say(`\nStopping ${b} (SIGTERM to its erlmesh run, which forwards it to the node):`);
    const code = await stopRun(runs.get(b)!);
    runs.delete(b);
    say(`  erlmesh run exited with the node's exit code: ${code}`);
    expect(code === 0);
    expect(await erlmesh(env, "mesh", "--nodes", `${a},${c}`) === 0);
    expect(
      await erlmesh(
        env,
        "status",
        "--node",
        a,
        "--basename",
        "demo*",
        "--discovery",
        "static",
        "--hosts",
        "127.0.0.1",
      ) === 0,
    );

    say(`\nStarting ${b} again:`);
    say(`$ erlmesh run --node ${b} ... -- erl -noshell -name ${b} &`);
    runs.set(b, startUnderRun(b, env, "127.0.0.1"));
    expect(await until(env, 0, 30000, "mesh", "--nodes", names.join(",")));
    expect(await erlmesh(env, "mesh", "--nodes", names.join(",")) === 0);

    say("\nA few of the metrics `run` serves on --http (GET /metrics):");
    const metrics = await (await fetch(`http://${runs.get(a)!.http}/metrics`)).text();
    say(
      metrics.split("\n").filter((l) =>
        /^erlmesh_(discovered|connected|missing)_peers |^erlmesh_joins_total/.test(l)
      ).map((l) => `  ${l}`).join("\n"),
    );
    expect(/erlmesh_missing_peers 0/.test(metrics));

    say("\nWhat a wrong cookie looks like (the cookie itself is never printed):");
    expect(await erlmesh({ ...env, RELEASE_COOKIE: "not-the-cookie" }, "ping", a) === 1);
  } finally {
    await Promise.all([...runs.values()].map(stopRun));
    await new Deno.Command("epmd", {
      args: ["-port", epmdPort, "-kill"],
      env,
      stdout: "null",
      stderr: "null",
    }).output()
      .catch(() => {});
    await Deno.remove(home, { recursive: true });
  }
  say(
    failures === 0
      ? "\nDemo finished: every step gave the expected result."
      : `\nDemo finished with ${failures} unexpected result(s).`,
  );
  return failures;
}

if (import.meta.main) Deno.exit((await demo()) === 0 ? 0 : 1);
