import { BytesError } from "./errors.ts";

/**
 * The only thing the wire codecs need from a connection. A TCP socket, a TLS stream, or an in-memory
 * pipe in tests all fit.
 */
export interface Transport {
  /** Reads up to `p.length` bytes; resolves to the count, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some bytes of `p`; resolves to the count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions. Safe to call twice. */
  close(): void;
}

/** Options of {@link connectTcp}. */
export interface ConnectOptions {
  /** Aborts the connect attempt. */
  signal?: AbortSignal;
}

/** Opens a TCP connection as a {@link Transport}, failing with a typed error on refusal or deadline. */
export async function connectTcp(
  host: string,
  port: number,
  options: ConnectOptions = {},
): Promise<Transport> {
  const { signal } = options;
  signal?.throwIfAborted();
  let conn: Deno.TcpConn;
  try {
    conn = await abortable(
      Deno.connect({ hostname: host, port, transport: "tcp" }),
      signal,
      (c) => c.close(),
    );
  } catch (err) {
    if (err instanceof BytesError) {
      throw new BytesError(err.code, `Cannot connect to ${host}:${port}: ${err.message}`);
    }
    const reason = err instanceof Error ? err.message : String(err);
    throw new BytesError("CONNECT", `Cannot connect to ${host}:${port}: ${reason}`, { cause: err });
  }
  conn.setNoDelay(true);
  return new ConnTransport(conn);
}

/** The certificates of a TLS client connection, as PEM text (never logged). */
export interface TlsClientOptions {
  /** The certificate authorities the server's certificate must chain to. */
  caCerts: string[];
  /** Our certificate chain, presented when the server asks for one. */
  cert?: string;
  /** The private key of {@link TlsClientOptions.cert}. */
  key?: string;
}

/**
 * Opens a TLS connection as a {@link Transport} and completes the TLS handshake before it resolves: the
 * server's certificate is verified against `tls.caCerts` and `host` (a DNS name, or an IP address
 * matched against the certificate's IP addresses), and `tls.cert` is presented when the server asks.
 * A refused TCP connection, a failed TLS handshake or the deadline is a `BytesError` with code
 * `CONNECT` or `TIMEOUT`; the TLS library's error is its `cause`.
 */
export async function connectTls(
  host: string,
  port: number,
  options: ConnectOptions & { tls: TlsClientOptions },
): Promise<Transport> {
  const { signal, tls } = options;
  signal?.throwIfAborted();
  const hostname = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  let conn: Deno.TlsConn | undefined;
  try {
    const opening = tls.cert !== undefined && tls.key !== undefined
      ? Deno.connectTls({ hostname, port, caCerts: tls.caCerts, cert: tls.cert, key: tls.key })
      : Deno.connectTls({ hostname, port, caCerts: tls.caCerts });
    conn = await abortable(opening, signal, (c) => c.close());
    const c = conn;
    await abortable(c.handshake(), signal);
  } catch (err) {
    try {
      conn?.close();
    } catch { /* already closed */ }
    if (err instanceof BytesError) {
      throw new BytesError(err.code, `Cannot connect to ${host}:${port} with TLS: ${err.message}`, {
        cause: err,
      });
    }
    const reason = err instanceof Error ? err.message : String(err);
    throw new BytesError("CONNECT", `Cannot connect to ${host}:${port} with TLS: ${reason}`, { cause: err });
  }
  return new ConnTransport(conn);
}

class ConnTransport implements Transport {
  #conn: Deno.Conn;
  #closed = false;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  async read(p: Uint8Array): Promise<number | null> {
    try {
      return await this.#conn.read(p);
    } catch (err) {
      if (this.#closed) return null;
      // A TLS peer that closes without close_notify (OTP nodes after refusing a cookie) ends the
      // stream as a TCP peer's FIN does.
      if (
        err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BadResource ||
        err instanceof Deno.errors.UnexpectedEof
      ) return null;
      throw err;
    }
  }
  async write(p: Uint8Array): Promise<number> {
    try {
      return await this.#conn.write(p);
    } catch (err) {
      throw new BytesError("CLOSED", "Cannot write: the connection is closed", { cause: err });
    }
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

/**
 * Races `promise` against `signal`. When the signal wins, the error is a `BytesError` with code
 * `TIMEOUT` (or the signal's own reason if it is not a timeout), and `dispose` runs on the value if it
 * arrives later.
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  dispose?: (value: T) => void,
): Promise<T> {
  if (!signal) return promise;
  const safeDispose = (v: T) => {
    try {
      dispose?.(v);
    } catch { /* already gone */ }
  };
  if (signal.aborted) {
    promise.then(safeDispose, () => {});
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const onAbort = () => {
      if (done) return;
      done = true;
      reject(abortError(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        if (done) return safeDispose(v); // arrived after the deadline: nobody will use it
        done = true;
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        if (done) return;
        done = true;
        reject(e);
      },
    );
  });
}

/** The error to throw for an aborted signal: a `TIMEOUT` BytesError for deadlines. */
export function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof BytesError) return reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new BytesError("TIMEOUT", "the deadline passed", { cause: reason });
  }
  if (reason instanceof Error) return reason;
  return new BytesError("TIMEOUT", "the operation was aborted");
}
