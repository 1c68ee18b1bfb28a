import nodeAssert from "node:assert/strict";
import { BytesError, ExactReader, memoryPipe, type MemoryTransport, type Transport } from "../bytes/mod.ts";
import {
  EpmdError,
  type EpmdErrorCode,
  type EpmdOptions,
  names,
  parseNamesReply,
  portPlease,
} from "./mod.ts";

const enc = new TextEncoder();
const assert: (value: unknown, message?: string) => asserts value = nodeAssert.ok;
const assertEquals = <T>(actual: unknown, expected: T, message?: string) =>
  nodeAssert.deepStrictEqual(actual, expected, message);

function catchEpmdError(fn: () => unknown): EpmdError {
  try {
    fn();
  } catch (err) {
    assert(err instanceof EpmdError, String(err));
    return err;
  }
  throw new Error("expected an EpmdError, nothing was thrown");
}

/** A connect option that hands out the client end of a fresh in-memory pipe; `server` is the other end. */
function pipe(): { connect: NonNullable<EpmdOptions["connect"]>; server: MemoryTransport; calls: number[] } {
  const [client, server] = memoryPipe();
  const calls: number[] = [];
  return {
    server,
    calls,
    connect: (_host, port) => {
      calls.push(port);
      return Promise.resolve(client);
    },
  };
}

/** Waits until the client end is closed (the server sees end of stream) and returns what it sent. */
async function requestAndClose(server: MemoryTransport): Promise<Uint8Array> {
  return await new ExactReader(server).readToEnd(1 << 16);
}

async function expectEpmdError(p: Promise<unknown>, code: EpmdErrorCode): Promise<EpmdError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert(caught instanceof EpmdError, `expected EpmdError ${code}, got ${caught}`);
  assertEquals(caught.code, code, caught.message);
  assertEquals(caught.name, "EpmdError");
  assert(/^[A-Z]/.test(caught.message) && !caught.message.endsWith("."), caught.message);
  return caught;
}

// Live OTP 25.2.3 answer for "target": port 35191, type 77, protocol 0, highest 6, lowest 5, no extra.
const TARGET_REPLY = new Uint8Array([
  0x77,
  0x00,
  0x89,
  0x77,
  0x4d,
  0x00,
  0x00,
  0x06,
  0x00,
  0x05,
  0x00,
  0x06,
  ...enc.encode("target"),
  0x00,
  0x00,
]);

function namesReply(epmd: number, text: string): Uint8Array {
  const out = new Uint8Array(4 + enc.encode(text).length);
  new DataView(out.buffer).setUint32(0, epmd);
  out.set(enc.encode(text), 4);
  return out;
}

Deno.test("names() sends exactly 00 01 6e and parses the listed nodes", async () => {
  const { connect, server, calls } = pipe();
  const result = names("127.0.0.1", { port: 4369, connect });
  const request = await new ExactReader(server).readExact(3);
  assertEquals([...request], [0x00, 0x01, 0x6e]);
  await server.write(namesReply(4369, "name app at port 40001\nname other at port 40002\n"));
  server.close();
  assertEquals(await result, {
    epmdPort: 4369,
    nodes: [{ name: "app", port: 40001 }, { name: "other", port: 40002 }],
  });
  assertEquals(calls, [4369]);
});

Deno.test("names() accepts an empty node list", async () => {
  const { connect, server } = pipe();
  const result = names("127.0.0.1", { port: 4369, connect });
  await new ExactReader(server).readExact(3);
  await server.write(namesReply(4369, ""));
  server.close();
  assertEquals(await result, { epmdPort: 4369, nodes: [] });
});

Deno.test("portPlease() sends exactly 00 07 7a 'target' and parses PORT2_RESP", async () => {
  const { connect, server } = pipe();
  const result = portPlease("127.0.0.1", "target", { port: 4369, connect });
  const request = await new ExactReader(server).readExact(9);
  assertEquals([...request], [0x00, 0x07, 0x7a, 0x74, 0x61, 0x72, 0x67, 0x65, 0x74]);
  await server.write(TARGET_REPLY);
  assertEquals(await result, {
    name: "target",
    port: 35191,
    nodeType: 77,
    protocol: 0,
    highestVersion: 6,
    lowestVersion: 5,
    extra: new Uint8Array(0),
  });
  // The client closed its end without waiting for EPMD to close.
  assertEquals((await requestAndClose(server)).length, 0);
});

