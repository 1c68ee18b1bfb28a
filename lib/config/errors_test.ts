import assert from "node:assert/strict";
import { ConfigError, isCookieKey } from "./errors.ts";

Deno.test("ConfigError.invalid() builds 'Invalid <key> '<value>' from <source>: expected <expected>'", () => {
  const err = ConfigError.invalid({
    key: "interval",
    source: "env ERLMESH_INTERVAL",
    value: "5x",
    expected: "a duration such as 500ms, 2s or 1000 (milliseconds)",
  });
  assert.ok(err instanceof Error);
  assert.equal(err.name, "ConfigError");
  assert.equal(err.code, "INVALID");
  assert.equal(err.key, "interval");
  assert.equal(err.source, "env ERLMESH_INTERVAL");
  assert.equal(err.value, "5x");
  assert.equal(
    err.message,
    "Invalid interval '5x' from env ERLMESH_INTERVAL: expected a duration such as 500ms, 2s or 1000 (milliseconds)",
  );
});

Deno.test("ConfigError never keeps or prints the value of a cookie-related key", () => {
  const err = ConfigError.invalid({
    key: "cookieFile",
    source: "flag --cookie-file",
    value: "s3cret",
    expected: "x",
  });
  assert.equal(err.value, undefined);
  assert.equal(err.message, "Invalid cookieFile from flag --cookie-file: expected x");
  const other = new ConfigError("UNKNOWN_KEY", {
    key: "cookie",
    source: "file f (key cookie)",
    value: "s3cret",
  }, "m");
  assert.equal(other.value, undefined);
  assert.ok(!JSON.stringify(other).includes("s3cret"));
  assert.ok(isCookieKey("erlangCookie") && isCookieKey("COOKIE") && !isCookieKey("interval"));
});

Deno.test("ConfigError keeps its cause", () => {
  const cause = new Error("inner");
  const err = new ConfigError(
    "FILE",
    { key: "", source: "file /x" },
    "Cannot read the config file '/x': inner",
    {
      cause,
    },
  );
  assert.equal(err.cause, cause);
  assert.equal(err.code, "FILE");
});
