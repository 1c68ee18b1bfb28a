// Real Erlang reads what encodeTerm() writes: binary_to_term/1 each term, then term_to_binary/2 it back.
import assert from "node:assert/strict";
import fc from "fast-check";
import { hasProgram, hex, term as arbitraryTerm, toHex } from "../lib/etf/_test_util.ts";
import {
  atom,
  BitBinary,
  decodeTerm,
  encodeTerm,
  ErlFloat,
  ErlMap,
  ExportFun,
  ImproperList,
  Pid,
  Port,
  Ref,
  type Term,
  termEquals,
  tuple,
} from "../lib/etf/mod.ts";

const hasErl = hasProgram("erl");
if (!hasErl) console.warn("SKIPPED: erlang_test.ts needs `erl` on PATH (install Erlang/OTP)");

const node = atom("erlmesh@host");

/** Terms whose OTP re-encoding ([{minor_version, 2}]) must equal our bytes exactly. */
const exact: [string, Term][] = [
  ["small int", 42],
  ["i32 bounds", [255, 256, -1, 2147483647, -2147483648]],
  ["bignums", [2147483648, -2147483649, 2n ** 64n, -(2n ** 64n), 2 ** 53 - 1]],
  ["LARGE_BIG_EXT", [2n ** 2040n, -(2n ** 3000n) + 7n]],
  ["floats", [new ErlFloat(1), 1.5, new ErlFloat(-0), new ErlFloat(1e300), -5e-324]],
  ["atoms", [atom("ok"), atom(""), atom("héllo"), atom("🎉"), atom("x".repeat(255)), atom("😀".repeat(255))]],
  ["booleans", [true, false]],
  ["strings", ["", "abc", "héllo", "a☃😀"]],
  ["long charlist", "y".repeat(65536)],
  ["byte list", [1, 2, 3]],
  ["improper", new ImproperList([atom("a"), atom("b")], atom("c"))],
  ["tuples", [tuple(), tuple(atom("ok"), 1), tuple(...Array.from({ length: 300 }, (_, i) => i))]],
  ["binaries", [new Uint8Array(), new Uint8Array([1, 2, 3]), new Uint8Array(70000).fill(7)]],
  ["bitstrings", [new BitBinary(new Uint8Array([0x20]), 3), new BitBinary(new Uint8Array([0xff, 0xf8]), 5)]],
  ["small map, keys in term order", new ErlMap([[atom("a"), 1], [atom("b"), [new ErlMap([])]]])],
  ["pid", new Pid(node, 85, 3, 1234567890)],
  ["ref", new Ref(node, 1234567890, [1, 2, 3])],
  ["ref with 5 words", new Ref(node, 7, [1, 2, 3, 4, 5])],
  ["port", new Port(node, 5n, 3)],
  ["export fun", new ExportFun(atom("lists"), atom("map"), 2)],
  ["rpc-like", tuple(atom("rex"), [tuple(atom("uptime"), 123456789012), tuple(atom("load"), 0.25)])],
];

/** Terms checked by how Erlang prints them (~w). */
const printed: [Term, string][] = [
  [tuple(atom("ok"), [1, 2, 3], new Uint8Array([7])), "{ok,[1,2,3],<<7>>}"],
  [new ImproperList([1], 2), "[1|2]"],
  [new ErlMap([[atom("b"), 2], [atom("a"), 1]]), "#{a => 1,b => 2}"],
  [2n ** 70n, "1180591620717411303424"],
  [-2147483649, "-2147483649"],
  [new ErlFloat(1e300), "1.0e300"],
  ["abc", "[97,98,99]"],
  [new BitBinary(new Uint8Array([0x20]), 3), "<<1:3>>"],
  [new ExportFun(atom("erlang"), atom("node"), 0), "fun erlang:node/0"],
  [true, "true"],
];

const SCRIPT = `
  [Dir] = init:get_plain_arguments(),
  {ok, Files} = file:list_dir(Dir),
  lists:foreach(fun(F) ->
      {ok, B} = file:read_file(filename:join(Dir, F)),
      T = binary_to_term(B),
      Hex = [io_lib:format("~2.16.0b", [X]) || <<X>> <= term_to_binary(T, [{minor_version, 2}])],
      Text = case lists:prefix("p", F) of true -> io_lib:format("~w", [T]); false -> "" end,
      io:format("~s ~s ~s~n", [F, Hex, Text])
    end, lists:sort(Files)),
  halt().`;

/** Writes each file, runs SCRIPT over them in one `erl`, and returns its line per file. */
async function erlRoundTrip(
  files: Map<string, Uint8Array>,
): Promise<Map<string, { hex: string; text: string }>> {
  const dir = await Deno.makeTempDir({ prefix: "etf_erl_" });
  try {
    for (const [name, bytes] of files) await Deno.writeFile(`${dir}/${name}`, bytes);
    const out = await new Deno.Command("erl", {
      args: ["-noshell", "-eval", SCRIPT, "-extra", dir],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, `erl failed: ${new TextDecoder().decode(out.stderr)}\n${stdout}`);
    return new Map(
      stdout.trim().split("\n").map((l) => {
        const [file, hex, ...text] = l.split(" ");
        return [file, { hex, text: text.join(" ") }] as const;
      }),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "binary_to_term/1 in real Erlang accepts encodeTerm() output and re-encodes it to the same bytes",
  ignore: !hasErl,
  fn: async () => {
    const files = new Map<string, Uint8Array>();
    for (const [i, [, t]] of exact.entries()) files.set(`e${String(i).padStart(3, "0")}`, encodeTerm(t));
    for (const [i, [t]] of printed.entries()) files.set(`p${String(i).padStart(3, "0")}`, encodeTerm(t));
    const lines = await erlRoundTrip(files);
    for (const [i, [what, t]] of exact.entries()) {
      const got = lines.get(`e${String(i).padStart(3, "0")}`);
      assert.ok(got, `no output for ${what}`);
      assert.equal(got.hex, toHex(encodeTerm(t)), what);
    }
    for (const [i, [, text]] of printed.entries()) {
      assert.equal(lines.get(`p${String(i).padStart(3, "0")}`)?.text, text);
    }
  },
});

Deno.test({
  name: "Real Erlang decodes 300 arbitrary encodeTerm() outputs to terms that decodeTerm() reads back equal",
  ignore: !hasErl,
  fn: async () => {
    const terms = fc.sample(arbitraryTerm, { numRuns: 300, seed: 42 });
    const files = new Map(terms.map((t, i) => [`a${String(i).padStart(3, "0")}`, encodeTerm(t)] as const));
    const lines = await erlRoundTrip(files);
    for (const [i, t] of terms.entries()) {
      const got = lines.get(`a${String(i).padStart(3, "0")}`);
      assert.ok(got, `erl printed nothing for term ${i}`);
      const back = decodeTerm(hex(got.hex));
      assert.ok(termEquals(back, t), `term ${i} changed in Erlang: ${Deno.inspect(t, { depth: 6 })}`);
    }
  },
});
