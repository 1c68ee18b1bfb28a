/**
 * The cookie file's mode, as OTP decides it: a real VM refuses a `~/.erlang.cookie` that group or others
 * can access, and erlmesh refuses the same file (exit 2, naming the file, its mode and the fix) instead
 * of using a cookie the node itself would never start with. An Elixir release's `releases/COOKIE` is read
 * by its start script, not by the VM's auth: `releases_test.ts` runs the real release with a 0644 one.
 */
import assert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { freePort, otpAvailability, randomCookie } from "./_harness/mod.ts";
import { tempPrefix } from "./_harness/prefix.ts";

const avail = otpAvailability("25");
if (!avail.available) console.warn(`SKIP the cookie mode test against a real VM: ${avail.why}`);

Deno.test({
  name:
    "a 0644 ~/.erlang.cookie: the real VM refuses it, and so does erlmesh (exit 2, file, mode, chmod 400)",
  ignore: !avail.available,
  async fn() {
    const secret = randomCookie();
    const home = await Deno.makeTempDir({ prefix: tempPrefix("cookie-mode") });
    try {
      const file = `${home}/.erlang.cookie`;
      await Deno.writeTextFile(file, secret);
      await Deno.chmod(file, 0o644);

      // The VM: distribution does not start; auth names the file.
      const vm = await new Deno.Command("erl", {
        // -start_epmd false: no EPMD daemon is left behind (auth reads the cookie before EPMD is asked).
        args: [
          "-noshell",
          "-start_epmd",
          "false",
          "-name",
          "modetest@127.0.0.1",
          "-eval",
          'io:format("started~n"), halt().',
        ],
        env: { HOME: home, ERL_CRASH_DUMP: `${home}/erl_crash.dump`, ERL_EPMD_PORT: String(freePort()) },
        cwd: home,
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(30000),
      }).output();
      const vmText = new TextDecoder().decode(vm.stdout) + new TextDecoder().decode(vm.stderr);
      assert.notEqual(vm.code, 0, vmText);
      assert.ok(!vmText.includes("started"), vmText);
      assert.ok(vmText.includes(`Cookie file ${file} must be accessible by owner only`), vmText);

      // erlmesh, from ~/.erlang.cookie and from --cookie-file.
      for (const args of [["ping", "x@127.0.0.1"], ["ping", "x@127.0.0.1", "--cookie-file", file]]) {
        const r = await erlmesh(args, { HOME: home });
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.ok(r.stderr.includes(`'${file}'`), r.stderr);
        assert.match(r.stderr, /its mode is 0644, so group or others can access it/);
        assert.ok(r.stderr.includes(`chmod 400 ${file}`), r.stderr);
        assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), "the cookie was printed");
      }
    } finally {
      await Deno.remove(home, { recursive: true }).catch(() => {});
    }
  },
});
