import { atom, decodeTerm, encodeTerm, ErlFloat, type Term, tuple } from "./mod.ts";
function t(name: string, term: Term) {
  const bytes = encodeTerm(term);
  for (let i = 0; i < 5; i++) decodeTerm(bytes);
  const N = 20; const t0 = performance.now();
  for (let i = 0; i < N; i++) decodeTerm(bytes);
  const ms = (performance.now() - t0) / N;
  console.log(name, bytes.length, ms.toFixed(2), "ms", (bytes.length / 1e3 / ms).toFixed(0), "MB/s");
}
const n = 11000;
t("bins50", Array.from({ length: n }, () => new Uint8Array(50)));
t("atoms", Array.from({ length: n }, (_, i) => atom(["ok", "error", "node_up"][i % 3])));
t("ints", Array.from({ length: n }, (_, i) => i * 7919 - 5_000_000));
t("floats", Array.from({ length: n }, (_, i) => new ErlFloat(i / 3)));
t("tuples", Array.from({ length: n }, (_, i) => tuple(1, 2)));
t("lists", Array.from({ length: n }, (_, i) => [i % 256, atom("tag"), i * 100000]));
