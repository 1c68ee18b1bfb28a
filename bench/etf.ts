/**
 * ETF codec throughput: decodeTerm/encodeTerm in Deno against binary_to_term/term_to_binary in a real
 * `erl -noshell`, on the same ~1 MB term (a list of tuples shaped like rpc replies).
 */
import { atom, decodeTerm, encodeTerm, ErlFloat, type Term, termEquals, tuple } from "../lib/etf/mod.ts";
import { median, printTable, round } from "./_stats.ts";

/** A list of `n` tuples `{Atom, Int, <<50 bytes>>, Float, [Small, Atom, Int]}`. */
function buildTerm(n: number): Term {
  const names = ["ok", "error", "node_up", "node_down", "timeout", "running", "stopped", "pending"];
  const out: Term[] = [];
  for (let i = 0; i < n; i++) {
    const bin = new Uint8Array(50);
    for (let j = 0; j < 50; j++) bin[j] = (i * 31 + j) & 0xff;
    out.push(tuple(
      atom(names[i % names.length]),
      i * 7919 - 5_000_000,
      bin,
      new ErlFloat(i / 3),
      [i % 256, atom("tag"), i * 100_000],
    ));
  }
  return out;
}

function timeMs(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

const ERL_SCRIPT = `
  [F, RunsS] = init:get_plain_arguments(),
  Runs = list_to_integer(RunsS),
  {ok, B} = file:read_file(F),
  T = binary_to_term(B),
  Same = term_to_binary(T, [{minor_version, 2}]) =:= B,
  Time = fun(Fun) -> [element(1, timer:tc(Fun)) || _ <- lists:seq(1, Runs)] end,
  _ = Time(fun() -> binary_to_term(B) end),
  _ = Time(fun() -> term_to_binary(T, [{minor_version, 2}]) end),
  Dec = Time(fun() -> binary_to_term(B) end),
  Enc = Time(fun() -> term_to_binary(T, [{minor_version, 2}]) end),
  io:format("same ~p~ndecode ~w~nencode ~w~n", [Same, Dec, Enc]),
  halt().`;

/** Erlang's timings (µs per run) on the bytes in `file`, or undefined when `erl` cannot run. */
async function erlTimes(
  file: string,
  runs: number,
): Promise<{ same: boolean; dec: number[]; enc: number[] } | undefined> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("erl", {
      args: ["-noshell", "-eval", ERL_SCRIPT, "-extra", file, String(runs)],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      signal: AbortSignal.timeout(120_000),
    }).output();
  } catch (e) {
    console.warn(`Skipping the Erlang side: cannot run erl: ${(e as Error).message}`);
    return undefined;
  }
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`erl failed: ${text} ${new TextDecoder().decode(out.stderr)}`);
  const line = (key: string) => text.split("\n").find((l) => l.startsWith(key + " "))!.slice(key.length + 1);
  return { same: line("same") === "true", dec: JSON.parse(line("decode")), enc: JSON.parse(line("encode")) };
}

/** Runs the ETF benchmark and returns the figures (MB/s are 10^6 bytes per second, medians). */
export async function benchEtf(runs = 20, tuples = 11_000): Promise<Record<string, unknown>> {
  const term = buildTerm(tuples);
  const bytes = encodeTerm(term);
  if (!termEquals(decodeTerm(bytes), term)) throw new Error("The benchmark term does not round-trip");
  const mb = bytes.length / 1e6;

  for (let i = 0; i < 5; i++) {
    decodeTerm(bytes);
    encodeTerm(term);
  }
  const dec: number[] = [];
  const enc: number[] = [];
  for (let i = 0; i < runs; i++) {
    dec.push(timeMs(() => decodeTerm(bytes)));
    enc.push(timeMs(() => encodeTerm(term)));
  }

  const dir = await Deno.makeTempDir({ prefix: "erlmesh-bench-etf-" });
  let erl: Awaited<ReturnType<typeof erlTimes>>;
  try {
    await Deno.writeFile(`${dir}/term.bin`, bytes);
    erl = await erlTimes(`${dir}/term.bin`, runs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const mbps = (ms: number) => round(mb / (ms / 1000), 1);
  const figures: Record<string, unknown> = {
    termBytes: bytes.length,
    tuples,
    runs,
    denoDecodeMs: round(median(dec), 2),
    denoEncodeMs: round(median(enc), 2),
    denoDecodeMBps: mbps(median(dec)),
    denoEncodeMBps: mbps(median(enc)),
  };
  const rows: (string | number)[][] = [
    ["decodeTerm (Deno)", round(median(dec), 2), mbps(median(dec))],
    ["encodeTerm (Deno)", round(median(enc), 2), mbps(median(enc))],
  ];
  if (erl) {
    const erlDec = median(erl.dec) / 1000;
    const erlEnc = median(erl.enc) / 1000;
    Object.assign(figures, {
      erlDecodeMs: round(erlDec, 2),
      erlEncodeMs: round(erlEnc, 2),
      erlDecodeMBps: mbps(erlDec),
      erlEncodeMBps: mbps(erlEnc),
      erlSameBytes: erl.same,
      decodeRatio: round(median(dec) / erlDec, 2),
      encodeRatio: round(median(enc) / erlEnc, 2),
    });
    rows.push(
      ["binary_to_term (erl)", round(erlDec, 2), mbps(erlDec)],
      ["term_to_binary (erl, minor_version 2)", round(erlEnc, 2), mbps(erlEnc)],
    );
  }
  printTable(
    `ETF codec on a ${round(mb, 2)} MB term (${tuples} tuples), median of ${runs} runs after warm-up`,
    ["codec", "ms", "MB/s"],
    rows,
  );
  if (erl) {
    console.log(
      `Deno/erl time ratio: decode ${figures.decodeRatio}x, encode ${figures.encodeRatio}x; ` +
        `term_to_binary gives the same bytes as encodeTerm: ${erl.same}`,
    );
  }
  return figures;
}

if (import.meta.main) console.log(await benchEtf());
