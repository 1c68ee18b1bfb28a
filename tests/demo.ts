/**
 * `deno task demo`: erlmesh's main job on a laptop, no Kubernetes, no root. Starts real Erlang nodes
 * on 127.0.0.1 with a fresh cookie file and a private EPMD port, runs erlmesh against them exactly as
 * a user would, shows the output, and cleans up.
 */

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PERMS = ["--allow-net", "--allow-env", "--allow-read", "--allow-run", "--allow-sys"];
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

interface DemoNode {
  name: string;
  child: Deno.ChildProcess;
}

async function startNode(name: string, env: Record<string, string>): Promise<DemoNode> {
  const child = new Deno.Command("erl", {
    args: ["-noshell", "-name", name, "-eval", 'io:format("ready~n")'],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let seen = "";
  const deadline = Date.now() + 20000;
  while (!seen.includes("ready")) {
    if (Date.now() > deadline) throw new Error(`Node ${name} did not start within 20 s`);
    const r = await reader.read();
    if (r.done) throw new Error(`Node ${name} exited at start: ${seen}`);
    seen += dec.decode(r.value);
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  child.stderr.cancel().catch(() => {});
  return { name, child };
}

async function stopNode(n: DemoNode): Promise<void> {
  try {
    await n.child.stdin.close();
  } catch { /* closed */ }
  const t = setTimeout(() => {
    try {
      n.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 3000);
  await n.child.status;
  clearTimeout(t);
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
  const nodes: DemoNode[] = [];
  let failures = 0;
  const expect = (code: number, want: number) => {
    if (code !== want) failures++;
  };
  try {
    say(
      `erlmesh demo: two Erlang nodes on 127.0.0.1, cookie in ${home}/.erlang.cookie, EPMD on port ${epmdPort}`,
    );
    nodes.push(await startNode(`shop${tag}@127.0.0.1`, env));
    nodes.push(await startNode(`cart${tag}@127.0.0.1`, env));
    const [a, b] = nodes.map((n) => n.name);
    expect(await erlmesh(env, "names"), 0);
    expect(await erlmesh(env, "ping", a, b), 0);
    expect(await erlmesh(env, "nodes", a), 0);
    say(
      "\nThe two nodes do not know each other yet. erlmesh tells one to connect (it never joins the cluster itself: it is a hidden node):",
    );
    expect(await erlmesh(env, "mesh", "--nodes", `${a},${b}`), 1);
    expect(
      await erlmesh(
        env,
        "agent",
        "--node",
        a,
        "--basename",
        "*",
        "--discovery",
        "static",
        "--hosts",
        "127.0.0.1",
        "--log-format",
        "text",
        "--once",
      ),
      0,
    );
    expect(await erlmesh(env, "mesh", "--nodes", `${a},${b}`), 0);
    expect(await erlmesh(env, "nodes", a), 0);
    say("\nWhat a wrong cookie looks like (the cookie itself is never printed):");
    expect(await erlmesh({ ...env, RELEASE_COOKIE: "not-the-cookie" }, "ping", a), 1);
  } finally {
    await Promise.all(nodes.map(stopNode));
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
