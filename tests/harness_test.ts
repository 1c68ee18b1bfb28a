/**
 * Checks of the shared test harness (tests/_harness): real OTP nodes (host OTP 25, chrooted OTP 27/29),
 * the simulated Kubernetes network with Unbound as kube-dns, and the cluster convenience.
 */

import assert from "node:assert/strict";
import { freePort, otpVersions, randomCookie, startNode } from "./_harness/otp.ts";

const otp = Object.fromEntries(otpVersions().map((v) => [v.version, v]));
for (const v of Object.values(otp)) {
  if (!v.available) console.warn(`harness_test: OTP ${v.version} tests skipped: ${v.why}`);
}

Deno.test("startNode() runs an OTP 25 node on loopback and evaluates expressions on it", async () => {
  const cookie = randomCookie();
  const epmdPort = freePort();
  await using a = await startNode({ name: "ha@127.0.0.1", cookie, epmdPort });
  await using b = await startNode({ name: "hb@127.0.0.1", cookie, epmdPort });
  assert.equal(await a.eval("node()."), "'ha@127.0.0.1'");
  assert.equal(await a.eval("nodes()."), "[]");
  assert.equal(await a.eval("erlang:get_cookie()."), `'${cookie}'`);
  assert.equal(await a.eval("X = 6, X * 7"), "42");
  assert((await a.eval("1/0.")).startsWith("error:error:badarith"));
  assert.equal(await a.eval("net_adm:ping('hb@127.0.0.1')."), "pong");
  assert.equal(await b.eval("nodes()."), "['ha@127.0.0.1']");
  let timedOut = false;
  await a.eval("timer:sleep(10000).", 200).catch(() => (timedOut = true));
  assert(timedOut, "eval with a 200 ms deadline must reject");
});

Deno.test("startNode() never puts the cookie on the command line", async () => {
  const cookie = randomCookie();
  await using a = await startNode({ name: "hc@127.0.0.1", cookie, epmdPort: freePort() });
  const cmdline = await Deno.readTextFile(`/proc/${a.pid}/cmdline`);
  assert(!cmdline.includes(cookie), "cookie found on argv");
  assert(!cmdline.includes("-setcookie"), "-setcookie found on argv");
});

Deno.test("stop() removes the node, its private EPMD and its HOME", async () => {
  const epmdPort = freePort();
  const a = await startNode({ name: "hd@127.0.0.1", cookie: randomCookie(), epmdPort });
  const pid = a.pid;
  await a.stop();
  await a.stop(); // idempotent
  let alive = true;
  try {
    await Deno.stat(`/proc/${pid}`);
  } catch {
    alive = false;
  }
  assert(!alive, "beam still running after stop()");
  const names = await new Deno.Command("epmd", { args: ["-port", String(epmdPort), "-names"] }).output();
  assert(!names.success, "private EPMD still running after the last node stopped");
});

Deno.test("startNode() fails with the node's output when the name is taken", async () => {
  const cookie = randomCookie();
  const epmdPort = freePort();
  await using _a = await startNode({ name: "he@127.0.0.1", cookie, epmdPort });
  let message = "";
  try {
    await using _b = await startNode({ name: "he@127.0.0.1", cookie, epmdPort });
  } catch (e) {
    message = (e as Error).message;
  }
  assert(message.includes("in use"), `unexpected error: ${message}`);
});

for (const version of ["27", "29"] as const) {
  Deno.test({
    name: `startNode() runs a chrooted OTP ${version} node that pings an OTP 25 node`,
    ignore: !otp[version].available,
    async fn() {
      const cookie = randomCookie();
      const epmdPort = freePort();
      await using a = await startNode({ version, name: `hf${version}@127.0.0.1`, cookie, epmdPort });
      await using b = await startNode({ name: `hg${version}@127.0.0.1`, cookie, epmdPort });
      assert.equal(await a.eval("erlang:system_info(otp_release)."), `"${version}"`);
      assert.equal(await a.eval(`net_adm:ping('hg${version}@127.0.0.1').`), "pong");
      assert.equal(await b.eval("nodes()."), `['hf${version}@127.0.0.1']`);
    },
  });
}
