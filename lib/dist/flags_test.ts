import assert from "node:assert/strict";
import { CLIENT_FLAGS, DFLAG, expandFlags, flagNames, MANDATORY_25, missingFlags } from "./flags.ts";

Deno.test("CLIENT_FLAGS equals erl_interface's preferred flags and is hidden", () => {
  assert.equal(CLIENT_FLAGS, 0x407074f9cn);
  assert.equal(CLIENT_FLAGS & DFLAG.PUBLISHED, 0n);
  assert.equal(MANDATORY_25, 0x1070f94n);
});

Deno.test("flags above bit 31 survive (V4_NC is bit 34)", () => {
  assert.notEqual(CLIENT_FLAGS & DFLAG.V4_NC, 0n);
  assert.ok(flagNames(CLIENT_FLAGS).includes("V4_NC"));
});

Deno.test("missingFlags() expands the DIGEST bit and names what lacks", () => {
  assert.deepEqual(missingFlags(DFLAG.MANDATORY_25_DIGEST, MANDATORY_25), []);
  assert.deepEqual(missingFlags(MANDATORY_25 & ~DFLAG.BIG_CREATION, MANDATORY_25), ["BIG_CREATION"]);
  assert.equal(expandFlags(DFLAG.MANDATORY_25_DIGEST) & MANDATORY_25, MANDATORY_25);
});

Deno.test("flagNames() keeps unknown bits as hex", () => {
  assert.deepEqual(flagNames(DFLAG.PUBLISHED | (1n << 40n)), ["PUBLISHED", "0x10000000000"]);
});
