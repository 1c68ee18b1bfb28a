import assert from "node:assert/strict";
import { ByteWriter, ExactReader, frame16, memoryPipe } from "../bytes/mod.ts";
import { Cookie, HandshakeError } from "../dist/mod.ts";
import { MANDATORY_25, MANDATORY_26 } from "../dist/flags.ts";
import { clientHandshake } from "../dist/handshake.ts";
import { type DiagnosisCode, diagnosisOf, isRefusalCode } from "./diagnose.ts";

const B = "b@10.0.0.2";
const cookie = new Cookie("diagnose-test-cookie", "test");

/** Runs erlmesh's handshake against a scripted node that answers its challenge as `answersAs`. */
async function nameMismatch(answersAs: string): Promise<HandshakeError> {
  const [a, b] = memoryPipe();
  const done = clientHandshake(a, new ExactReader(a), {
    localName: "erlmesh-1@10.0.0.1",
    targetName: B,
    cookie,
    creation: 1,
    signal: AbortSignal.timeout(2000),
  });
  const reader = new ExactReader(b);
  await reader.readExact(new DataView((await reader.readExact(2)).buffer).getUint16(0));
  b.write(frame16(new TextEncoder().encode("sok")));
  const n = new TextEncoder().encode(answersAs);
  b.write(
    frame16(
      new ByteWriter().u8(0x4e).u64(MANDATORY_25 | MANDATORY_26).u32(7).u32(9).u16(n.length).bytes(n)
        .finish(),
    ),
  );
  try {
    await done;
  } catch (err) {
    assert.ok(err instanceof HandshakeError, String(err));
    return err;
  } finally {
    a.close();
    b.close();
  }
  throw new Error("the handshake succeeded against a node of another name");
}

Deno.test("diagnosisOf() a name mismatch says which name the node answered under, as the handshake does", async () => {
  const err = await nameMismatch("c@10.0.0.2");
  const d = diagnosisOf(B, err);
  assert.equal(d.code, "NAME_MISMATCH");
  assert.equal(
    d.message,
    "the node on that port is 'c@10.0.0.2', not 'b@10.0.0.2' " +
      "(use the node's exact name, as in its -name/-sname or RELEASE_NODE)",
  );
  assert.equal(`Cannot connect to '${B}': ${d.message}`, err.message, "the same words as the handshake's");
});

Deno.test("diagnosisOf() builds the name mismatch from the error's fields, not from its message text", () => {
  const err = new HandshakeError("NAME_MISMATCH", B, "Cannot connect: reworded", { peerName: "c@10.0.0.2" });
  assert.match(
    diagnosisOf(B, err).message,
    /^the node on that port is 'c@10\.0\.0\.2', not 'b@10\.0\.0\.2' \(/,
  );
  // Without the field there is nothing to build from: the handshake's own message stands.
  const bare = new HandshakeError("NAME_MISMATCH", B, "Cannot connect to 'b@10.0.0.2': reworded");
  assert.deepEqual(diagnosisOf(B, bare), { code: "NAME_MISMATCH", message: bare.message });
});

Deno.test("diagnosisOf() a refused cookie says the peer runs another cookie, never the cookie", () => {
  const err = new HandshakeError("COOKIE_REJECTED", B, "Cannot connect to 'b@10.0.0.2': refused");
  const d = diagnosisOf(B, err);
  assert.deepEqual(d, {
    code: "COOKIE_REJECTED",
    message: "'b@10.0.0.2' refuses the cookie: it runs with a different cookie than this pod",
  });
  assert.ok(!cookie.occursIn(d.message));
});

Deno.test("diagnosisOf() keeps other handshake codes and messages, and any other error is UNKNOWN", () => {
  const err = new HandshakeError("NOT_ALLOWED", B, "Cannot connect to 'b@10.0.0.2': not_allowed");
  assert.deepEqual(diagnosisOf(B, err), { code: "NOT_ALLOWED", message: err.message });
  assert.deepEqual(diagnosisOf(B, new Error("Cannot frobnicate: broken")), {
    code: "UNKNOWN",
    message: "Cannot frobnicate: broken",
  });
});

Deno.test("isRefusalCode() is true for a refused cookie, a wrong digest, another name, not_allowed and TLS failures only", () => {
  const refusals: DiagnosisCode[] = [
    "COOKIE_REJECTED",
    "BAD_DIGEST",
    "NAME_MISMATCH",
    "NOT_ALLOWED",
    // Each refused TLS handshake is a notice in the node's log: retried as slowly as a wrong cookie.
    "CERT_REJECTED",
    "CERT_UNTRUSTED",
    "CERT_NAME",
    "CERT_EXPIRED",
    "TLS_REQUIRED",
    "NO_TLS",
  ];
  const others: DiagnosisCode[] = [
    "NOT_REGISTERED",
    "TIMEOUT",
    "UNREACHABLE",
    "REFUSED",
    "RPC",
    "CLOSED",
    "UNKNOWN",
  ];
  for (const code of refusals) assert.ok(isRefusalCode(code), code);
  for (const code of others) assert.ok(!isRefusalCode(code), code);
});
