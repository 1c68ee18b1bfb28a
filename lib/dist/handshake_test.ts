import assert from "node:assert/strict";
import { ByteWriter, ExactReader, frame16, frame32, memoryPipe, type MemoryTransport } from "../bytes/mod.ts";
import { Cookie } from "./cookie.ts";
import { HandshakeError } from "./errors.ts";
import { CLIENT_FLAGS, DFLAG, MANDATORY_25, MANDATORY_26 } from "./flags.ts";
import { clientHandshake, encodeSendName, genDigest } from "./handshake.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const cookie = new Cookie("secret", "test cookie");
const TARGET = "target@127.0.0.1";
const PEER_FLAGS = MANDATORY_25 | MANDATORY_26 | DFLAG.PUBLISHED | DFLAG.SPAWN;

Deno.test("genDigest() matches the brief's worked example", () => {
  assert.equal(hex(genDigest(0xdeadbeef, cookie)), "c3939b31d7a913d82e2ace09247c7b41");
});

Deno.test("encodeSendName() produces the exact v6 bytes OTP 25 accepted", () => {
  const framed = frame16(encodeSendName("deno@127.0.0.1", 0x407074f9cn, 0x12345678));
  assert.equal(
    hex(framed),
    "001d4e0000000407074f9c12345678000e" + hex(new TextEncoder().encode("deno@127.0.0.1")),
  );
});

/** A scripted peer B: reads from `b`, writes scripted replies, optionally split into 1-byte writes. */
class FakeB {
  reader: ExactReader;
  constructor(readonly b: MemoryTransport, readonly drip = false, readonly wide = false) {
    this.reader = new ExactReader(b);
  }
  async recv(): Promise<Uint8Array> {
    const head = new DataView((await this.reader.readExact(this.wide ? 4 : 2)).buffer);
    return await this.reader.readExact(this.wide ? head.getUint32(0) : head.getUint16(0));
  }
  send(body: Uint8Array): void {
    const f = this.wide ? frame32(body) : frame16(body);
    if (this.drip) { for (const x of f) this.b.peer.push(new Uint8Array([x])); }
    else this.b.peer.push(f);
  }
  status(text: string): void {
    this.send(new TextEncoder().encode("s" + text));
  }
  challenge(name = TARGET, challenge = 0xdeadbeef, flags = PEER_FLAGS): void {
    const n = new TextEncoder().encode(name);
    this.send(new ByteWriter().u8(0x4e).u64(flags).u32(challenge).u32(7).u16(n.length).bytes(n).finish());
  }
}

function run(a: MemoryTransport, timeoutMs = 2000) {
  return clientHandshake(a, new ExactReader(a), {
    localName: "erlmesh-1@127.0.0.1",
    targetName: TARGET,
    cookie,
    creation: 0x12345678,
    signal: AbortSignal.timeout(timeoutMs),
  });
}

for (const drip of [false, true]) {
  Deno.test(`clientHandshake() completes against a correct peer${drip ? " that sends one byte per read" : ""}`, async () => {
    const [a, b] = memoryPipe();
    const peer = new FakeB(b, drip);
    const done = run(a);
    const name = await peer.recv();
    assert.equal(name[0], 0x4e);
    assert.equal(new DataView(name.buffer).getBigUint64(1), CLIENT_FLAGS);
    peer.status("ok");
    peer.challenge();
    const reply = await peer.recv();
    assert.equal(reply.length, 21);
    assert.equal(reply[0], 0x72);
    assert.deepEqual(reply.subarray(5), genDigest(0xdeadbeef, cookie));
    const theirs = new DataView(reply.buffer).getUint32(1);
    peer.send(new ByteWriter().u8(0x61).bytes(genDigest(theirs, cookie)).finish());
    const res = await done;
    assert.equal(res.peerFlags, PEER_FLAGS);
    assert.equal(res.negotiated & DFLAG.PUBLISHED, 0n);
    assert.equal(res.peerCreation, 7);
    a.close();
  });
}

Deno.test("clientHandshake() answers 'alive' with 'true' and goes on", async () => {
  const [a, b] = memoryPipe();
  const peer = new FakeB(b);
  const done = run(a);
  await peer.recv();
  peer.status("alive");
  assert.equal(new TextDecoder().decode(await peer.recv()), "strue");
  peer.challenge();
  const reply = await peer.recv();
  peer.send(
    new ByteWriter().u8(0x61).bytes(genDigest(new DataView(reply.buffer).getUint32(1), cookie)).finish(),
  );
  await done;
  a.close();
});

