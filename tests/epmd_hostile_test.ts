import nodeAssert from "node:assert/strict";
import { EpmdError, type EpmdErrorCode, names, portPlease } from "../lib/epmd/mod.ts";
import { type FakeEpmdBehaviour, startFakeEpmd } from "./_fake_epmd.ts";

const assert: (value: unknown, message?: string) => asserts value = nodeAssert.ok;
const TIMEOUT_MS = 500;

/** Awaits `p`, expecting an EpmdError with `code`; a guard of 20 deadlines turns a hang into a failure. */
async function expectCode(p: Promise<unknown>, code: EpmdErrorCode): Promise<EpmdError> {
  let caught: unknown;
  let guardId: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    guardId = setTimeout(() => reject(new Error(`no error within ${20 * TIMEOUT_MS} ms`)), 20 * TIMEOUT_MS);
  });
  try {
    await Promise.race([p, guard]);
  } catch (err) {
    caught = err;
  } finally {
    clearTimeout(guardId);
  }
  assert(caught instanceof EpmdError, `expected EpmdError ${code}, got ${caught}`);
  nodeAssert.equal(caught.code, code, caught.message);
  return caught;
}

const cases: [FakeEpmdBehaviour, "names" | "portPlease", EpmdErrorCode][] = [
  ["silent", "names", "TIMEOUT"],
  ["silent", "portPlease", "TIMEOUT"],
  ["slow", "names", "TIMEOUT"],
  ["slow", "portPlease", "TIMEOUT"],
  ["truncated", "names", "BAD_REPLY"],
  ["truncated", "portPlease", "BAD_REPLY"],
  // The garbage fake answers as an HTTP server would: the client names it as not EPMD.
  ["garbage", "names", "NOT_EPMD"],
  ["garbage", "portPlease", "NOT_EPMD"],
  ["oversized", "names", "TOO_LARGE"],
  // EPMD always answers NAMES_REQ: a port that closes instead is not EPMD (a distribution port does this).
  ["close", "names", "NOT_EPMD"],
  ["close", "portPlease", "NO_REPLY"],
];

for (const [behaviour, op, code] of cases) {
  Deno.test(`${op}() against a '${behaviour}' EPMD fails with ${code} within its deadline`, async () => {
    await using epmd = await startFakeEpmd(behaviour);
    const options = { port: epmd.port, timeoutMs: TIMEOUT_MS };
    const call = op === "names" ? names("127.0.0.1", options) : portPlease("127.0.0.1", "target", options);
    const err = await expectCode(call, code);
    nodeAssert.equal(err.host, "127.0.0.1");
    nodeAssert.equal(err.port, epmd.port);
    assert(
      err.message.startsWith(op === "names" ? "Cannot list nodes on 127.0.0.1:" : "Cannot resolve 'target'"),
    );
    nodeAssert.equal(epmd.accepted, 1);
  });
}

Deno.test("the slow EPMD still answers a valid PORT2_RESP when the deadline allows it", async () => {
  await using epmd = await startFakeEpmd("slow");
  const port = await portPlease("127.0.0.1", "target", { port: epmd.port, timeoutMs: 10_000 });
  nodeAssert.equal(port.port, 35191);
  nodeAssert.equal(port.highestVersion, 6);
});

Deno.test("names() on a port where nothing listens fails with REFUSED, saying nothing listens there", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const err = await expectCode(names("127.0.0.1", { port, timeoutMs: TIMEOUT_MS }), "REFUSED");
  assert(err.message.includes(`nothing listens on 127.0.0.1:${port}`), err.message);
});
