/**
 * EPMD servers that misbehave, played over in-memory pipes: every request ends in a typed
 * {@link EpmdError} within its deadline, and nothing hangs. Two cases keep a real socket, because their
 * point is real TCP: a refused connect, and a deadline on a real connection whose peer never answers.
 */
import nodeAssert from "node:assert/strict";
import { ExactReader, memoryPipe, type MemoryTransport, type Transport } from "../bytes/mod.ts";
import { type EpmdOptions, names, NAMES_REPLY_LIMIT, portPlease } from "./client.ts";
import { EpmdError, type EpmdErrorCode } from "./errors.ts";
import { startFakeEpmd } from "../../tests/_fake_epmd.ts";
import { pause, untilAborted } from "../bytes/_test_timing.ts";

const assert: (value: unknown, message?: string) => asserts value = nodeAssert.ok;
const TIMEOUT_MS = 500;
const EPMD_PORT = 4369;
const enc = new TextEncoder();

/**
 * What the fake EPMD does with each connection:
 * - `silent`: reads the request and never answers;
 * - `slow`: answers a valid reply one byte every {@link DRIP_MS} ms (NAMES lines never end);
 * - `truncated`: sends half a valid reply, then closes;
 * - `garbage`: answers with an HTTP response;
 * - `oversized`: answers NAMES_REQ with valid lines, twice {@link NAMES_REPLY_LIMIT} of them;
 * - `close`: closes the connection at once, without reading.
 */
type Behaviour = "silent" | "slow" | "truncated" | "garbage" | "oversized" | "close";

// 18 bytes of PORT2_RESP at 40 ms: 720 ms, past TIMEOUT_MS however loaded the machine is.
const DRIP_MS = 40;

// PORT2_RESP for "target" on port 35191, as OTP 25.2.3 registers it.
const PORT2_OK = new Uint8Array([119, 0, 0x89, 0x77, 77, 0, 0, 6, 0, 5, 0, 6, ...enc.encode("target"), 0, 0]);

function namesHead(port: number): Uint8Array {
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, port);
  return head;
}

/** Reads one length-prefixed EPMD request. */
async function readRequest(r: ExactReader): Promise<Uint8Array> {
  const len = new DataView((await r.readExact(2)).buffer).getUint16(0);
  return await r.readExact(len);
}