Deno.test("portPlease() parses PORT2_RESP delivered one byte per read, extra bytes included", async () => {
  const { connect, server } = pipe();
  const reply = new Uint8Array([...TARGET_REPLY.subarray(0, TARGET_REPLY.length - 2), 0x00, 0x03, 1, 2, 3]);
  const result = portPlease("127.0.0.1", "target", { port: 4369, connect });
  await new ExactReader(server).readExact(9);
  for (const b of reply) {
    await server.write(Uint8Array.of(b));
    await new Promise((r) => setTimeout(r, 0));
  }
  const port = await result;
  assertEquals(port.port, 35191);
  assertEquals(port.name, "target");
  assertEquals([...port.extra], [1, 2, 3]);
});

Deno.test("portPlease() names a PORT2_RESP result 1 NOT_REGISTERED with the wire message", async () => {
  const { connect, server } = pipe();
  const result = portPlease("10.0.0.1", "app", { port: 4369, connect });
  await new ExactReader(server).readExact(5);
  await server.write(Uint8Array.of(119, 1));
  server.close();
  const err = await expectEpmdError(result, "NOT_REGISTERED");
  assertEquals(
    err.message,
    "Cannot resolve 'app' on 10.0.0.1:4369: EPMD answered PORT2_RESP with result 1 (not registered)",
  );
  assertEquals(err.host, "10.0.0.1");
  assertEquals(err.port, 4369);
  assertEquals(err.result, 1);
});

Deno.test("portPlease() reports another PORT2_RESP result as EPMD_ERROR with the result", async () => {
  const { connect, server } = pipe();
  const result = portPlease("127.0.0.1", "app", { port: 4369, connect });
  await new ExactReader(server).readExact(5);
  await server.write(Uint8Array.of(119, 7));
  server.close();
  const err = await expectEpmdError(result, "EPMD_ERROR");
  assertEquals(err.result, 7);
  assert(err.message.includes("PORT2_RESP with result 7"), err.message);
});

Deno.test("portPlease() rejects every truncated PORT2_RESP with a typed error", async () => {
  for (let cut = 0; cut < TARGET_REPLY.length; cut++) {
    const { connect, server } = pipe();
    const result = portPlease("127.0.0.1", "target", { port: 4369, connect, timeoutMs: 2000 });
    await new ExactReader(server).readExact(9);
    await server.write(TARGET_REPLY.subarray(0, cut));
    server.close();
    const err = await expectEpmdError(result, cut === 0 ? "NO_REPLY" : "BAD_REPLY");
    if (cut > 0) assert(err.message.includes(`after ${cut} bytes of PORT2_RESP`), err.message);
    else assert(err.message.includes("without answering PORT_PLEASE2_REQ"), err.message);
  }
});

Deno.test("portPlease() rejects a first byte other than PORT2_RESP", async () => {
  const { connect, server } = pipe();
  const result = portPlease("127.0.0.1", "target", { port: 4369, connect });
  await new ExactReader(server).readExact(9);
  await server.write(enc.encode("<html>\r\n\r\n"));
  const err = await expectEpmdError(result, "BAD_REPLY");
  assert(err.message.includes("with byte 60 instead of PORT2_RESP (119)"), err.message);
});

Deno.test("portPlease() at an HTTP port is NOT_EPMD and quotes the answer", async () => {
  const { connect, server } = pipe();
  const result = portPlease("127.0.0.1", "target", { port: 8080, connect });
  await new ExactReader(server).readExact(9);
  await server.write(enc.encode("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"));
  const err = await expectEpmdError(result, "NOT_EPMD");
  assertEquals(
    err.message,
    "Cannot resolve 'target' on 127.0.0.1:8080: the port answered PORT_PLEASE2_REQ like an HTTP server " +
      "('HTTP/1.1 400 Bad Request'), not like EPMD: is the EPMD port right (ERL_EPMD_PORT)?",
  );
});

Deno.test("names() at an HTTP, SSH or TLS port is NOT_EPMD, naming the kind of server", async () => {
  const cases: [Uint8Array, string][] = [
    [enc.encode("HTTP/1.1 400 Bad Request\r\n\r\n"), "like an HTTP server ('HTTP/1.1 400 Bad Request')"],
    [enc.encode("SSH-2.0-OpenSSH_9.6\r\n"), "like an SSH server ('SSH-2.0-OpenSSH_9.6')"],
    [Uint8Array.of(0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x32), "like a TLS server"],
  ];
  for (const [reply, text] of cases) {
    const { connect, server } = pipe();
    const result = names("127.0.0.1", { port: 4369, connect });
    await new ExactReader(server).readExact(3);
    await server.write(reply);
    server.close();
    const err = await expectEpmdError(result, "NOT_EPMD");
    assert(
      err.message.startsWith(`Cannot list nodes on 127.0.0.1:4369: the port answered NAMES_REQ ${text}`),
      err.message,
    );
  }
});

