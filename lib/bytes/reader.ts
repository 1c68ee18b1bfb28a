import { BytesError } from "./errors.ts";
import { abortable, type Transport } from "./transport.ts";

/**
 * A buffered reader that hands out exactly the number of bytes asked for, however the stream was
 * split into reads. Bytes read past a message stay buffered for the next call.
 */
export class ExactReader {
  #t: Transport;
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #eof = false;

  /** Reads from `transport`; use one reader per stream, as it keeps bytes read ahead. */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** The number of bytes already buffered. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Reads exactly `n` bytes. Fails with `EOF` when the stream ends first and `TIMEOUT` when `signal`
   * aborts first. The returned array is a copy the caller owns.
   */
  async readExact(n: number, signal?: AbortSignal): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (this.#eof) {
        throw new BytesError(
          "EOF",
          `the peer closed the connection after ${this.#end - this.#start} of ${n} bytes`,
        );
      }
      await this.#fill(n, signal);
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Reads everything until the peer closes, up to `max` bytes (`TOO_LARGE` beyond it). */
  async readToEnd(max: number, signal?: AbortSignal): Promise<Uint8Array> {
    while (!this.#eof) {
      if (this.#end - this.#start > max) {
        throw new BytesError("TOO_LARGE", `the peer sent more than ${max} bytes`);
      }
      await this.#fill(this.#end - this.#start + 1, signal);
    }
    if (this.#end - this.#start > max) {
      throw new BytesError("TOO_LARGE", `the peer sent more than ${max} bytes`);
    }
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }

  async #fill(want: number, signal?: AbortSignal): Promise<void> {
    if (this.#start > 0 && this.#start === this.#end) {
      this.#start = this.#end = 0;
    }
    if (this.#buf.length - this.#start < want || this.#buf.length - this.#end < 4096) {
      const size = Math.max(want, this.#end - this.#start) + 65536;
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = next;
    }
    signal?.throwIfAborted();
    const n = await abortable(this.#t.read(this.#buf.subarray(this.#end)), signal);
    if (n === null) {
      this.#eof = true;
      return;
    }
    this.#end += n;
  }
}

/** Writes every byte of `data`, looping over partial writes. */
export async function writeAll(t: Transport, data: Uint8Array, signal?: AbortSignal): Promise<void> {
  let off = 0;
  while (off < data.length) {
    signal?.throwIfAborted();
    const n = await abortable(t.write(data.subarray(off)), signal);
    if (n <= 0) throw new BytesError("CLOSED", "Cannot write: the transport accepted no bytes");
    off += n;
  }
}
