/**
 * Distribution peers that misbehave in ways a real node never does, over real TCP sockets: each ends
 * in a typed error within its deadline, and nothing hangs.
 */
import assert from "node:assert/strict";
import { ByteWriter, ExactReader, frame16, frame32 } from "../lib/bytes/mod.ts";
import {
  connectNode,
  Cookie,
  genDigest,
  HandshakeError,
  MANDATORY_25,
  MANDATORY_26,
  RpcError,
} from "../lib/dist/mod.ts";
import type { Transport } from "../lib/bytes/mod.ts";

const cookie = new Cookie("hostile-test-cookie", "test");
const NAME = "fake@127.0.0.1";

type Behaviour = (conn: Deno.TcpConn, r: ExactReader) => Promise<void>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function asTransport(c: Deno.Conn): Transport {
  return {
    read: (p) => c.read(p).catch(() => null),
    write: (p) => c.write(p),
    close: () => {
      try {
        c.close();
      } catch { /* closed */ }
    },
  };
}

/** A fake distribution listener on 127.0.0.1 that runs `behaviour` on each connection. */
async function withFakePeer(behaviour: Behaviour, fn: (port: number) => Promise<void>): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.TcpConn[] = [];
  const tasks: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const c of listener) {
      conns.push(c);
      tasks.push(behaviour(c, new ExactReader(asTransport(c))).catch(() => {}));
    }
  })().catch(() => {});
  try {
    await fn((listener.addr as Deno.NetAddr).port);
  } finally {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await accepting;
    await Promise.all(tasks);
  }
}

async function recv16(r: ExactReader): Promise<Uint8Array> {
  const len = new DataView((await r.readExact(2)).buffer).getUint16(0);
  return await r.readExact(len);
}

/** Plays a correct handshake as B, then hands over. */
async function handshakeAsB(c: Deno.TcpConn, r: ExactReader): Promise<void> {
  await recv16(r);
  await c.write(frame16(new TextEncoder().encode("sok")));
  const n = new TextEncoder().encode(NAME);
  const flags = MANDATORY_25 | MANDATORY_26;
  await c.write(
    frame16(new ByteWriter().u8(0x4e).u64(flags).u32(12345).u32(9).u16(n.length).bytes(n).finish()),
  );
  const reply = await recv16(r);
  const theirs = new DataView(reply.buffer).getUint32(1);
  await c.write(frame16(new ByteWriter().u8(0x61).bytes(genDigest(theirs, cookie)).finish()));
}

async function expectHandshakeError(behaviour: Behaviour, codes: string[], timeoutMs = 800): Promise<void> {
  await withFakePeer(behaviour, async (port) => {
    await assert.rejects(connectNode(NAME, { cookie, distPort: port, timeoutMs }), (e: unknown) => {
      assert.ok(e instanceof HandshakeError, `expected a HandshakeError, got ${e}`);
      assert.ok(codes.includes(e.code), `code ${e.code} not in ${codes}: ${e.message}`);
      assert.ok(!cookie.occursIn(e.message));
      return true;
    });
  });
}

Deno.test("connectNode() times out against a silent peer", async () => {
  await expectHandshakeError(async (_c, r) => {
    await recv16(r);
    await sleep(1500);
  }, ["TIMEOUT"]);
});

Deno.test("connectNode() times out against a peer that drips its status one byte at a time", async () => {
  await expectHandshakeError(async (c, r) => {
    await recv16(r);
    for (const b of frame16(new TextEncoder().encode("sok"))) {
      await c.write(new Uint8Array([b]));
      await sleep(400);
    }
  }, ["TIMEOUT"]);
});

Deno.test("connectNode() fails cleanly on a truncated challenge", async () => {
  await expectHandshakeError(async (c, r) => {
    await recv16(r);
    await c.write(frame16(new TextEncoder().encode("sok")));
    await c.write(new Uint8Array([0, 40, 0x4e, 0, 0, 0]));
    c.close();
  }, ["CLOSED"]);
});

Deno.test("connectNode() fails cleanly on garbage", async () => {
  await expectHandshakeError(async (c, r) => {
    await recv16(r);
    await c.write(crypto.getRandomValues(new Uint8Array(64)));
    c.close();
  }, ["PROTOCOL", "CLOSED", "BAD_STATUS", "NOK", "NOT_ALLOWED"]);
});

Deno.test("connectNode() fails within its deadline on an oversized frame that never completes", async () => {
  await expectHandshakeError(async (c, r) => {
    await recv16(r);
    await c.write(new Uint8Array([0xff, 0xff, 0x73]));
    await sleep(1500);
  }, ["TIMEOUT"]);
});

Deno.test("connectNode() reports a peer that hangs up at once", async () => {
  await expectHandshakeError((c) => {
    c.close();
    return Promise.resolve();
  }, ["CLOSED"]);
});

Deno.test("connectNode() names a closed port as unreachable", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await assert.rejects(
    connectNode(NAME, { cookie, distPort: port, timeoutMs: 1000 }),
    (e: unknown) => e instanceof HandshakeError && e.code === "UNREACHABLE",
  );
});

Deno.test("after the handshake: an rpc nobody answers times out, ticks are echoed, an oversized packet drops the link", async () => {
  let sawTickEcho = false;
  await withFakePeer(async (c, r) => {
    await handshakeAsB(c, r);
    await c.write(new Uint8Array(4)); // a tick
    // Read until our tick echo (4 zero bytes) arrives, skipping the rpc packet.
    for (;;) {
      const len = new DataView((await r.readExact(4)).buffer).getUint32(0);
      if (len === 0) {
        sawTickEcho = true;
        break;
      }
      await r.readExact(len);
    }
    await sleep(600); // let the client's rpc time out first
    await c.write(frame32(new Uint8Array([112, 131, 0xff]))); // undecodable: ignored, link stays
    await sleep(100);
    await c.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff])); // claims a 2 GiB packet
    await sleep(1000);
  }, async (port) => {
    const conn = await connectNode(NAME, { cookie, distPort: port, timeoutMs: 1000 });
    try {
      await assert.rejects(
        conn.rpc("erlang", "node", [], { timeoutMs: 300 }),
        (e: unknown) => e instanceof RpcError && e.code === "TIMEOUT",
      );
      const reason = await conn.closed;
      assert.match(reason.message, /packet; the limit is/);
      assert.ok(sawTickEcho, "our side echoed the tick");
      await assert.rejects(
        conn.rpc("erlang", "node", []),
        (e: unknown) => e instanceof RpcError && e.code === "NODEDOWN",
      );
    } finally {
      conn.close();
    }
  });
});

Deno.test("after the handshake: a peer that goes quiet is dropped after deadAfterMs and pending calls fail", async () => {
  await withFakePeer(async (c, r) => {
    await handshakeAsB(c, r);
    await sleep(1500);
  }, async (port) => {
    const conn = await connectNode(NAME, {
      cookie,
      distPort: port,
      timeoutMs: 1000,
      tickIntervalMs: 100,
      deadAfterMs: 400,
    });
    try {
      await assert.rejects(
        conn.rpc("erlang", "node", [], { timeoutMs: 5000 }),
        (e: unknown) => e instanceof RpcError && e.code === "NODEDOWN",
      );
      assert.match((await conn.closed).message, /nothing was heard/);
    } finally {
      conn.close();
    }
  });
});
