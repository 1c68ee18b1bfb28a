import assert from "node:assert/strict";
import { CookieError } from "../dist/mod.ts";
import { detectRelease, releaseNodeCookie } from "./release.ts";

/** A fake release root with `files` (path → text) and a HOME with its own ~/.erlang.cookie. */
async function fakeRelease(files: Record<string, string>): Promise<{ root: string; home: string }> {
  const dir = await Deno.makeTempDir({ prefix: "erlmesh-release-test-" });
  const root = `${dir}/rel`;
  for (const [path, text] of Object.entries({ "releases/start_erl.data": "13.1.5 0.1.0\n", ...files })) {
    await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  }
  const home = `${dir}/home`;
  await Deno.mkdir(home);
  await Deno.writeTextFile(`${home}/.erlang.cookie`, "HOMECOOKIE", { mode: 0o400 });
  return { root, home };
}

const ELIXIR_SCRIPT = 'RELEASE_COOKIE="${RELEASE_COOKIE:-"$(cat "$RELEASE_ROOT/releases/COOKIE")"}"\n';
const RELX_SCRIPT = 'if [ -n "$RELX_COOKIE" ]; then\n    COOKIE="$RELX_COOKIE"\nfi\n';

Deno.test("releaseNodeCookie(): an Elixir release takes releases/COOKIE (mode 0644 too), never ~/.erlang.cookie", async () => {
  const { root, home } = await fakeRelease({ "bin/app": ELIXIR_SCRIPT, "releases/COOKIE": "RELCOOKIE\n" });
  try {
    await Deno.chmod(`${root}/releases/COOKIE`, 0o644);
    const rel = detectRelease(`${root}/bin/app`);
    assert.equal(rel.kind, "elixir");
    assert.equal(rel.vsn, "0.1.0");
    const found = await releaseNodeCookie(rel, { HOME: home, CLUSTER_ERLANG_COOKIE: "OTHER" });
    assert.ok(found);
    assert.equal(found.cookie.source, `file ${root}/releases/COOKIE`);
    assert.ok(found.cookie.occursIn("RELCOOKIE"));
    assert.match(found.why, /RELEASE_COOKIE is not set/);
    assert.deepEqual(found.warnings.length, 1);
    assert.match(found.warnings[0], /CLUSTER_ERLANG_COOKIE is set, but an Elixir release does not read it/);

    const fromEnv = await releaseNodeCookie(rel, { HOME: home, RELEASE_COOKIE: "ENVCOOKIE" });
    assert.equal(fromEnv?.cookie.source, "RELEASE_COOKIE");
  } finally {
    await Deno.remove(root.slice(0, root.lastIndexOf("/")), { recursive: true });
  }
});

Deno.test("releaseNodeCookie(): an Elixir release whose env.sh sets RELEASE_COOKIE gets a warning", async () => {
  const { root, home } = await fakeRelease({
    "bin/app": ELIXIR_SCRIPT,
    "releases/0.1.0/env.sh": '#!/bin/sh\nexport RELEASE_COOKIE="$(cat /secrets/cookie)"\n',
  });
  try {
    const rel = detectRelease(`${root}/bin/app`);
    assert.equal(rel.kind, "elixir"); // no releases/COOKIE: known by its start script
    const found = await releaseNodeCookie(rel, { HOME: home, RELEASE_COOKIE: "ENVCOOKIE" });
    assert.ok(
      found?.warnings.some((w) => w.includes("env.sh sets RELEASE_COOKIE")),
      found?.warnings.join("\n"),
    );
    await assert.rejects(
      releaseNodeCookie(rel, { HOME: home }),
      (e: unknown) =>
        e instanceof CookieError && e.code === "NOT_FOUND" && /no releases\/COOKIE/.test(e.message),
    );
  } finally {
    await Deno.remove(root.slice(0, root.lastIndexOf("/")), { recursive: true });
  }
});

Deno.test("releaseNodeCookie(): relx takes -setcookie from vm.args.src (with ${VAR}), else ~/.erlang.cookie", async () => {
  const withArgs = await fakeRelease({
    "bin/demo": RELX_SCRIPT,
    "releases/0.1.0/vm.args.src": "-name ${NODE_NAME}\n-setcookie ${MY_COOKIE}\n",
  });
  const without = await fakeRelease({ "bin/demo": RELX_SCRIPT, "releases/0.1.0/vm.args": "-name a@b\n" });
  try {
    const a = await releaseNodeCookie(detectRelease(`${withArgs.root}/bin/demo`), {
      HOME: withArgs.home,
      MY_COOKIE: "ARGSCOOKIE",
    });
    assert.equal(a?.cookie.source, `-setcookie in ${withArgs.root}/releases/0.1.0/vm.args.src`);
    assert.ok(a?.cookie.occursIn("ARGSCOOKIE"));
    // The release puts its cookie on its VM's command line: erlmesh says so (never the value).
    assert.ok(a?.warnings.some((w) => /on the VM's command line/.test(w)), a?.warnings.join("\n"));
    assert.ok(!a?.warnings.some((w) => w.includes("ARGSCOOKIE")));

    const rel = detectRelease(`${without.root}/bin/demo`);
    assert.equal(rel.kind, "relx");
    // RELX_COOKIE: this start script keeps it for its own commands; the VM reads ~/.erlang.cookie.
    const b = await releaseNodeCookie(rel, {
      HOME: without.home,
      RELX_COOKIE: "RELXCOOKIE",
      RELEASE_COOKIE: "R",
    });
    assert.equal(b?.cookie.source, `file ${without.home}/.erlang.cookie`);
    assert.ok(!b?.warnings.some((w) => /on the VM's command line/.test(w)));
    assert.ok(b?.warnings.some((w) => w.startsWith("RELX_COOKIE is set, but this relx start script")));
    assert.ok(b?.warnings.some((w) => w.startsWith("RELEASE_COOKIE is set, but a relx release's VM")));

    await Deno.remove(`${without.home}/.erlang.cookie`);
    await assert.rejects(
      releaseNodeCookie(rel, { HOME: without.home }),
      (e: unknown) => e instanceof CookieError && /would make up a random one/.test(e.message),
    );
  } finally {
    for (const r of [withArgs, without]) {
      await Deno.remove(r.root.slice(0, r.root.lastIndexOf("/")), { recursive: true });
    }
  }
});

Deno.test("releaseNodeCookie(): undefined for a command that is no release", async () => {
  assert.equal(await releaseNodeCookie(detectRelease("sh"), {}), undefined);
  assert.equal(await releaseNodeCookie(detectRelease("/usr/bin/erl"), {}), undefined);
});
