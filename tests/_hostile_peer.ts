/**
 * A hostile pod for the fault tests, run inside a pod's namespace in place of a node: it listens on
 * EPMD's port 4369 on every address and misbehaves in one of two ways, which a real cluster meets when
 * a pod is wedged or a release is broken.
 *
 * - `silent`: accepts every connection, reads it, and never answers (a wedged EPMD, or a blackhole
 *   that completes the TCP handshake).
 * - `closer`: answers EPMD as a real one does (NAMES lists `<alive> at port 4370`; PORT_PLEASE2 gives
 *   4370), and closes every connection to port 4370 at once (a node that drops every distribution
 *   connection).
 *
 * Run: `deno run --allow-net tests/_hostile_peer.ts silent|closer [alive]`. It prints `ready` once both
 * listeners are up, and runs until killed.
 *
 * @module
 */

const mode = Deno.args[0];
const alive = Deno.args[1] ?? "app";
if (mode !== "silent" && mode !== "closer") {
  console.error(`Invalid mode '${mode}': expected 'silent' or 'closer'`);
  Deno.exit(2);
}

const DIST_PORT = 4370;
const enc = new TextEncoder();
const held: Deno.Conn[] = [];

async function readRequest(conn: Deno.Conn): Promise<Uint8Array | undefined> {
  const buf = new Uint8Array(512);
  let got = 0;
  while (got < 2 || got < 2 + ((buf[0] << 8) | buf[1])) {
    const n = await conn.read(buf.subarray(got)).catch(() => null);
    if (n === null) return undefined;
    got += n;
    if (got === buf.length) return undefined;
  }
  return buf.subarray(2, 2 + ((buf[0] << 8) | buf[1]));
}

async function epmd(conn: Deno.Conn): Promise<void> {
  const req = await readRequest(conn);
  if (mode === "silent") {
    held.push(conn); // never answered, never closed
    return;
  }
  try {
    if (req?.[0] === 110) { // NAMES_REQ
      const head = new Uint8Array([0, 0, 0x11, 0x11]); // EPMD's own port, 4369
      await conn.write(new Uint8Array([...head, ...enc.encode(`name ${alive} at port ${DIST_PORT}\n`)]));
    } else if (req?.[0] === 122) { // PORT_PLEASE2_REQ
      const name = enc.encode(alive);
      await conn.write(
        new Uint8Array([
          119,
          0,
          DIST_PORT >> 8,
          DIST_PORT & 255,
          77,
          0,
          0,
          6,
          0,
          6,
          0,
          name.length,
          ...name,
          0,
          0,
        ]),
      );
    }
  } catch { /* the client went away */ }
  conn.close();
}

const epmdListener = Deno.listen({ hostname: "0.0.0.0", port: 4369 });
const distListener = Deno.listen({ hostname: "0.0.0.0", port: DIST_PORT });
console.log("ready");

await Promise.all([
  (async () => {
    for await (const conn of epmdListener) epmd(conn);
  })(),
  (async () => {
    for await (const conn of distListener) conn.close();
  })(),
]);
