/**
 * `deno task bench`: prints every benchmark's figures, each measured side by side with what a user
 * would run instead, in the same run. Figures, not assertions. `deno task bench wire|etf|cluster|runtime`
 * runs one section; `deno task bench churn` (churn and soak, issue 14) runs only when named.
 */
import { benchWire } from "./wire.ts";

const only = Deno.args[0];
const want = (name: string) => !only || only === name;
console.log(
  `erlmesh benchmarks, ${
    new Date().toISOString()
  }, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores`,
);
if (want("wire")) await benchWire();
if (want("etf")) {
  const { benchEtf } = await import("./etf.ts");
  await benchEtf();
}
if (want("cluster")) {
  const { benchCluster } = await import("./cluster.ts");
  await benchCluster(Deno.args.slice(1)); // [--quick] [--runs=K] [N…], default N = 3 and 10
}
if (want("runtime")) {
  const { benchRuntime } = await import("./runtime.ts");
  await benchRuntime();
}
// Churn and soak take half an hour: only when asked for (`deno task bench churn [--events=100] …`).
if (only === "churn") {
  const { benchChurn } = await import("./churn.ts");
  await benchChurn(Deno.args.slice(1));
}
