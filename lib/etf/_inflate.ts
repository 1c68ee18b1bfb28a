/**
 * A bounded zlib (RFC 1950) / DEFLATE (RFC 1951) decoder for compressed terms (tag 80). Written here so
 * that decoding a term never loads `node:zlib` (and with it Deno's Node-compat layer) on the start-up
 * path; compressed terms are rare on the wire, so clarity wins over speed: codes are decoded bit by bit.
 * @module
 */

/** Why inflating failed. */
export class InflateError extends Error {
  override name = "InflateError";
  /** `TRUNCATED`: the input ends early; `TOO_LARGE`: more output than allowed; `INVALID`: bad data. */
  readonly code: "TRUNCATED" | "TOO_LARGE" | "INVALID";
  constructor(code: InflateError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

const LENGTH_BASE = [
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  13,
  15,
  17,
  19,
  23,
  27,
  31,
  35,
  43,
  51,
  59,
  67,
  83,
  99,
  115,
  131,
  163,
  195,
  227,
  258,
];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1,
  2,
  3,
  4,
  5,
  7,
  9,
  13,
  17,
  25,
  33,
  49,
  65,
  97,
  129,
  193,
  257,
  385,
  513,
  769,
  1025,
  1537,
  2049,
  3073,
  4097,
  6145,
  8193,
  12289,
  16385,
  24577,
];
const DIST_EXTRA = [
  0,
  0,
  0,
  0,
  1,
  1,
  2,
  2,
  3,
  3,
  4,
  4,
  5,
  5,
  6,
  6,
  7,
  7,
  8,
  8,
  9,
  9,
  10,
  10,
  11,
  11,
  12,
  12,
  13,
  13,
];
/** The order in which a dynamic block lists the code lengths of the code-length alphabet. */
const CLEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function huffman(lengths: ArrayLike<number>, what: string): Huffman {
  const counts = new Uint16Array(16);
  for (let i = 0; i < lengths.length; i++) counts[lengths[i]]++;
  counts[0] = 0;
  // Over-subscribed sets of lengths are invalid; incomplete ones are allowed (a single distance code).
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left = left * 2 - counts[len];
    if (left < 0) throw new InflateError("INVALID", `over-subscribed ${what} code`);
  }
  const offsets = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offsets[len + 1] = offsets[len] + counts[len];
  const symbols = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) if (lengths[s] !== 0) symbols[offsets[lengths[s]]++] = s;
  return { counts, symbols };
}

/** The fixed codes of block type 1, built at their first use: every command loads this module, few inflate. */
let fixed: { lit: Huffman; dist: Huffman } | undefined;
function fixedCodes(): { lit: Huffman; dist: Huffman } {
  return fixed ??= {
    lit: huffman(
      Array.from({ length: 288 }, (_, i) => (i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8)),
      "literal/length",
    ),
    dist: huffman(new Array(30).fill(5), "distance"),
  };
}

class Inflater {
  pos = 0;
  bitBuf = 0;
  bitCount = 0;
  out: Uint8Array;
  n = 0;

  constructor(readonly input: Uint8Array, readonly max: number) {
    this.out = new Uint8Array(Math.min(max, 1 << 16));
  }

  bits(count: number): number {
    while (this.bitCount < count) {
      if (this.pos >= this.input.length) throw new InflateError("TRUNCATED", "the zlib stream ends early");
      this.bitBuf |= this.input[this.pos++] << this.bitCount;
      this.bitCount += 8;
    }
    const v = this.bitBuf & ((1 << count) - 1);
    this.bitBuf >>>= count;
    this.bitCount -= count;
    return v;
  }

