// Fuzzing of everything the EPMD client reads: NAMES_REQ replies (parseNamesReply, and names() over a
// pipe) and PORT2_RESP (portPlease() over a pipe), from mutations of what a real OTP 25 EPMD sent
// (testdata/fuzz/seeds.json) and from generated replies, split into arbitrary chunks. Only EpmdError or
// a valid answer, never a hang: the hostile EPMD ends the stream, so a TIMEOUT would be one.
import assert from "node:assert/strict";
import fc from "fast-check";
import { memoryPipe } from "../bytes/mod.ts";
import { chunked, fuzz, mutated, realSeeds } from "../bytes/_fuzz.ts";
import { type EpmdNames, names, parseNamesReply, portPlease } from "./client.ts";
import { EpmdError } from "./errors.ts";

const real = await realSeeds();
const enc = new TextEncoder();

function validNames(r: EpmdNames): void {
  assert.ok(Number.isInteger(r.epmdPort) && r.epmdPort >= 0 && r.epmdPort < 2 ** 32);
  for (const n of r.nodes) {
    assert.ok(/^\S+$/.test(n.name), `bad name '${n.name}'`);
    assert.ok(Number.isInteger(n.port) && n.port >= 0 && n.port <= 65535, `bad port ${n.port}`);
  }
}

function typed(e: unknown): string {
  if (!(e instanceof EpmdError)) throw e;
  // A hostile EPMD that ended the stream never leaves the client waiting for its deadline.
  assert.notEqual(e.code, "TIMEOUT", e.message);
  assert.ok(/^[A-Z]/.test(e.message) && !e.message.endsWith("."), e.message);
  return e.code;
}

/** NAMES_REQ replies: the real one mutated, or generated lines around the real grammar. */
const line = fc.oneof(
  fc.tuple(fc.string({ maxLength: 12 }), fc.integer({ min: 0, max: 99999 })).map(([n, p]) =>
    `name ${n} at port ${p}`
  ),
  fc.string({ maxLength: 40 }),
  fc.constantFrom("", " ", "\r", "name  at port 1", "name a at port 65536", "name a at port 00000001"),
);
const namesReply = fc.oneof(
  mutated([real.namesReply]),
  fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 6 }), fc.array(line, { maxLength: 6 })).map((
    [head, lines],
  ) => new Uint8Array([...head, ...enc.encode(lines.join("\n"))])),
);

Deno.test("parseNamesReply() on hostile NAMES_REQ replies returns valid nodes or throws EpmdError", async () => {
  await fuzz("epmd: parseNamesReply", namesReply, (bytes) => {
    try {
      validNames(parseNamesReply(bytes, { host: "127.0.0.1", port: 4369 }));
      return "ok";
    } catch (e) {
      return typed(e);
    }
  }, { runs: 5000 });
});

/** Plays a hostile EPMD on a pipe: `chunks` are written as they come, then the stream ends. */
function hostileEpmd(chunks: Uint8Array[]) {
  const [client, server] = memoryPipe();
  for (const c of chunks) client.push(c); // as if EPMD had written them
  client.end(); // and closed
  return { connect: () => Promise.resolve(client), timeoutMs: 5000, close: () => server.close() };
}

Deno.test("names() over a pipe from a hostile EPMD returns valid nodes or throws EpmdError, never hangs", async () => {
  const input = fc.tuple(namesReply, fc.array(fc.nat(), { maxLength: 4 }));
  await fuzz("epmd: names() over a pipe", input, async ([bytes, cuts]) => {
    const epmd = hostileEpmd(chunked(bytes, cuts));
    try {
      validNames(await names("127.0.0.1", epmd));
      return "ok";
    } catch (e) {
      return typed(e);
    } finally {
      epmd.close();
    }
  }, { runs: 2000, async: true });
});

/** PORT2_RESP: the real one mutated, or a generated one with arbitrary fields and lengths. */
const port2Reply = fc.oneof(
  mutated([real.port2Reply]),
  fc.record({
    tag: fc.constantFrom(119, 119, 119, 0x15, 72, 0),
    result: fc.constantFrom(0, 0, 0, 1, 2, 255),
    fixed: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    nameLength: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(65535)),
    name: fc.uint8Array({ maxLength: 20 }),
    extraLength: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(65535)),
    extra: fc.uint8Array({ maxLength: 20 }),
  }).map((r) =>
    new Uint8Array([
      r.tag,
      r.result,
      ...r.fixed,
      r.nameLength >> 8,
      r.nameLength & 0xff,
      ...r.name,
      r.extraLength >> 8,
      r.extraLength & 0xff,
      ...r.extra,
    ])
  ),
);

Deno.test("portPlease() over a pipe from a hostile EPMD returns a valid port or throws EpmdError, never hangs", async () => {
  const input = fc.tuple(port2Reply, fc.array(fc.nat(), { maxLength: 4 }));
  await fuzz("epmd: portPlease() over a pipe", input, async ([bytes, cuts]) => {
    const epmd = hostileEpmd(chunked(bytes, cuts));
    try {
      const r = await portPlease("127.0.0.1", "fuzzseed", epmd);
      assert.ok(r.port >= 0 && r.port <= 65535 && r.extra.length <= 65535);
      return "ok";
    } catch (e) {
      return typed(e);
    } finally {
      epmd.close();
    }
  }, { runs: 2000, async: true });
});
