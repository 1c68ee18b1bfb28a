import type { Transport } from "./transport.ts";

/**
 * One end of an in-memory duplex pipe. For unit tests of exact bytes and of hostile peers only: real
 * peers are tested over real sockets.
 */
export class MemoryTransport implements Transport {
  #inbox: Uint8Array[] = [];
  #waiters: (() => void)[] = [];
  #eof = false;
  #closed = false;
  /** The other end; set by {@link memoryPipe}. */
  peer!: MemoryTransport;

  /** Delivers bytes to this end, as if the peer had written them. */
  push(data: Uint8Array): void {
    if (this.#eof) return;
    this.#inbox.push(data.slice());
    this.#wake();
  }
  /** Marks the end of the stream for this end. */
  end(): void {
    this.#eof = true;
    this.#wake();
  }
  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#inbox.length === 0) {
      if (this.#eof || this.#closed) return null;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    const head = this.#inbox[0];
    const n = Math.min(head.length, p.length);
    p.set(head.subarray(0, n));
    if (n === head.length) this.#inbox.shift();
    else this.#inbox[0] = head.subarray(n);
    return n;
  }
  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Error("closed"));
    this.peer.push(p);
    return Promise.resolve(p.length);
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake();
    this.peer.end();
  }
}

/** A connected pair of in-memory transports. */
export function memoryPipe(): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport();
  const b = new MemoryTransport();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