  decode(h: Huffman): number {
    let code = 0, first = 0, index = 0;
    for (let len = 1; len < 16; len++) {
      code |= this.bits(1);
      const count = h.counts[len];
      if (code - first < count) return h.symbols[index + code - first];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new InflateError("INVALID", "a Huffman code that is not in the table");
  }

  put(byte: number): void {
    if (this.n >= this.out.length) {
      if (this.n >= this.max) throw new InflateError("TOO_LARGE", `inflates to more than ${this.max} bytes`);
      const bigger = new Uint8Array(Math.min(this.max, this.out.length * 2));
      bigger.set(this.out);
      this.out = bigger;
    }
    this.out[this.n++] = byte;
  }

  stored(): void {
    this.bitBuf = 0;
    this.bitCount = 0;
    if (this.pos + 4 > this.input.length) throw new InflateError("TRUNCATED", "the zlib stream ends early");
    const len = this.input[this.pos] | (this.input[this.pos + 1] << 8);
    const nlen = this.input[this.pos + 2] | (this.input[this.pos + 3] << 8);
    this.pos += 4;
    if (len !== (~nlen & 0xffff)) throw new InflateError("INVALID", "a stored block's length check fails");
    if (this.pos + len > this.input.length) throw new InflateError("TRUNCATED", "the zlib stream ends early");
    for (let i = 0; i < len; i++) this.put(this.input[this.pos + i]);
    this.pos += len;
  }

  codes(lit: Huffman, dist: Huffman): void {
    for (;;) {
      const sym = this.decode(lit);
      if (sym < 256) this.put(sym);
      else if (sym === 256) return;
      else {
        const li = sym - 257;
        if (li >= 29) throw new InflateError("INVALID", `length symbol ${sym}`);
        const length = LENGTH_BASE[li] + this.bits(LENGTH_EXTRA[li]);
        const di = this.decode(dist);
        if (di >= 30) throw new InflateError("INVALID", `distance symbol ${di}`);
        const distance = DIST_BASE[di] + this.bits(DIST_EXTRA[di]);
        if (distance > this.n) {
          throw new InflateError("INVALID", "a distance reaches before the start of the output");
        }
        for (let i = 0; i < length; i++) this.put(this.out[this.n - distance]);
      }
    }
  }

  dynamic(): void {
    const nlen = this.bits(5) + 257, ndist = this.bits(5) + 1, ncode = this.bits(4) + 4;
    if (nlen > 286 || ndist > 30) throw new InflateError("INVALID", "too many length or distance codes");
    const clens = new Uint8Array(19);
    for (let i = 0; i < ncode; i++) clens[CLEN_ORDER[i]] = this.bits(3);
    const clen = huffman(clens, "code length");
    const lengths = new Uint8Array(nlen + ndist);
    for (let i = 0; i < nlen + ndist;) {
      const sym = this.decode(clen);
      if (sym < 16) {
        lengths[i++] = sym;
        continue;
      }
      let repeat: number, value = 0;
      if (sym === 16) {
        if (i === 0) throw new InflateError("INVALID", "a repeat with no previous length");
        value = lengths[i - 1];
        repeat = 3 + this.bits(2);
      } else if (sym === 17) repeat = 3 + this.bits(3);
      else repeat = 11 + this.bits(7);
      if (i + repeat > nlen + ndist) throw new InflateError("INVALID", "code lengths overrun their count");
      lengths.fill(value, i, i + repeat);
      i += repeat;
    }
    if (lengths[256] === 0) throw new InflateError("INVALID", "no end-of-block code");
    this.codes(
      huffman(lengths.subarray(0, nlen), "literal/length"),
      huffman(lengths.subarray(nlen), "distance"),
    );
  }
}

function adler32(data: Uint8Array): number {
  let a = 1, b = 0;
  for (let i = 0; i < data.length; i++) {
    a = (a + data[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Inflates the zlib stream at the start of `input` into at most `maxOutput` bytes, checks its Adler-32,
 * and says how many input bytes the stream took. Throws {@link InflateError}.
 */
export function zlibInflate(input: Uint8Array, maxOutput: number): { output: Uint8Array; consumed: number } {
  if (input.length < 2) throw new InflateError("TRUNCATED", "the zlib stream ends early");
  const cmf = input[0], flg = input[1];
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0) {
    throw new InflateError("INVALID", "not a zlib stream (bad header)");
  }
  if (flg & 0x20) throw new InflateError("INVALID", "a zlib stream with a preset dictionary");
  const z = new Inflater(input, maxOutput);
  z.pos = 2;
  let last = 0;
  while (!last) {
    last = z.bits(1);
    const type = z.bits(2);
    if (type === 0) z.stored();
    else if (type === 1) {
      const { lit, dist } = fixedCodes();
      z.codes(lit, dist);
    } else if (type === 2) z.dynamic();
    else throw new InflateError("INVALID", "block type 3");
  }
  // The Adler-32 trailer starts at the next byte boundary.
  if (z.pos + 4 > input.length) throw new InflateError("TRUNCATED", "the zlib stream ends early");
  const output = z.out.subarray(0, z.n);
  const want =
    ((input[z.pos] << 24) | (input[z.pos + 1] << 16) | (input[z.pos + 2] << 8) | input[z.pos + 3]) >>> 0;
  if (adler32(output) !== want) throw new InflateError("INVALID", "the Adler-32 check fails");
  return { output, consumed: z.pos + 4 };
}
