/** A growable big-endian byte builder. */
export class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  constructor(initial = 256) {
    this.#buf = new Uint8Array(initial);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** The number of bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #grow(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** Appends one unsigned byte. */
  u8(v: number): this {
    this.#grow(1);
    this.#buf[this.#len++] = v;
    return this;
  }
  /** Appends an unsigned 16-bit integer. */
  u16(v: number): this {
    this.#grow(2);
    this.#view.setUint16(this.#len, v);
    this.#len += 2;
    return this;
  }
  /** Appends an unsigned 32-bit integer. */
  u32(v: number): this {
    this.#grow(4);
    this.#view.setUint32(this.#len, v);
    this.#len += 4;
    return this;
  }
  /** Appends a signed 32-bit integer. */
  i32(v: number): this {
    this.#grow(4);
    this.#view.setInt32(this.#len, v);
    this.#len += 4;
    return this;
  }
  /** Appends an unsigned 64-bit integer. */
  u64(v: bigint): this {
    this.#grow(8);
    this.#view.setBigUint64(this.#len, v);
    this.#len += 8;
    return this;
  }
  /** Appends a big-endian IEEE 754 double. */
  f64(v: number): this {
    this.#grow(8);
    this.#view.setFloat64(this.#len, v);
    this.#len += 8;
    return this;
  }
  /** Appends raw bytes. */
  bytes(b: Uint8Array): this {
    this.#grow(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }
  /** Overwrites a u32 at `offset` (for length prefixes written after the body). */
  setU32(offset: number, v: number): this {
    this.#view.setUint32(offset, v);
    return this;
  }
  /** Overwrites a u16 at `offset`. */
  setU16(offset: number, v: number): this {
    this.#view.setUint16(offset, v);
    return this;
  }
  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Prefixes `body` with its length as a u16 (handshake and EPMD framing). */
export function frame16(body: Uint8Array): Uint8Array {
  if (body.length > 0xffff) {
    throw new RangeError(`A u16-framed message holds at most 65535 bytes, got ${body.length}`);
  }
  return new ByteWriter(body.length + 2).u16(body.length).bytes(body).finish();
}

/** Prefixes `body` with its length as a u32 (distribution framing after the handshake). */
export function frame32(body: Uint8Array): Uint8Array {
  return new ByteWriter(body.length + 4).u32(body.length).bytes(body).finish();
}
