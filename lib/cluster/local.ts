import {
  connectByAlive,
  connectNode,
  type Cookie,
  HandshakeError,
  type NodeConnection,
  parseNodeName,
} from "../dist/mod.ts";

/** Options of {@link LocalLink}. */
export interface LocalLinkOptions {
  /** The local node's full name; or only `alive` plus `host` to learn it from the handshake. */
  node?: string;
  /** The local node's alive part, when its full name is not known. */
  alive?: string;
  /** Where the local node's EPMD runs. @default "127.0.0.1" */
  host?: string;
  /** The cookie. */
  cookie: Cookie;
  /** EPMD port. @default ERL_EPMD_PORT or 4369 */
  epmdPort?: number;
  /** Deadline of one connect attempt. @default 2000 */
  connectTimeoutMs?: number;
  /** First retry delay; doubles up to `maxBackoffMs`. @default 10 */
  minBackoffMs?: number;
  /** Longest retry delay in the first 30 s of an outage (to catch a restarted node at once). @default 50 */
  maxBackoffMs?: number;
  /** Longest retry delay once the node has been away for 30 s. @default 1000 */
  slowBackoffMs?: number;
}

/**
 * The one long-lived hidden link to the local node. {@link LocalLink.get} returns the open link, or
 * connects (with backoff between attempts) when it is down.
 */
export class LocalLink {
  #opts: LocalLinkOptions;
  #conn: NodeConnection | undefined;
  #connecting: Promise<NodeConnection> | undefined;
  #nextAttempt = 0;
  #backoff: number;
  #lastError: Error | undefined;
  #generation = 0;
  #downSince: number | undefined;
  /** The local node's full name, once known. */
  name: string | undefined;

  /**
   * Does not connect yet; the first {@link LocalLink.get} does.
   *
   * @throws {TypeError} when neither `options.node` nor `options.alive` is given.
   */
  constructor(options: LocalLinkOptions) {
    this.#opts = options;
    this.#backoff = options.minBackoffMs ?? 10;
    this.name = options.node;
    if (!options.node && !options.alive) {
      throw new TypeError("LocalLink needs the local node's name or its alive part");
    }
  }

  /** How many times a link was established (a new generation means the node restarted or the link dropped). */
  get generation(): number {
    return this.#generation;
  }

  /** The last connect failure, if the link is down. */
  get lastError(): Error | undefined {
    return this.#conn?.open ? undefined : this.#lastError;
  }

  /** True when the link is up. */
  get up(): boolean {
    return this.#conn?.open ?? false;
  }

  /** The open link, connecting first when needed. Rejects while backing off after a failure. */
  get(): Promise<NodeConnection> {
    if (this.#conn?.open) return Promise.resolve(this.#conn);
    if (this.#connecting) return this.#connecting;
    const wait = this.#nextAttempt - Date.now();
    if (wait > 0 && this.#lastError) return Promise.reject(this.#lastError);
    this.#connecting = this.#connect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #connect(): Promise<NodeConnection> {
    const o = this.#opts;
    const common = { cookie: o.cookie, epmdPort: o.epmdPort, timeoutMs: o.connectTimeoutMs ?? 2000 };
    try {
      const conn = o.node
        ? await connectNode(o.node, common)
        : await connectByAlive(o.alive!, o.host ?? "127.0.0.1", common);
      this.#conn = conn;
      this.name = conn.node;
      this.#generation++;
      this.#backoff = o.minBackoffMs ?? 10;
      this.#lastError = undefined;
      this.#downSince = undefined;
      return conn;
    } catch (err) {
      this.#lastError = err instanceof Error ? err : new Error(String(err));
      const now = Date.now();
      this.#downSince ??= now;
      this.#nextAttempt = now + this.#backoff;
      const cap = now - this.#downSince < 30000 ? o.maxBackoffMs ?? 50 : o.slowBackoffMs ?? 1000;
      this.#backoff = Math.min(this.#backoff * 2, cap);
      throw err;
    }
  }

  /** Waits until the link is up or `timeoutMs` passes; rejects with the last connect error. */
  async waitUp(timeoutMs: number, signal?: AbortSignal): Promise<NodeConnection> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      try {
        return await this.get();
      } catch (err) {
        if (
          err instanceof HandshakeError &&
          ["COOKIE_REJECTED", "NAME_MISMATCH", "NOT_ALLOWED"].includes(err.code)
        ) throw err;
        if (Date.now() >= end) throw err;
        await new Promise((r) =>
          setTimeout(r, Math.max(10, Math.min(this.#nextAttempt - Date.now(), end - Date.now())))
        );
      }
    }
  }

  /** Closes the link. */
  close(): void {
    this.#conn?.close();
    this.#conn = undefined;
  }
}

/** True when `name` looks like a full node name (has an `@`). */
export function isFullName(name: string): boolean {
  try {
    parseNodeName(name);
    return true;
  } catch {
    return false;
  }
}
