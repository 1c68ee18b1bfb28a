/**
 * The fuzz driver shared by the `*_fuzz_test.ts` files beside each decoder that reads the network.
 *
 * A fuzz target is a fast-check arbitrary of hostile inputs and a check that feeds one input to the
 * decoder and returns what came of it: `"ok"` for a valid result, or the code of the layer's typed error.
 * Anything else the decoder throws fails the run, with the input that caused it (shrunk).
 *
 * Inside `deno task test` each target runs its short count; `deno task fuzz` runs every target 1,000,000
 * times (`FUZZ_RUNS=<n>` for another count) and prints, per target, the count, the time, the outcomes,
 * the live heap and the peak resident memory; the live heap must not grow from input to input.
 * @module
 */
import fc from "fast-check";

/** What one input came to: `"ok"`, or the typed error's code. */
export type Outcome = string;

/** Options of {@link fuzz}. */
export interface FuzzOptions {
  /** Inputs in the short run (inside `deno task test`). */
  runs: number;
  /** Run the check as an async property (decoders over a transport). @default false */
  async?: boolean;
  /**
   * A long run gives this target `FUZZ_RUNS / longDivisor` inputs: for targets whose every input is a
   * whole session over a real socket (the Kubernetes source over HTTP), while the decoder inside is
   * fuzzed `FUZZ_RUNS` times alone. @default 1
   */
  longDivisor?: number;
}

/**
 * The number of inputs of a long run, from `FUZZ_RUNS` (or `FUZZ_LONG_RUNS`, which `deno task fuzz`
 * sets to 1,000,000 and `FUZZ_RUNS` overrides), or undefined for a short run.
 */
export function longRuns(): number | undefined {
  for (const name of ["FUZZ_RUNS", "FUZZ_LONG_RUNS"]) {
    const text = Deno.env.get(name);
    if (text === undefined || text === "") continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Cannot use ${name} '${text}': expected a positive integer`);
    }
    return n;
  }
  return undefined;
}

const MIB = 1024 * 1024;

/**
 * Runs `check` on inputs drawn from `arbitrary`: `options.runs` of them, or `FUZZ_RUNS` in a long run.
 * Fails on the first input whose check throws (an error that is not the layer's typed one, or a failed
 * assertion). In a long run it also fails when the live heap (after a collection: `deno task fuzz`
 * passes `--expose-gc`) grew by more than `FUZZ_MAX_GROWTH_MIB` (default 64) between the first and the
 * last tenth of the inputs: what the decoder keeps from one input to the next.
 */
export async function fuzz<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  check: (input: T) => Outcome | Promise<Outcome>,
  options: FuzzOptions,
): Promise<void> {
  const long = longRuns();
  const numRuns = long === undefined
    ? options.runs
    : Math.max(1, Math.ceil(long / (options.longDivisor ?? 1)));
  const outcomes = new Map<string, number>();
  const gc = (globalThis as { gc?: () => void }).gc;
  const every = Math.max(1, Math.floor(numRuns / 10));
  const heap: number[] = [];
  let peakRss = 0;
  let count = 0;
  const sample = () => {
    gc?.();
    const m = Deno.memoryUsage();
    heap.push(m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
  };
  const tally = (o: Outcome) => {
    outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    if (long !== undefined && ++count % every === 0) sample();
  };
  const started = performance.now();
  if (options.async) {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => tally(await check(input))),
      { numRuns },
    );
  } else {
    fc.assert(fc.property(arbitrary, (input) => tally(check(input) as Outcome)), { numRuns });
  }
  if (long === undefined) return;
  const seconds = (performance.now() - started) / 1000;
  sample();
  const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
  const shown = [...outcomes].sort((a, b) => b[1] - a[1])
    .map(([o, n]) => `${o} ${(100 * n / total).toFixed(1)}%`).join(", ");
  const mib = (n: number) => `${Math.round(n / MIB)} MiB`;
  const growth = heap[heap.length - 1] - heap[0];
  console.log(
    `fuzz ${name}: ${total} inputs in ${seconds.toFixed(1)} s, no untyped error, no hang; ` +
      `live heap ${mib(heap[0])} after the first tenth, ${mib(heap[heap.length - 1])} at the end` +
      `${gc ? "" : " (no --expose-gc: not collected)"}, peak RSS ${mib(peakRss)}; outcomes: ${shown}`,
  );
  const bound = Number(Deno.env.get("FUZZ_MAX_GROWTH_MIB") || 64);
  if (gc && growth > bound * MIB) {
    throw new Error(
      `Cannot bound memory in fuzz ${name}: the live heap grew by ${mib(growth)} (> ${bound} MiB)`,
    );
  }
}

/**
 * Mutations of a real byte sequence: some bytes replaced, a cut, a splice of random bytes, or a byte
 * inserted or removed; `keep` leading bytes stay as they are (a version byte, a tag).
 */
export function mutated(seeds: readonly Uint8Array[], keep = 0): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({
      kind: fc.constant("boundary" as const),
      at: fc.nat(),
      value: fc.constantFrom(0, 0x7f, 0x80, 0xff),
    }),
  );
  return fc.tuple(fc.constantFrom(...seeds), fc.array(edit, { minLength: 1, maxLength: 4 })).map(
    ([seed, edits]) => {
      let bytes = Array.from(seed);
      for (const { kind, at, value } of edits) {
        const room = bytes.length - keep;
        if (room <= 0 && kind !== "insert") continue;
        const i = keep + (at % Math.max(room, 1));
        if (kind === "set" || kind === "boundary") bytes[i] = value;
        else if (kind === "cut") bytes = bytes.slice(0, i);
        else if (kind === "insert") bytes.splice(i, 0, value);
        else bytes.splice(i, 1);
      }
      return Uint8Array.from(bytes);
    },
  );
}

/** Splits `bytes` into chunks at the given cut points (how a stream may arrive). */
export function chunked(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    if (p > from) out.push(bytes.subarray(from, p));
    from = Math.max(from, p);
  }
  if (from < bytes.length) out.push(bytes.subarray(from));
  return out;
}

/** Bytes from a hex string. */
export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** The real bytes an OTP node and its EPMD sent (testdata/fuzz/seeds.json, tools/fuzz_seeds.ts). */
export interface RealSeeds {
  /** A whole NAMES_REQ reply. */
  namesReply: Uint8Array;
  /** A whole PORT2_RESP. */
  port2Reply: Uint8Array;
  /** The status, challenge and challenge_ack messages, without their length prefix. */
  handshake: Uint8Array[];
  /** Distribution packets after the handshake, without their u32 length. */
  packets: Uint8Array[];
}

/** Reads testdata/fuzz/seeds.json. */
export async function realSeeds(): Promise<RealSeeds> {
  const file = JSON.parse(
    await Deno.readTextFile(new URL("../../testdata/fuzz/seeds.json", import.meta.url)),
  ) as { namesReply: string; port2Reply: string; handshake: string[]; packets: string[] };
  return {
    namesReply: fromHex(file.namesReply),
    port2Reply: fromHex(file.port2Reply),
    handshake: file.handshake.map(fromHex),
    packets: file.packets.map(fromHex),
  };
}
