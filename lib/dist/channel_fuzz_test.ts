// Fuzzing of what a distribution link reads after the handshake: u32-framed packets (ticks, pass-through
// packets) decoded into control and message terms (DistChannel), and the control messages a link
// answers (NodeConnection: LINK, MONITOR_P, UNLINK_ID, replies to calls). Seeds are the packets a real
// OTP 25 node sent (testdata/fuzz/seeds.json): rpc and ping replies, LINK, UNLINK_ID, SEND. A hostile
// node's packets are reported (onBadPacket: EtfDecodeError or LinkError BAD_PACKET) or ignored; the link
// ends only because the node closed it (PEER_CLOSED) or announced a packet over the limit (TOO_LARGE),
// never because erlmesh failed on what it read (BROKEN), and never later than a deadline.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ExactReader, frame32, memoryPipe, type MemoryTransport } from "../bytes/mod.ts";
import { chunked, fuzz, mutated, realSeeds } from "../bytes/_fuzz.ts";
import { encodeTerm, EtfDecodeError } from "../etf/mod.ts";
import { atom, Pid, Ref, type Term, tuple } from "../etf/term.ts";
import { DistChannel } from "./channel.ts";
import { DOP } from "./control.ts";
import { LinkError } from "./errors.ts";
import { NodeConnection } from "./node.ts";

const real = await realSeeds();
const MAX_PACKET = 4096;

/** A pass-through packet: `p`, the control term, and the message term when there is one. */
function packet(control: Term, message?: Term): Uint8Array {
  const c = encodeTerm(control);
  const m = message === undefined ? new Uint8Array(0) : encodeTerm(message);
  return new Uint8Array([112, ...c, ...m]);
}

// Control messages a node may send that the real session did not: MONITOR_P and DEMONITOR_P, an EXIT,
// and the same operations with too few elements or elements of the wrong type.
const them = new Pid(atom("fuzzseed@127.0.0.1"), 95, 0, 7);
const us = new Pid(atom("erlmesh-fuzz@127.0.0.1"), 1, 0, 9);
const ref = new Ref(atom("fuzzseed@127.0.0.1"), 7, [1, 2, 3]);
const constructed = [
  packet(tuple(DOP.MONITOR_P, them, us, ref)),
  packet(tuple(DOP.DEMONITOR_P, them, us, ref)),
  packet(tuple(DOP.EXIT, them, us, atom("normal"))),
  packet(tuple(DOP.LINK)),
  packet(tuple(DOP.LINK, them)),
  packet(tuple(DOP.MONITOR_P, them)),
  packet(tuple(DOP.UNLINK_ID, 1)),
  packet(tuple(DOP.SEND, atom(""), us), tuple(ref, atom("late"))),
  packet(tuple(DOP.REG_SEND, them, atom(""), atom("x")), atom("hello")),
];
const seeds = [...real.packets, ...constructed];

/** One packet: a seed, mutated (the `p` byte kept or not), a tick, or random bytes. */
const onePacket = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...seeds) },
  { weight: 4, arbitrary: mutated(seeds, 1) },
  { weight: 1, arbitrary: mutated(seeds) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 32 }).map((b) => new Uint8Array([112, 131, ...b])) },
);

/** The stream: framed packets, maybe a corrupted length, maybe an oversized header, in chunks. */
const stream = fc.tuple(
  fc.array(onePacket, { minLength: 1, maxLength: 4 }),
  fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { freq: 2 }),
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom(MAX_PACKET + 1, 0xffffffff) },
  ),
  fc.array(fc.nat(), { maxLength: 4 }),
).map(([packets, edit, oversized, cuts]) => {
  const bytes = Uint8Array.from(packets.flatMap((p) => [...frame32(p)]));
  if (edit) bytes[edit[0] % bytes.length] = edit[1];
  const tail = oversized === null
    ? []
    : [oversized >>> 24, (oversized >> 16) & 0xff, (oversized >> 8) & 0xff, oversized & 0xff];
  return chunked(new Uint8Array([...bytes, ...tail]), cuts);
});

