// Fuzzing of the handshake messages erlmesh reads (status, challenge, challenge_ack), with the 2-byte
// lengths of TCP distribution and the 4-byte lengths of TLS distribution (inet_tls_dist), from
// mutations of what a real OTP 25 node sent (testdata/fuzz/seeds.json), split into arbitrary chunks.
// Only HandshakeError, never a hang: the hostile node ends the stream, so a TIMEOUT would be one.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ExactReader, frame16, frame32, memoryPipe } from "../bytes/mod.ts";
import { chunked, fuzz, mutated, realSeeds } from "../bytes/_fuzz.ts";
import { Cookie } from "./cookie.ts";
import { HandshakeError } from "./errors.ts";
import { clientHandshake } from "./handshake.ts";

const real = await realSeeds();
const [status, challenge, ack] = real.handshake;
// The name the real node gave in its challenge: u16 length at byte 17, the name from byte 19.
const realName = new TextDecoder("latin1").decode(
  challenge.subarray(19, 19 + new DataView(challenge.buffer).getUint16(17)),
);
const cookie = new Cookie("fuzz-handshake-cookie", "test");

/** The messages a hostile node sends, each mutated or not, framed, or the framed stream mutated. */
const stream = fc.tuple(
  fc.constantFrom<2 | 4>(2, 4),
  fc.oneof(
    fc.tuple(
      fc.oneof(
        fc.constant(status),
        mutated([status]),
        fc.constantFrom("salive", "snok", "snot_allowed", "sx")
          .map((s) => new TextEncoder().encode(s)),
      ),
      fc.oneof(fc.constant(challenge), mutated([challenge])),
      fc.oneof(fc.constant(ack), mutated([ack])),
    ).map((messages) => ({ messages, mutateFramed: false })),
    fc.constant({ messages: [status, challenge, ack], mutateFramed: true }),
  ),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
  fc.array(fc.nat(), { maxLength: 4 }),
  fc.boolean(),
);

Deno.test("clientHandshake() on hostile status, challenge and ack messages throws HandshakeError, never hangs", async () => {
  await fuzz("dist: handshake messages (2- and 4-byte lengths)", stream, async (
    [lengthBytes, { messages, mutateFramed }, edits, cuts, anyName],
  ) => {
    const frame = lengthBytes === 4 ? frame32 : frame16;
    const bytes = Uint8Array.from(messages.flatMap((m) => [...frame(m)]));
    if (mutateFramed) {
      for (const [at, value] of edits) bytes[at % bytes.length] = value;
    }
    const [client, node] = memoryPipe();
    for (const c of chunked(bytes, cuts)) client.push(c);
    client.end();
    // The deadline of a real connect, cleared after each input (a million pending timers would be the
    // test's own memory, not the decoder's).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException("deadline", "TimeoutError")), 5000);
    try {
      await clientHandshake(client, new ExactReader(client), {
        localName: "erlmesh-fuzz@127.0.0.1",
        targetName: realName,
        anyName,
        cookie,
        creation: 1,
        lengthBytes,
        signal: deadline.signal,
      });
      // Success needs the digest of our random challenge: no replayed ack has it.
      assert.fail("a replayed challenge_ack passed the digest check");
    } catch (e) {
      if (!(e instanceof HandshakeError)) throw e;
      assert.notEqual(e.code, "TIMEOUT", e.message);
      assert.ok(!cookie.occursIn(e.message), "the cookie is in the error");
      return e.code;
    } finally {
      clearTimeout(timer);
      client.close();
      node.close();
    }
  }, { runs: 3000, async: true });
});
