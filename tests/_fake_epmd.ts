/**
 * A hostile fake EPMD on a real TCP socket (127.0.0.1, a free port) for tests of the EPMD client.
 * @module
 */

/**
 * What the fake server does with each connection:
 * - `silent`: reads the request and never answers;
 * - `slow`: answers a valid reply one byte every 100 ms, for ever (NAMES lines never end);
 * - `truncated`: sends half a valid reply, then closes;
 * - `garbage`: answers with an HTTP response;
 * - `oversized`: answers NAMES_REQ with an endless stream of valid lines (megabytes);
 * - `close`: closes the connection at once, without reading.
 */
export type FakeEpmdBehaviour = "silent" | "slow" | "truncated" | "garbage" | "oversized" | "close";

/** A running fake EPMD. */
export interface FakeEpmd extends AsyncDisposable {
  /** The TCP port it listens on (127.0.0.1). */
  port: number;
  /** The number of connections accepted so far. */
  readonly accepted: number;
  /** Stops listening, closes every accepted connection and waits for all handlers to finish. */
  close(): Promise<void>;
}

const enc = new TextEncoder();
const DRIP_MS = 100;

// PORT2_RESP for "target" on port 35191, as OTP 25.2.3 registers it.
const PORT2_OK = new Uint8Array([119, 0, 0x89, 0x77, 77, 0, 0, 6, 0, 5, 0, 6, ...enc.encode("target"), 0, 0]);

function namesHead(port: number): Uint8Array {
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, port);
  return head;
}

/** Starts a fake EPMD with the given behaviour. Close it (or `await using` it) to free every resource. */
export function startFakeEpmd(behaviour: FakeEpmdBehaviour): Promise<FakeEpmd> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const port = listener.addr.port;
  const stop = new AbortController();
  const conns = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  let accepted = 0;

  const sleep = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (stop.signal.aborted) return resolve(false);
      const onAbort = () => {
        clearTimeout(id);
        resolve(false);
      };
      const id = setTimeout(() => {
        stop.signal.removeEventListener("abort", onAbort);
        resolve(true);
      }, ms);
      stop.signal.addEventListener("abort", onAbort, { once: true });
    });

  const writeAll = async (conn: Deno.Conn, data: Uint8Array) => {
    for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
  };

  /** Reads one length-prefixed EPMD request; returns its body, or null at end of stream. */
  const readRequest = async (conn: Deno.Conn): Promise<Uint8Array | null> => {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(4096);
    while (buf.length < 2 || buf.length < 2 + ((buf[0] << 8) | buf[1])) {
      const n = await conn.read(chunk);
      if (n === null) return null;
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
    }
    return buf.subarray(2, 2 + ((buf[0] << 8) | buf[1]));
  };

  const serve = async (conn: Deno.Conn) => {
    if (behaviour === "close") return;
    const request = await readRequest(conn);
    if (request === null) return;
    const isNames = request[0] === 110;
    const reply = isNames ? namesHead(port) : PORT2_OK;
    switch (behaviour) {
      case "silent":
        await sleep(24 * 3600 * 1000);
        return;
      case "slow": {
        const stream = isNames
          ? [...namesHead(port), ...enc.encode("name slow at port 1\n".repeat(1000))]
          : reply;
        for (const b of stream) {
          if (!await sleep(DRIP_MS)) return;
          await writeAll(conn, Uint8Array.of(b));
        }
        await sleep(24 * 3600 * 1000);
        return;
      }
      case "truncated": {
        const full = isNames ? namesHead(port) : reply;
        await writeAll(conn, full.subarray(0, Math.floor(full.length / 2)));
        return;
      }
      case "garbage":
        await writeAll(conn, enc.encode("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
        return;
      case "oversized": {
        await writeAll(conn, namesHead(port));
        const lines = enc.encode("name flood at port 1\n".repeat(8192));
        for (let sent = 0; sent < 64 << 20 && !stop.signal.aborted; sent += lines.length) {
          await writeAll(conn, lines);
        }
        return;
      }
    }
  };

  const handle = async (conn: Deno.Conn) => {
    try {
      await serve(conn);
    } catch {
      // The client closed first, or close() closed the connection under us.
    } finally {
      if (conns.delete(conn)) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    }
  };

  const acceptLoop = (async () => {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // listener closed
      }
      accepted++;
      conns.add(conn);
      const h = handle(conn);
      handlers.add(h);
      h.finally(() => handlers.delete(h));
    }
  })();

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stop.abort();
      try {
        listener.close();
      } catch { /* already closed */ }
      await acceptLoop;
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      conns.clear();
      await Promise.allSettled([...handlers]);
    })();
    return closing;
  };

  return Promise.resolve({
    port,
    get accepted() {
      return accepted;
    },
    close,
    [Symbol.asyncDispose]: close,
  });
}