Deno.test("names() and portPlease() fail with TIMEOUT when EPMD stays silent", async () => {
  {
    const { connect, server } = pipe();
    const result = names("127.0.0.1", { port: 4369, connect, timeoutMs: 200 });
    const err = await expectEpmdError(result, "TIMEOUT");
    assertEquals(
      err.message,
      "Cannot list nodes on 127.0.0.1:4369: EPMD did not answer NAMES_REQ within 200 ms",
    );
    assertEquals([...await requestAndClose(server)], [0, 1, 110]);
  }
  {
    const { connect, server } = pipe();
    const err = await expectEpmdError(
      portPlease("127.0.0.1", "app", { port: 4369, connect, timeoutMs: 200 }),
      "TIMEOUT",
    );
    assert(err.message.includes("did not answer PORT_PLEASE2_REQ within 200 ms"), err.message);
    await requestAndClose(server);
  }
});

Deno.test("names() fails with TIMEOUT when the connection never opens, and closes a late one", async () => {
  const [client, server] = memoryPipe();
  let release!: () => void;
  const late = new Promise<void>((r) => release = r);
  const connect = async (): Promise<Transport> => {
    await late;
    return client;
  };
  const err = await expectEpmdError(names("127.0.0.1", { port: 4369, connect, timeoutMs: 100 }), "TIMEOUT");
  assert(err.message.includes("no connection to EPMD within 100 ms"), err.message);
  release();
  assertEquals((await requestAndClose(server)).length, 0);
});

Deno.test("names() fails with TOO_LARGE on a reply over the limit", async () => {
  const { connect, server } = pipe();
  const result = names("127.0.0.1", { port: 4369, connect });
  await new ExactReader(server).readExact(3);
  await server.write(namesReply(4369, ""));
  const line = enc.encode("name x at port 1\n".repeat(4096));
  for (let sent = 0; sent < 2 << 20; sent += line.length) await server.write(line);
  server.close();
  const err = await expectEpmdError(result, "TOO_LARGE");
  assert(err.cause instanceof BytesError);
});

Deno.test("names() rejects an empty (not EPMD), a short and a garbage reply", async () => {
  const cases: [Uint8Array, EpmdErrorCode, string][] = [
    [new Uint8Array(0), "NOT_EPMD", "without answering NAMES_REQ, which EPMD always answers: it is not EPMD"],
    [Uint8Array.of(0, 0), "BAD_REPLY", "fewer than the 4"],
    [namesReply(4369, "<html>\n"), "BAD_REPLY", "'<html>'"],
  ];
  for (const [reply, code, text] of cases) {
    const { connect, server } = pipe();
    const result = names("127.0.0.1", { port: 4369, connect });
    await new ExactReader(server).readExact(3);
    await server.write(reply);
    server.close();
    const err = await expectEpmdError(result, code);
    assert(err.message.includes(text), err.message);
  }
});

Deno.test("portPlease() rejects a bad name before connecting", async () => {
  const { connect, calls } = pipe();
  for (const name of ["", "app@host", "x".repeat(256), "é".repeat(128), "\ud800"]) {
    const err = await expectEpmdError(portPlease("127.0.0.1", name, { port: 4369, connect }), "BAD_NAME");
    assert(err.message.startsWith(`Cannot resolve '${name}' on 127.0.0.1:4369: `), err.message);
  }
  assertEquals(calls, []);
});

Deno.test("portPlease() sends a 255-byte name", async () => {
  const { connect, server } = pipe();
  const result = portPlease("127.0.0.1", "x".repeat(255), { port: 4369, connect });
  const request = await new ExactReader(server).readExact(258);
  assertEquals([...request.subarray(0, 3)], [0x01, 0x00, 0x7a]);
  server.close();
  await expectEpmdError(result, "NO_REPLY");
});

Deno.test("a refused connection is REFUSED and says nothing listens there", async () => {
  const connect = () =>
    Promise.reject(
      new BytesError("CONNECT", "Cannot connect to 127.0.0.1:4369: refused", {
        cause: new Deno.errors.ConnectionRefused("Connection refused (os error 111)"),
      }),
    );
  const err = await expectEpmdError(names("127.0.0.1", { port: 4369, connect }), "REFUSED");
  assertEquals(
    err.message,
    "Cannot list nodes on 127.0.0.1:4369: nothing listens on 127.0.0.1:4369 (connection refused): " +
      "is EPMD running there, and on this port (ERL_EPMD_PORT)?",
  );
  assert(err.cause instanceof BytesError);
});

