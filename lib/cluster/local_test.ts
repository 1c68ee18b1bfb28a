import assert from "node:assert/strict";
import { HandshakeError } from "../dist/mod.ts";
import { ClusterError } from "./errors.ts";
import { isRefusal } from "./local.ts";

Deno.test("isRefusal() is true for a refused cookie, name or not_allowed, and an ambiguous glob only", () => {
  for (const code of ["COOKIE_REJECTED", "BAD_DIGEST", "NAME_MISMATCH", "NOT_ALLOWED"] as const) {
    assert.equal(isRefusal(new HandshakeError(code, "a@h", "x")), true, code);
  }
  for (const code of ["UNREACHABLE", "NOT_REGISTERED", "TIMEOUT", "CLOSED"] as const) {
    assert.equal(isRefusal(new HandshakeError(code, "a@h", "x")), false, code);
  }
  assert.equal(isRefusal(new ClusterError("LOCAL_NODE_AMBIGUOUS", "x")), true);
  assert.equal(isRefusal(new Error("x")), false);
});
