/**
 * Captures the bytes a real OTP node and its EPMD send erlmesh, as seeds for the fuzzers
 * (testdata/fuzz/seeds.json): the NAMES_REQ and PORT_PLEASE2_REQ replies, the handshake frames (status,
 * challenge, challenge_ack) and the distribution packets of a session that calls rpc, pings, and gets
 * the node to link, monitor, unlink and send to erlmesh's pid.
 *
 * Run: `deno run -A tools/fuzz_seeds.ts [25|27|29]` (starts one node and an EPMD on a free port on
 * loopback, stops both).
 * @module
 */
import { connectTcp, type Transport } from "../lib/bytes/mod.ts";
import { names, portPlease } from "../lib/epmd/mod.ts";
import { Cookie } from "../lib/dist/cookie.ts";
import { connectNode } from "../lib/dist/node.ts";
import { freePort, type OtpVersion, randomCookie, startNode } from "../tests/_harness/otp.ts";

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** A transport that keeps a copy of every byte read from it. */
function recording(t: Transport, into: number[]): Transport {
  return {
    async read(p) {
      const n = await t.read(p);
      if (n !== null) into.push(...p.subarray(0, n));
      return n;
    },
    write: (p) => t.write(p),
    close: () => t.close(),
  };
}

const version = (Deno.args[0] ?? "25") as OtpVersion;
const epmdPort = freePort();
const secret = randomCookie();
await using node = await startNode({
  version,
  name: `fuzzseed${Date.now() % 100000}@127.0.0.1`,
  cookie: secret,
  epmdPort,
});
const alive = node.name.split("@")[0];

const streams: number[][] = [];
const connect = async (host: string, port: number, signal: AbortSignal) => {
  const bytes: number[] = [];
  streams.push(bytes);
  return recording(await connectTcp(host, port, { signal }), bytes);
};

await names("127.0.0.1", { port: epmdPort, connect });
const namesReply = streams.at(-1)!;
await portPlease("127.0.0.1", alive, { port: epmdPort, connect });
const port2Reply = streams.at(-1)!;

const cookie = new Cookie(secret, "test");
const conn = await connectNode(node.name, { cookie, epmdPort, connect });
const dist = streams.at(-1)!;
await conn.rpc("erlang", "nodes", []);
await conn.ping();
// The node links to, monitors, unlinks from and sends to our pid, then replies.
await conn.evaluate(
  'link(P), erlang:monitor(process, P), unlink(P), P ! {hello, [1.5, <<"bin">>, #{a => self()}]}, ok.',
  { P: conn.self },
);
await conn.rpc("erlang", "term_to_binary", [[..."x".repeat(2000)].map(() => 1)]);
conn.close();

// Split the distribution stream: three u16 handshake frames, then u32 packets.
const d = Uint8Array.from(dist);
const view = new DataView(d.buffer);
let at = 0;
const handshake: string[] = [];
for (let i = 0; i < 3; i++) {
  const len = view.getUint16(at);
  handshake.push(toHex(d.subarray(at + 2, at + 2 + len)));
  at += 2 + len;
}
const packets: string[] = [];
while (at + 4 <= d.length) {
  const len = view.getUint32(at);
  packets.push(toHex(d.subarray(at + 4, at + 4 + len)));
  at += 4 + len;
}

const out = {
  comment:
    `Bytes an OTP ${version} node and its EPMD sent erlmesh (tools/fuzz_seeds.ts): seeds for the fuzzers`,
  namesReply: toHex(Uint8Array.from(namesReply)),
  port2Reply: toHex(Uint8Array.from(port2Reply)),
  handshake,
  packets,
};
const file = new URL("../testdata/fuzz/seeds.json", import.meta.url);
await Deno.mkdir(new URL(".", file), { recursive: true });
await Deno.writeTextFile(file, JSON.stringify(out, null, 2) + "\n");
console.log(`Wrote ${file.pathname}: ${handshake.length} handshake frames, ${packets.length} packets`);
