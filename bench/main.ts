/**
 * `deno task bench`: prints every benchmark's figures, each measured side by side with what a user
 * would run instead, in the same run. Figures, not assertions.
 */
import { benchWire } from "./wire.ts";

const only = Deno.args[0];
console.log(
  `erlmesh benchmarks, ${
    new Date().toISOString()
  }, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores`,
);
if (!only || only === "wire") await benchWire();
if (!only || only === "etf") {
  const { benchEtf } = await import("./etf.ts");
  await benchEtf();
}
