/**
 * Distribution peers that misbehave in ways a real node never does, played over in-memory pipes:
 * each ends in a typed error within its deadline, and nothing hangs. One case keeps a real socket,
 * because its point is a real TCP behaviour (a refused connect).
 */
import assert from "node:assert/strict";
import {
  ByteWriter,
  ExactReader,
  frame16,
  frame32,
  memoryPipe,
  type MemoryTransport,
  type Transport,
} from "../bytes/mod.ts";
import { Cookie } from "./cookie.ts";
import { HandshakeError, type HandshakeErrorCode, LinkError, RpcError } from "./errors.ts";
import { MANDATORY_25, MANDATORY_26 } from "./flags.ts";
import { genDigest } from "./handshake.ts";
import { connectNode, type ConnectNodeOptions } from "./node.ts";
import { pause, untilAborted } from "../bytes/_test_timing.ts";

const cookie = new Cookie("hostile-test-cookie", "test");
const NAME = "fake@127.0.0.1";
const enc = new TextEncoder();

/**
 * What the fake peer does with one connection: `peer` is its end of the pipe, `r` reads from it, and
 * `gone` aborts once the client has closed its end (so a peer that waits stops waiting).
 */
type Behaviour = (peer: MemoryTransport, r: ExactReader, gone: AbortSignal) => Promise<void>;

/**
 * Runs `fn` with a `connect` option that hands out the client end of a fresh in-memory pipe and runs
 * `behaviour` on the other end; afterwards closes every end and awaits every behaviour.
 */
async function withFakePeer(
  behaviour: Behaviour,
  fn: (connect: NonNullable<ConnectNodeOptions["connect"]>) => Promise<void>,
): Promise<void> {
  const peers: MemoryTransport[] = [];
  const clientsGone: AbortController[] = [];
  const tasks: Promise<void>[] = [];
  const connect = (): Promise<Transport> => {
    const [client, peer] = memoryPipe();
    const gone = new AbortController();
    peers.push(peer);
    clientsGone.push(gone);
    tasks.push(behaviour(peer, new ExactReader(peer), gone.signal).catch(() => {}));
    const close = client.close.bind(client);
    client.close = () => {
      close();
      gone.abort();
    };
    return Promise.resolve(client);
  };
  try {
    await fn(connect);
  } finally {
    for (const gone of clientsGone) gone.abort();
    for (const peer of peers) peer.close();
    await Promise.all(tasks);
  }
}

async function recv16(r: ExactReader): Promise<Uint8Array> {
  const len = new DataView((await r.readExact(2)).buffer).getUint16(0);
  return await r.readExact(len);
}

/** Plays a correct handshake as the node B, then hands over. */
async function handshakeAsB(peer: MemoryTransport, r: ExactReader): Promise<void> {
  await recv16(r);
  await peer.write(frame16(enc.encode("sok")));
  const n = enc.encode(NAME);
  const flags = MANDATORY_25 | MANDATORY_26;
  await peer.write(
    frame16(new ByteWriter().u8(0x4e).u64(flags).u32(12345).u32(9).u16(n.length).bytes(n).finish()),
  );
  const reply = await recv16(r);
  const theirs = new DataView(reply.buffer).getUint32(1);
  await peer.write(frame16(new ByteWriter().u8(0x61).bytes(genDigest(theirs, cookie)).finish()));
}