async function expectFailure(
  script: (peer: FakeB) => Promise<void>,
  code: string,
  re?: RegExp,
  timeoutMs = 2000,
) {
  const [a, b] = memoryPipe();
  const peer = new FakeB(b);
  const done = run(a, timeoutMs);
  await script(peer);
  await assert.rejects(done, (e: unknown) => {
    assert.ok(e instanceof HandshakeError, `expected HandshakeError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    assert.ok(!e.message.includes("secret"), "the cookie must not appear in errors");
    return true;
  });
  a.close();
  b.close();
}

Deno.test("clientHandshake() reports a close after the challenge reply as a refused cookie", async () => {
  await expectFailure(
    async (p) => {
      await p.recv();
      p.status("ok");
      p.challenge();
      await p.recv();
      p.b.close();
    },
    "COOKIE_REJECTED",
    /refused our cookie.*test cookie/,
  );
});

Deno.test("clientHandshake() rejects a peer with another name", async () => {
  await expectFailure(
    async (p) => {
      await p.recv();
      p.status("ok");
      p.challenge("other@127.0.0.1");
    },
    "NAME_MISMATCH",
    /'other@127.0.0.1', not 'target@127.0.0.1'/,
  );
});

Deno.test("clientHandshake() keeps the name the node answered under in HandshakeError.peerName", async () => {
  const [a, b] = memoryPipe();
  const peer = new FakeB(b);
  const done = run(a);
  await peer.recv();
  peer.status("ok");
  peer.challenge("other@127.0.0.1");
  await assert.rejects(done, (e: unknown) => {
    assert.ok(e instanceof HandshakeError && e.code === "NAME_MISMATCH", String(e));
    assert.equal(e.node, TARGET);
    assert.equal(e.peerName, "other@127.0.0.1");
    return true;
  });
  a.close();
  b.close();
});

Deno.test("clientHandshake() maps statuses nok and not_allowed and unknown ones", async () => {
  for (const [status, code] of [["nok", "NOK"], ["not_allowed", "NOT_ALLOWED"], ["weird", "BAD_STATUS"]]) {
    await expectFailure(async (p) => {
      await p.recv();
      p.status(status);
    }, code);
  }
});

Deno.test("clientHandshake() rejects a peer that lacks mandatory flags", async () => {
  await expectFailure(
    async (p) => {
      await p.recv();
      p.status("ok");
      p.challenge(TARGET, 1, MANDATORY_25 & ~DFLAG.BIG_CREATION);
    },
    "MISSING_FLAGS",
    /BIG_CREATION/,
  );
});

Deno.test("clientHandshake() rejects a wrong challenge_ack digest", async () => {
  await expectFailure(async (p) => {
    await p.recv();
    p.status("ok");
    p.challenge();
    await p.recv();
    p.send(new ByteWriter().u8(0x61).bytes(new Uint8Array(16)).finish());
  }, "BAD_DIGEST");
});

Deno.test("clientHandshake() fails on a close without status, garbage and truncated challenges", async () => {
  await expectFailure(
    async (p) => {
      await p.recv();
      p.b.close();
    },
    "CLOSED",
    /without a status/,
  );
  await expectFailure(async (p) => {
    await p.recv();
    p.send(new TextEncoder().encode("garbage"));
  }, "PROTOCOL");
  await expectFailure(async (p) => {
    await p.recv();
    p.status("ok");
    p.send(new Uint8Array([0x4e, 1, 2, 3]));
  }, "PROTOCOL");
  await expectFailure(async (p) => {
    await p.recv();
    p.status("ok");
    p.b.peer.push(new Uint8Array([0, 40, 0x4e, 1, 2]));
    p.b.close();
  }, "CLOSED");
});

Deno.test("clientHandshake() ends with TIMEOUT against a silent peer", async () => {
  await expectFailure(
    async (p) => {
      await p.recv();
    },
    "TIMEOUT",
    /waiting for status/,
    200,
  );
});

Deno.test("clientHandshake() with 4-byte lengths (inet_tls_dist's {packet, 4}) frames every message so", async () => {
  const [a, b] = memoryPipe();
  const peer = new FakeB(b, false, true);
  const done = clientHandshake(a, new ExactReader(a), {
    localName: "erlmesh-1@127.0.0.1",
    targetName: TARGET,
    cookie,
    creation: 0x12345678,
    signal: AbortSignal.timeout(2000),
    lengthBytes: 4,
  });
  const name = await peer.recv();
  assert.equal(name[0], 0x4e);
  peer.status("ok");
  peer.challenge();
  const reply = await peer.recv();
  assert.equal(reply.length, 21);
  const theirs = new DataView(reply.buffer).getUint32(1);
  peer.send(new ByteWriter().u8(0x61).bytes(genDigest(theirs, cookie)).finish());
  assert.equal((await done).peerCreation, 7);
  a.close();
});

Deno.test("clientHandshake() answered with a TLS alert record (a TLS node) is TLS_REQUIRED", async () => {
  const [a, b] = memoryPipe();
  const peer = new FakeB(b);
  const done = run(a);
  await peer.recv();
  // What OTP's ssl answered a plain send_name with [LIVE, OTP 25.2.3]: alert, fatal, unexpected_message.
  b.peer.push(new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a]));
  b.close();
  await assert.rejects(done, (err: unknown) => {
    assert.ok(err instanceof HandshakeError);
    assert.equal(err.code, "TLS_REQUIRED");
    assert.match(
      err.message,
      /the node answered with TLS: it runs TLS distribution \(-proto_dist inet_tls\)/,
    );
    return true;
  });
  a.close();
});
