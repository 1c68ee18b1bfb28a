/**
 * A DNS server for the fault tests that answers every query with SERVFAIL, as a cluster DNS does when
 * its backend (the Kubernetes API, an upstream) fails. UDP only, on the address given.
 *
 * Run: `deno run --allow-net --unstable-net tests/_servfail_dns.ts 10.244.7.1` (UDP sockets are unstable). Prints `ready`, runs until killed.
 *
 * @module
 */

const hostname = Deno.args[0];
if (!hostname) {
  console.error("Missing address: expected the IP address to listen on");
  Deno.exit(2);
}
const sock = Deno.listenDatagram({ hostname, port: 53, transport: "udp" });
console.log("ready");
for await (const [query, from] of sock) {
  if (query.length < 12) continue;
  const reply = query.slice();
  reply[2] = 0x80 | (query[2] & 0x79); // QR, the query's opcode and RD
  reply[3] = 0x80 | 2; // RA, RCODE 2 (SERVFAIL)
  reply.fill(0, 6, 12); // no answer, authority or additional records (the question stays)
  const qdcount = (query[4] << 8) | query[5];
  // Keep only the question section: skip each name and its type and class.
  let at = 12;
  for (let q = 0; q < qdcount && at < query.length; q++) {
    while (at < query.length && query[at] !== 0) at += query[at] + 1;
    at += 5;
  }
  await sock.send(reply.subarray(0, Math.min(at, reply.length)), from).catch(() => {});
}
