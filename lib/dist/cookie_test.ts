import assert from "node:assert/strict";
import { Cookie, readCookieFile, redactCookies, resolveCookie } from "./cookie.ts";
import { CookieError } from "./errors.ts";

async function tempFile(bytes: Uint8Array | string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "erlmesh-cookie-test-" });
  await Deno.writeFile(path, typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes, {
    mode: 0o400,
  });
  return path;
}

Deno.test("Cookie never prints its value", () => {
  const c = new Cookie("sekrit-value", "test");
  assert.equal(String(c), "[cookie redacted]");
  assert.equal(JSON.stringify({ c }), '{"c":"[cookie redacted]"}');
  assert.ok(!Deno.inspect(c).includes("sekrit-value"));
  assert.ok(!Deno.inspect({ nested: [c] }).includes("sekrit-value"));
  assert.equal(redactCookies("x sekrit-value y"), "x [cookie redacted] y");
});

Deno.test("resolveCookie() takes --cookie-file first, then the variables in order, then ~/.erlang.cookie", async () => {
  const file = await tempFile("FROMFILE\n");
  const home = await Deno.makeTempDir({ prefix: "erlmesh-home-" });
  await Deno.writeTextFile(`${home}/.erlang.cookie`, "FROMHOME", { mode: 0o400 });
  try {
    const env = (vars: Record<string, string>) => (n: string) => vars[n];
    const all = { RELEASE_COOKIE: "R", ERLANG_COOKIE: "E", CLUSTER_ERLANG_COOKIE: "C" };
    assert.equal((await resolveCookie({ cookieFile: file, env: env(all), home })).source, `file ${file}`);
    assert.equal((await resolveCookie({ env: env(all), home })).source, "RELEASE_COOKIE");
    assert.equal(
      (await resolveCookie({ env: env({ ERLANG_COOKIE: "E", CLUSTER_ERLANG_COOKIE: "C" }), home })).source,
      "ERLANG_COOKIE",
    );
    assert.equal(
      (await resolveCookie({ env: env({ CLUSTER_ERLANG_COOKIE: "C" }), home })).source,
      "CLUSTER_ERLANG_COOKIE",
    );
    const fromHome = await resolveCookie({ env: env({}), home });
    assert.equal(fromHome.source, `file ${home}/.erlang.cookie`);
    assert.ok(fromHome.occursIn("FROMHOME"));
  } finally {
    await Deno.remove(file);
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("resolveCookie() without any source lists where it looked", async () => {
  const home = await Deno.makeTempDir({ prefix: "erlmesh-home-" });
  try {
    await assert.rejects(
      resolveCookie({ env: () => undefined, home }),
      (e: unknown) =>
        e instanceof CookieError && e.code === "NOT_FOUND" && e.message.includes("RELEASE_COOKIE") &&
        e.message.includes(home),
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("readCookieFile() follows OTP: printable run, then only CR/LF/space; spaces inside count", async () => {
  const ok = await tempFile("ab c \r\n \n");
  const bad = await tempFile(new Uint8Array([0x61, 0x62, 0x0a, 0x63]));
  const empty = await tempFile("\n");
  try {
    const c = await readCookieFile(ok);
    assert.equal(new TextDecoder().decode(c.bytes()), "ab c ");
    await assert.rejects(
      readCookieFile(bad),
      (e: unknown) => e instanceof CookieError && e.code === "INVALID",
    );
    await assert.rejects(
      readCookieFile(empty),
      (e: unknown) => e instanceof CookieError && /empty/.test(e.message),
    );
    await assert.rejects(
      readCookieFile(`${ok}.missing`),
      (e: unknown) => e instanceof CookieError && e.code === "UNREADABLE",
    );
  } finally {
    for (const p of [ok, bad, empty]) await Deno.remove(p);
  }
});

Deno.test("readCookieFile() refuses, as OTP's auth does, a file that group or others can access", async () => {
  const dir = await Deno.makeTempDir({ prefix: "erlmesh-cookie-mode-" });
  try {
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o601, 0o410]) {
      const path = `${dir}/c-${mode.toString(8)}`;
      await Deno.writeTextFile(path, "SECRETCOOKIE");
      await Deno.chmod(path, mode);
      await assert.rejects(readCookieFile(path), (e: unknown) => {
        assert.ok(e instanceof CookieError && e.code === "INVALID", String(e));
        assert.ok(e.message.includes(`'${path}'`), e.message);
        assert.ok(e.message.includes(`0${mode.toString(8)}`), e.message);
        assert.ok(e.message.includes(`chmod 400 ${path}`), e.message);
        assert.ok(!e.message.includes("SECRETCOOKIE"), e.message);
        return true;
      });
      // A file the VM's auth never reads (releases/COOKIE) may be read without the rule.
      assert.ok((await readCookieFile(path, { ownerOnly: false })).occursIn("SECRETCOOKIE"));
    }
    for (const mode of [0o400, 0o600, 0o700]) {
      const path = `${dir}/ok-${mode.toString(8)}`;
      await Deno.writeTextFile(path, "SECRETCOOKIE");
      await Deno.chmod(path, mode);
      assert.ok((await readCookieFile(path)).occursIn("SECRETCOOKIE"));
    }
    await assert.rejects(
      readCookieFile(dir),
      (e: unknown) => e instanceof CookieError && /is a directory, expected a regular file/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolveCookie() applies the owner-only rule to ~/.erlang.cookie as OTP does", async () => {
  const home = await Deno.makeTempDir({ prefix: "erlmesh-home-" });
  try {
    await Deno.writeTextFile(`${home}/.erlang.cookie`, "FROMHOME");
    await Deno.chmod(`${home}/.erlang.cookie`, 0o644);
    await assert.rejects(
      resolveCookie({ env: () => undefined, home }),
      (e: unknown) => e instanceof CookieError && /mode is 0644/.test(e.message),
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