/** Feeds `chunks` to `client` as the node would, then ends the stream. */
function play(client: MemoryTransport, chunks: Uint8Array[]): void {
  for (const c of chunks) client.push(c);
  client.end();
}

/** The reason the link ended, within a deadline: it must end, the node closed its end. */
async function ending(closed: Promise<Error>): Promise<Error> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("The link did not end within 5 s of the node closing it")),
      5000,
    );
  });
  try {
    return await Promise.race([closed, late]);
  } finally {
    clearTimeout(timer);
  }
}

function checkEnd(reason: Error): string {
  assert.ok(reason instanceof LinkError, `not a LinkError: ${reason}`);
  assert.ok(
    reason.code === "PEER_CLOSED" || reason.code === "TOO_LARGE",
    `the link ended with ${reason.code}: ${reason.message}`,
  );
  return reason.code;
}

Deno.test("DistChannel on hostile packets reports typed errors and ends only when the node closes", async () => {
  await fuzz("dist: packets (DistChannel)", stream, async (chunks) => {
    const [client, node] = memoryPipe();
    let bad = 0;
    const channel = new DistChannel(client, new ExactReader(client), {
      node: "fuzzseed@127.0.0.1",
      maxPacketBytes: MAX_PACKET,
      onMessage: () => {},
      onBadPacket: (err) => {
        assert.ok(
          err instanceof EtfDecodeError || (err instanceof LinkError && err.code === "BAD_PACKET"),
          `untyped bad packet: ${err}`,
        );
        bad++;
      },
    });
    play(client, chunks);
    try {
      const code = checkEnd(await ending(channel.closed));
      return bad > 0 ? `${code} after a bad packet` : code;
    } finally {
      channel.close();
      node.close();
    }
  }, { runs: 2000, async: true });
});

Deno.test("NodeConnection on hostile control messages answers or ignores them and ends only when the node closes", async () => {
  await fuzz("dist: control messages (NodeConnection)", stream, async (chunks) => {
    const [client, node] = memoryPipe();
    const conn = new NodeConnection(client, new ExactReader(client), {
      node: "fuzzseed@127.0.0.1",
      localName: "erlmesh-fuzz@127.0.0.1",
      negotiated: 0n,
      peerCreation: 7,
    });
    conn.onMessage = () => {};
    play(client, chunks);
    try {
      return checkEnd(await ending(conn.closed));
    } finally {
      conn.close();
      node.close();
    }
  }, { runs: 2000, async: true });
});

// Found by the fuzzer above: a LINK, MONITOR_P or UNLINK_ID with too few elements made the answer
// encode `undefined` and the link end as BROKEN. Such a message is now ignored, as other malformed
// control messages are.
Deno.test("NodeConnection ignores LINK, MONITOR_P and UNLINK_ID with too few elements and keeps the link up", async () => {
  const [client, node] = memoryPipe();
  const conn = new NodeConnection(client, new ExactReader(client), {
    node: "fuzzseed@127.0.0.1",
    localName: "erlmesh-fuzz@127.0.0.1",
    negotiated: 0n,
    peerCreation: 7,
  });
  try {
    const seen = new Promise<Term>((resolve) => (conn.onMessage = resolve));
    for (const control of [tuple(DOP.LINK, them), tuple(DOP.MONITOR_P, them), tuple(DOP.UNLINK_ID, 1)]) {
      client.push(frame32(packet(control)));
    }
    // A plain message after them: it arrives only if the link survived them.
    client.push(frame32(packet(tuple(DOP.SEND, atom(""), us), atom("after"))));
    const first = await Promise.race([
      seen,
      conn.closed.then((reason) => Promise.reject(reason)),
    ]);
    assert.deepEqual(first, atom("after"));
    assert.ok(conn.open);
  } finally {
    conn.close();
    node.close();
  }
});
