/** `erlmesh run --basename '*'`: the release's node is found by the glob, as the reconciler finds it. */
import assert from "node:assert/strict";
import { childEnv, collectLines, DENO_FLAGS, entryArgs } from "./_erlmesh.ts";
import { freePort, otpAvailability, randomCookie, randomId } from "./_harness/mod.ts";

const avail = otpAvailability("25");
if (!avail.available) console.warn(`SKIP run with a glob basename: ${avail.why}`);

Deno.test({
  name: "run --basename '*' waits for the release's node by the glob and meshes it",
  ignore: !avail.available,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "erlmesh-run-glob-" });
    const secret = randomCookie();
    await Deno.writeTextFile(`${home}/.erlang.cookie`, secret, { mode: 0o400 });
    const name = `glob${randomId(4)}@127.0.0.1`;
    const epmdPort = String(freePort());
    const lines: string[] = [];
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...DENO_FLAGS,
        ...entryArgs(),
        "run",
        "--basename",
        "*",
        "--hosts",
        "127.0.0.1",
        "--cookie-file",
        `${home}/.erlang.cookie`,
        "--log-format",
        "json",
        "--",
        "erl",
        "-noshell",
        "-name",
        name,
        "-eval",
        "timer:sleep(60000), halt().",
      ],
      env: childEnv({ HOME: home, ERL_EPMD_PORT: epmdPort }),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pumps = Promise.all([collectLines(child.stdout, lines), collectLines(child.stderr, lines)]);
    try {
      const end = Date.now() + 30_000;
      const seen = (event: string) => lines.some((l) => l.includes(`"event":"${event}"`));
      while (!(seen("registered") && lines.some((l) => l.includes(`Connected to the local node ${name}`)))) {
        assert.ok(Date.now() < end, lines.join("\n"));
        await new Promise((r) => setTimeout(r, 50));
      }
      const registered = lines.find((l) => l.includes('"event":"registered"'))!;
      assert.match(registered, new RegExp(`'${name.split("@")[0]}' registered`));
      assert.ok(!lines.some((l) => l.includes('"event":"not_registered"')), lines.join("\n"));
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await pumps;
      await new Deno.Command("epmd", { args: ["-port", epmdPort, "-kill"], stdout: "null", stderr: "null" })
        .output().catch(() => {});
      await Deno.remove(home, { recursive: true });
    }
    assert.ok(!lines.join("\n").includes(secret));
  },
});