async function serve(behaviour: Behaviour, server: MemoryTransport, gone: AbortSignal): Promise<void> {
  if (behaviour === "close") {
    server.close();
    return;
  }
  const request = await readRequest(new ExactReader(server));
  const isNames = request[0] === 110;
  const reply = isNames ? namesHead(EPMD_PORT) : PORT2_OK;
  switch (behaviour) {
    case "silent":
      await untilAborted(gone);
      return;
    case "slow": {
      const stream = isNames ? [...reply, ...enc.encode("name slow at port 1\n".repeat(1000))] : reply;
      for (const b of stream) {
        await pause(DRIP_MS, gone);
        if (gone.aborted) return;
        await server.write(Uint8Array.of(b));
      }
      await untilAborted(gone);
      return;
    }
    case "truncated":
      await server.write(reply.subarray(0, Math.floor(reply.length / 2)));
      server.close();
      return;
    case "garbage":
      await server.write(enc.encode("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
      server.close();
      return;
    case "oversized": {
      await server.write(reply);
      const lines = enc.encode("name flood at port 1\n".repeat(8192));
      for (let sent = 0; sent <= 2 * NAMES_REPLY_LIMIT && !gone.aborted; sent += lines.length) {
        await server.write(lines);
      }
      await untilAborted(gone);
      return;
    }
  }
}

/** A fake EPMD on in-memory pipes: `connect` hands out a fresh pipe per connection. */
function fakeEpmd(behaviour: Behaviour) {
  const tasks: Promise<void>[] = [];
  const servers: MemoryTransport[] = [];
  const clientsGone: AbortController[] = [];
  const connect: NonNullable<EpmdOptions["connect"]> = (): Promise<Transport> => {
    const [client, server] = memoryPipe();
    const gone = new AbortController();
    servers.push(server);
    clientsGone.push(gone);
    tasks.push(serve(behaviour, server, gone.signal).catch(() => {}));
    const close = client.close.bind(client);
    client.close = () => {
      close();
      gone.abort();
    };
    return Promise.resolve(client);
  };
  return {
    connect,
    get accepted() {
      return servers.length;
    },
    /** Closes every server end and waits for every handler. */
    async [Symbol.asyncDispose]() {
      for (const gone of clientsGone) gone.abort();
      for (const s of servers) s.close();
      await Promise.all(tasks);
    },
  };
}

/** Awaits `p`, expecting an EpmdError with `code`. */
async function expectCode(p: Promise<unknown>, code: EpmdErrorCode): Promise<EpmdError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert(caught instanceof EpmdError, `expected EpmdError ${code}, got ${caught}`);
  nodeAssert.equal(caught.code, code, caught.message);
  return caught;
}

const cases: [Behaviour, "names" | "portPlease", EpmdErrorCode][] = [
  ["silent", "names", "TIMEOUT"],
  ["silent", "portPlease", "TIMEOUT"],
  ["slow", "names", "TIMEOUT"],
  ["slow", "portPlease", "TIMEOUT"],
  ["truncated", "names", "BAD_REPLY"],
  ["truncated", "portPlease", "BAD_REPLY"],
  // The garbage fake answers as an HTTP server would: the client names it as not EPMD.
  ["garbage", "names", "NOT_EPMD"],
  ["garbage", "portPlease", "NOT_EPMD"],
  ["oversized", "names", "TOO_LARGE"],
  // EPMD always answers NAMES_REQ: a port that closes instead is not EPMD (a distribution port does this).
  ["close", "names", "NOT_EPMD"],
  ["close", "portPlease", "NO_REPLY"],
];

for (const [behaviour, op, code] of cases) {
  Deno.test(`${op}() against a '${behaviour}' EPMD fails with ${code} within its deadline`, async () => {
    await using epmd = fakeEpmd(behaviour);
    const options = { port: EPMD_PORT, timeoutMs: TIMEOUT_MS, connect: epmd.connect };
    const call = op === "names" ? names("127.0.0.1", options) : portPlease("127.0.0.1", "target", options);
    const err = await expectCode(call, code);
    nodeAssert.equal(err.host, "127.0.0.1");
    nodeAssert.equal(err.port, EPMD_PORT);
    assert(
      err.message.startsWith(op === "names" ? "Cannot list nodes on 127.0.0.1:" : "Cannot resolve 'target'"),
      err.message,
    );
    nodeAssert.equal(epmd.accepted, 1);
  });
}

Deno.test("the slow EPMD still answers a valid PORT2_RESP when the deadline allows it", async () => {
  await using epmd = fakeEpmd("slow");
  const port = await portPlease("127.0.0.1", "target", {
    port: EPMD_PORT,
    timeoutMs: 10_000,
    connect: epmd.connect,
  });
  nodeAssert.equal(port.port, 35191);
  nodeAssert.equal(port.highestVersion, 6);
});

Deno.test("names() on a TCP port where nothing listens fails with REFUSED, saying nothing listens there", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const err = await expectCode(names("127.0.0.1", { port, timeoutMs: TIMEOUT_MS }), "REFUSED");
  assert(err.message.includes(`nothing listens on 127.0.0.1:${port}`), err.message);
});

Deno.test("portPlease() over a real TCP connection to a silent EPMD fails with TIMEOUT", async () => {
  await using epmd = await startFakeEpmd("silent");
  const err = await expectCode(
    portPlease("127.0.0.1", "target", { port: epmd.port, timeoutMs: TIMEOUT_MS }),
    "TIMEOUT",
  );
  nodeAssert.equal(err.port, epmd.port);
  nodeAssert.equal(epmd.accepted, 1);
});
