// Fuzzing of the handshake messages erlmesh reads (status, challenge, challenge_ack), with the 2-byte
// lengths of TCP distribution and the 4-byte lengths of TLS distribution (inet_tls_dist), from
// mutations of what a real OTP 25 node sent (testdata/fuzz/seeds.json), split into arbitrary chunks.
// Only HandshakeError, never a hang: the hostile node ends the stream, so a TIMEOUT would be one.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter, ExactReader, frame16, frame32, memoryPipe, type MemoryTransport } from "../bytes/mod.ts";
import { chunked, fuzz, mutated, realSeeds } from "../bytes/_fuzz.ts";
import { Cookie } from "./cookie.ts";
import { HandshakeError } from "./errors.ts";
import { MANDATORY_25 } from "./flags.ts";
import { clientHandshake, genDigest } from "./handshake.ts";

const real = await realSeeds();
const [status, challenge, ack] = real.handshake;
// The name the real node gave in its challenge: u16 length at byte 17, the name from byte 19.
const realName = new TextDecoder("latin1").decode(
  challenge.subarray(19, 19 + new DataView(challenge.buffer).getUint16(17)),
);
const cookie = new Cookie("fuzz-handshake-cookie", "test");

/** The messages a hostile node sends, each mutated or not, framed, or the framed stream mutated. */
/** A TLS alert (handshake_failure) and the head of a ServerHello, as a TLS node answers send_name. */
const TLS_RECORDS = [
  Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28),
  Uint8Array.of(0x16, 0x03, 0x03, 0x00, 0x5a, 0x02, 0x00, 0x00, 0x56, 0x03, 0x03, ...new Uint8Array(32)),
];

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
    ).map((messages) => ({ messages, mutateFramed: false, raw: false })),
    fc.constant({ messages: [status, challenge, ack], mutateFramed: true, raw: false }),
    // A TLS server where a plain node belongs: its alert or the start of its handshake, unframed.
    mutated(TLS_RECORDS).map((raw) => ({ messages: [raw], mutateFramed: false, raw: true })),
  ),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
  fc.array(fc.nat(), { maxLength: 4 }),
  fc.boolean(),
);

Deno.test("clientHandshake() on hostile status, challenge and ack messages throws HandshakeError, never hangs", async () => {
  await fuzz("dist: handshake messages (2- and 4-byte lengths)", stream, async (
    [lengthBytes, { messages, mutateFramed, raw }, edits, cuts, anyName],
  ) => {
    const frame = lengthBytes === 4 ? frame32 : frame16;
    const bytes = raw ? messages[0] : Uint8Array.from(messages.flatMap((m) => [...frame(m)]));
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

/**
 * Plays a node that answers what erlmesh actually sends: the status, a challenge with the given flags,
 * creation and name, and a challenge_ack with the right digest of erlmesh's challenge (or one byte of it
 * changed), so that the handshake can also succeed.
 */
async function answeringNode(
  node: MemoryTransport,
  lengthBytes: 2 | 4,
  reply: {
    status: Uint8Array;
    flags: bigint;
    creation: number;
    name: Uint8Array;
    ackEdit: [number, number] | null;
  },
): Promise<void> {
  const r = new ExactReader(node);
  const frame = lengthBytes === 4 ? frame32 : frame16;
  const readFrame = async () => {
    const head = await r.readExact(lengthBytes);
    const view = new DataView(head.buffer);
    return await r.readExact(lengthBytes === 4 ? view.getUint32(0) : view.getUint16(0));
  };
  await readFrame(); // send_name
  await node.write(frame(reply.status));
  const challenge = new ByteWriter(19 + reply.name.length).u8(0x4e).u64(reply.flags).u32(0x5eed).u32(
    reply.creation,
  ).u16(reply.name.length).bytes(reply.name).finish();
  await node.write(frame(challenge));
  const ours = await readFrame(); // challenge_reply: 'r', erlmesh's challenge, its digest
  const theirs = new DataView(ours.buffer).getUint32(1);
  const ack = new Uint8Array([0x61, ...genDigest(theirs, cookie)]);
  if (reply.ackEdit) ack[reply.ackEdit[0] % ack.length] = reply.ackEdit[1];
  await node.write(frame(ack));
}

const nodeReply = fc.record({
  status: fc.oneof(
    { weight: 4, arbitrary: fc.constant(status) },
    { weight: 1, arbitrary: mutated([status]) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("salive", "sok_simultaneous").map((s) => new TextEncoder().encode(s)),
    },
  ),
  flags: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((extra) => extra | MANDATORY_25),
    },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
  ),
  creation: fc.nat({ max: 0xffffffff }),
  name: fc.oneof(
    { weight: 4, arbitrary: fc.constant(new TextEncoder().encode(realName)) },
    { weight: 1, arbitrary: mutated([new TextEncoder().encode(realName)]) },
  ),
  ackEdit: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })) },
  ),
});

Deno.test("clientHandshake() against a node that answers with hostile fields succeeds or throws HandshakeError", async () => {
  await fuzz(
    "dist: handshake with an answering node",
    fc.tuple(fc.constantFrom<2 | 4>(2, 4), nodeReply, fc.boolean()),
    async (
      [lengthBytes, reply, anyName],
    ) => {
      const [client, node] = memoryPipe();
      const peer = answeringNode(node, lengthBytes, reply).catch(() => {}); // ends when erlmesh stops reading
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new DOMException("deadline", "TimeoutError")), 5000);
      try {
        const r = await clientHandshake(client, new ExactReader(client), {
          localName: "erlmesh-fuzz@127.0.0.1",
          targetName: realName,
          anyName,
          cookie,
          creation: 1,
          lengthBytes,
          signal: deadline.signal,
        });
        assert.equal(r.peerFlags, reply.flags);
        assert.equal(r.peerCreation, reply.creation);
        assert.ok(anyName || r.peerName === realName);
        return "ok";
      } catch (e) {
        if (!(e instanceof HandshakeError)) throw e;
        assert.notEqual(e.code, "TIMEOUT", e.message);
        assert.ok(!cookie.occursIn(e.message), "the cookie is in the error");
        return e.code;
      } finally {
        clearTimeout(timer);
        client.close();
        node.close();
        await peer;
      }
    },
    { runs: 2000, async: true },
  );
});