async function expectHandshakeError(
  behaviour: Behaviour,
  codes: HandshakeErrorCode[],
  timeoutMs = 800,
): Promise<HandshakeError> {
  let caught: unknown;
  await withFakePeer(behaviour, async (connect) => {
    try {
      await connectNode(NAME, { cookie, distPort: 4370, connect, timeoutMs });
    } catch (err) {
      caught = err;
    }
  });
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError, got ${caught}`);
  assert.ok(codes.includes(caught.code), `code ${caught.code} not in ${codes}: ${caught.message}`);
  assert.match(caught.message, /^Cannot connect to 'fake@127\.0\.0\.1': /);
  assert.ok(!cookie.occursIn(caught.message));
  return caught;
}

Deno.test("connectNode() times out against a silent peer", async () => {
  const err = await expectHandshakeError(async (_peer, r, gone) => {
    await recv16(r);
    await untilAborted(gone);
  }, ["TIMEOUT"]);
  assert.match(err.message, /waiting for status/);
});

Deno.test("connectNode() times out against a peer that drips its status one byte at a time", async () => {
  // 5 bytes at 250 ms each: the 800 ms deadline passes in the middle.
  await expectHandshakeError(async (peer, r, gone) => {
    await recv16(r);
    for (const b of frame16(enc.encode("sok"))) {
      if (gone.aborted) return;
      await peer.write(new Uint8Array([b]));
      await pause(250, gone);
    }
  }, ["TIMEOUT"]);
});

Deno.test("connectNode() fails cleanly on a truncated challenge", async () => {
  const err = await expectHandshakeError(async (peer, r) => {
    await recv16(r);
    await peer.write(frame16(enc.encode("sok")));
    await peer.write(new Uint8Array([0, 40, 0x4e, 0, 0, 0]));
    peer.close();
  }, ["CLOSED"]);
  assert.match(err.message, /during challenge/);
});

Deno.test("connectNode() fails cleanly on garbage", async () => {
  await expectHandshakeError(async (peer, r) => {
    await recv16(r);
    await peer.write(crypto.getRandomValues(new Uint8Array(64)));
    peer.close();
  }, ["PROTOCOL", "CLOSED", "BAD_STATUS", "NOK", "NOT_ALLOWED"]);
});

Deno.test("connectNode() fails within its deadline on an oversized frame that never completes", async () => {
  await expectHandshakeError(async (peer, r, gone) => {
    await recv16(r);
    await peer.write(new Uint8Array([0xff, 0xff, 0x73]));
    await untilAborted(gone);
  }, ["TIMEOUT"]);
});

Deno.test("connectNode() reports a peer that hangs up at once", async () => {
  const err = await expectHandshakeError((peer) => {
    peer.close();
    return Promise.resolve();
  }, ["CLOSED"]);
  assert.match(err.message, /without a status after send_name/);
});

Deno.test("connectNode() names a closed TCP port as unreachable", async () => {
  // A real socket: the point is the kernel refusing the connect.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  await assert.rejects(
    connectNode(NAME, { cookie, distPort: port, timeoutMs: 1000 }),
    (e: unknown) => e instanceof HandshakeError && e.code === "UNREACHABLE",
  );
});

Deno.test("after the handshake: an rpc nobody answers times out, ticks are echoed, an undecodable packet is ignored, an oversized packet drops the link", async () => {
  let sawTickEcho = false;
  let rpcTimedOut!: () => void;
  const afterRpcTimeout = new Promise<void>((r) => (rpcTimedOut = r));
  await withFakePeer(async (peer, r, gone) => {
    await handshakeAsB(peer, r);
    await peer.write(new Uint8Array(4)); // a tick
    // Read until our tick echo (4 zero bytes) arrives, skipping the rpc packet.
    for (;;) {
      const len = new DataView((await r.readExact(4)).buffer).getUint32(0);
      if (len === 0) {
        sawTickEcho = true;
        break;
      }
      await r.readExact(len);
    }
    await afterRpcTimeout;
    // The pipe keeps order: the link reads the undecodable packet (ignored, the link stays) before the
    // header claiming 2 GiB, which must be what ends it.
    await peer.write(frame32(new Uint8Array([112, 131, 0xff])));
    await peer.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff]));
    await untilAborted(gone);
  }, async (connect) => {
    const conn = await connectNode(NAME, { cookie, distPort: 4370, connect, timeoutMs: 1000 });
    try {
      await assert.rejects(
        conn.rpc("erlang", "node", [], { timeoutMs: 300 }),
        (e: unknown) => e instanceof RpcError && e.code === "TIMEOUT",
      );
      rpcTimedOut();
      const reason = await conn.closed;
      assert.ok(reason instanceof LinkError, `expected a LinkError, got ${reason}`);
      assert.equal(reason.code, "TOO_LARGE", reason.message);
      assert.equal(reason.node, NAME);
      assert.equal(
        reason.message,
        `Cannot read a packet from '${NAME}': its header announces 2147483647 bytes, the limit is 67108864`,
      );
      assert.ok(sawTickEcho, "our side echoed the tick");
      await assert.rejects(
        conn.rpc("erlang", "node", []),
        (e: unknown) => e instanceof RpcError && e.code === "NODEDOWN",
      );
    } finally {
      rpcTimedOut();
      conn.close();
    }
  });
});

Deno.test("after the handshake: a peer that goes quiet is dropped after deadAfterMs and pending calls fail", async () => {
  await withFakePeer(async (peer, r, gone) => {
    await handshakeAsB(peer, r);
    await untilAborted(gone);
  }, async (connect) => {
    const conn = await connectNode(NAME, {
      cookie,
      distPort: 4370,
      connect,
      timeoutMs: 1000,
      tickIntervalMs: 100,
      deadAfterMs: 400,
    });
    try {
      await assert.rejects(
        conn.rpc("erlang", "node", [], { timeoutMs: 5000 }),
        (e: unknown) => e instanceof RpcError && e.code === "NODEDOWN" && e.cause instanceof LinkError,
      );
      const reason = await conn.closed;
      assert.ok(reason instanceof LinkError && reason.code === "SILENT", `got ${reason}`);
      assert.equal(
        reason.message,
        `Cannot keep the link to '${NAME}': nothing was heard from it for 400 ms (not even a tick)`,
      );
    } finally {
      conn.close();
    }
  });
});

Deno.test("after the handshake: a peer that hangs up ends the link with PEER_CLOSED", async () => {
  await withFakePeer(async (peer, r) => {
    await handshakeAsB(peer, r);
    peer.close();
  }, async (connect) => {
    const conn = await connectNode(NAME, { cookie, distPort: 4370, connect, timeoutMs: 1000 });
    const reason = await conn.closed;
    assert.ok(reason instanceof LinkError && reason.code === "PEER_CLOSED", `got ${reason}`);
    assert.equal(reason.message, `Cannot read from '${NAME}': it closed the connection`);
    await assert.rejects(
      conn.rpc("erlang", "node", []),
      (e: unknown) => e instanceof RpcError && e.code === "NODEDOWN" && e.message.includes(reason.message),
    );
  });
});

Deno.test("after close(): the link ends with CLOSED and says erlmesh closed it", async () => {
  await withFakePeer(async (peer, r, gone) => {
    await handshakeAsB(peer, r);
    await untilAborted(gone);
  }, async (connect) => {
    const conn = await connectNode(NAME, { cookie, distPort: 4370, connect, timeoutMs: 1000 });
    conn.close();
    const reason = await conn.closed;
    assert.ok(reason instanceof LinkError && reason.code === "CLOSED", `got ${reason}`);
    assert.equal(reason.message, `Cannot use the link to '${NAME}': erlmesh closed it`);
  });
});