Deno.test("a host name that does not resolve is CANNOT_RESOLVE, not 'EPMD is not running'", async () => {
  // What Deno.connect throws for a name getaddrinfo does not know, wrapped by connectTcp.
  const connect = (host: string, port: number) =>
    Promise.reject(
      new BytesError(
        "CONNECT",
        `Cannot connect to ${host}:${port}: failed to lookup address information: Name or service not known`,
        { cause: new Error("failed to lookup address information: Name or service not known") },
      ),
    );
  const err = await expectEpmdError(names("nosuchhost.invalid", { port: 4369, connect }), "CANNOT_RESOLVE");
  assertEquals(
    err.message,
    "Cannot resolve 'nosuchhost.invalid' to list its nodes: failed to lookup address information: Name or service not known",
  );
  assertEquals([err.host, err.port], ["nosuchhost.invalid", 4369]);
  const err2 = await expectEpmdError(
    portPlease("nosuchhost.invalid", "app", { port: 4369, connect }),
    "CANNOT_RESOLVE",
  );
  assert(
    err2.message.startsWith("Cannot resolve 'nosuchhost.invalid' to look up node 'app': "),
    err2.message,
  );
  assert(!/EPMD is not running/.test(err.message + err2.message));
});

Deno.test("another connect failure is UNREACHABLE with the system's reason", async () => {
  const connect = () =>
    Promise.reject(
      new BytesError("CONNECT", "Cannot connect to 10.0.0.9:4369: No route to host (os error 113)", {
        cause: new Error("No route to host (os error 113)"),
      }),
    );
  const err = await expectEpmdError(names("10.0.0.9", { port: 4369, connect }), "UNREACHABLE");
  assertEquals(
    err.message,
    "Cannot list nodes on 10.0.0.9:4369: EPMD at 10.0.0.9:4369 is not reachable (No route to host (os error 113))",
  );
});

Deno.test("the caller's signal aborts with ABORTED, or TIMEOUT for a timeout signal", async () => {
  {
    const { connect, server } = pipe();
    const ctl = new AbortController();
    const result = names("127.0.0.1", { port: 4369, connect, signal: ctl.signal });
    await new ExactReader(server).readExact(3);
    ctl.abort(new Error("shutting down"));
    const err = await expectEpmdError(result, "ABORTED");
    assert(err.message.includes("the caller aborted NAMES_REQ"), err.message);
  }
  {
    const { connect } = pipe();
    const err = await expectEpmdError(
      names("127.0.0.1", {
        port: 4369,
        connect,
        signal: AbortSignal.abort(new DOMException("t", "TimeoutError")),
      }),
      "TIMEOUT",
    );
    assert(err.message.includes("caller's deadline"), err.message);
  }
});

Deno.test("names() rejects a bad port option and a bad timeout", async () => {
  const { connect } = pipe();
  for (const port of [0, 65536, 1.5, NaN]) {
    await expectEpmdError(names("127.0.0.1", { port, connect }), "BAD_PORT");
  }
  await nodeAssert.rejects(() => names("127.0.0.1", { port: 4369, connect, timeoutMs: 0 }), RangeError);
});

Deno.test("parseNamesReply() tolerates blank lines, CRLF, spacing and a missing final newline", () => {
  const reply = namesReply(4369, "\nname a at port 1\r\n\n  name  b   at port 65535  \nname c at port 3");
  assertEquals(parseNamesReply(reply), {
    epmdPort: 4369,
    nodes: [{ name: "a", port: 1 }, { name: "b", port: 65535 }, { name: "c", port: 3 }],
  });
});

Deno.test("parseNamesReply() rejects a line that does not parse and a port over 65535", () => {
  for (const text of ["name a at port 1\nhello\n", "name a at port 70000\n", "name at port 1\n"]) {
    const err = catchEpmdError(() => parseNamesReply(namesReply(4369, text)));
    assertEquals(err.code, "BAD_REPLY");
    assert(err.message.startsWith("Cannot parse a NAMES_REQ reply: "), err.message);
  }
  const err = catchEpmdError(() => parseNamesReply(Uint8Array.of(1, 2, 3)));
  assertEquals(err.code, "BAD_REPLY");
});

/**
 * Runs `names()` without a port option in a subprocess with ERL_EPMD_PORT set as given, and returns
 * the port the client dialled.
 */
async function dialledPortWith(value: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "epmd_port_test" });
  try {
    const script = `${dir}/probe.ts`;
    const mod = new URL("./mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { names } from ${JSON.stringify(mod)};\n` +
        `await names("127.0.0.1", { connect: (_h, port) => { console.log(port); throw new Error("stop"); } })` +
        `.catch((e) => { if (e.code === "BAD_PORT") console.log(e.message); });\n`,
    );
    const env = { ...Deno.env.toObject(), ERL_EPMD_PORT: value };
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--no-prompt", "--allow-env", script],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("names() without a port dials 4369 and never reads ERL_EPMD_PORT (the caller passes the port)", async () => {
  assertEquals(await dialledPortWith("12345"), "4369");
  assertEquals(await dialledPortWith("abc"), "4369");
});
