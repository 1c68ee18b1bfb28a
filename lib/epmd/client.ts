import {
  abortable,
  after,
  BytesError,
  connectTcp,
  ExactReader,
  frame16,
  type Transport,
  writeAll,
} from "../bytes/mod.ts";
import { EpmdError, type EpmdErrorCode } from "./errors.ts";

/** The port EPMD listens on unless told otherwise; callers pass another (erlmesh reads `ERL_EPMD_PORT` in its configuration). */
export const DEFAULT_EPMD_PORT = 4369;

/** The largest NAMES_REQ reply {@link names} accepts, in bytes (1 MiB). */
export const NAMES_REPLY_LIMIT = 1 << 20;

const NAMES_REQ = 110;
const PORT_PLEASE2_REQ = 122;
const PORT2_RESP = 119;
const DEFAULT_TIMEOUT_MS = 5000;

/** Options shared by {@link names} and {@link portPlease}. */
export interface EpmdOptions {
  /**
   * The TCP port of EPMD.
   * @default {4369}
   */
  port?: number;
  /**
   * One deadline for the whole operation: connect, write and every read.
   * @default {5000}
   */
  timeoutMs?: number;
  /** Aborts the operation early; combined with `timeoutMs`. */
  signal?: AbortSignal;
  /**
   * Opens the connection to EPMD. Tests plug in in-memory pipes here; TLS or IPv6 transports can too.
   * @default {connectTcp}
   */
  connect?: (host: string, port: number, signal: AbortSignal) => Promise<Transport>;
}

/** One node registered with EPMD, as listed by NAMES_REQ. */
export interface EpmdNode {
  /** The alive part of the node name (the text before `@`). */
  name: string;
  /** The port the node accepts distribution connections on. */
  port: number;
}

/** The answer to NAMES_REQ. */
export interface EpmdNames {
  /** The port EPMD reports it listens on. */
  epmdPort: number;
  /** The registered nodes, in EPMD's order. */
  nodes: EpmdNode[];
}

/** The answer to PORT_PLEASE2_REQ for a registered node (a PORT2_RESP with result 0). */
export interface EpmdPort {
  /** The alive part of the node name, as EPMD returned it. */
  name: string;
  /** The port the node accepts distribution connections on. */
  port: number;
  /** 77 for OTP nodes (hidden ones too), 104 for erl_interface nodes, 72 for some hidden nodes. */
  nodeType: number;
  /** 0 for TCP/IPv4. */
  protocol: number;
  /** The highest distribution version the node speaks (6 for OTP 23+). */
  highestVersion: number;
  /** The lowest distribution version the node speaks. */
  lowestVersion: number;
  /** The extra bytes the node registered (usually empty). */
  extra: Uint8Array;
}

/**
 * Lists the nodes registered with EPMD on `host` (NAMES_REQ, as `net_adm:names/1` does).
 *
 * @throws {EpmdError} `CANNOT_RESOLVE`, `REFUSED`, `UNREACHABLE`, `TIMEOUT`, `ABORTED`, `NOT_EPMD`, `BAD_REPLY`,
 * `TOO_LARGE` or `BAD_PORT`.
 *
 * @example
 * ```ts
 * import { EpmdError, names } from "./mod.ts";
 *
 * try {
 *   const { nodes } = await names("127.0.0.1", { timeoutMs: 2000 });
 *   for (const node of nodes) console.log(`${node.name} at port ${node.port}`);
 * } catch (err) {
 *   if (!(err instanceof EpmdError)) throw err;
 *   console.error(err.code); // "REFUSED" when nothing listens on the EPMD port here
 * }
 * ```
 */
export async function names(host: string, options: EpmdOptions = {}): Promise<EpmdNames> {
  const port = resolvePort(host, options);
  const request = frame16(Uint8Array.of(NAMES_REQ));
  return await exchange(
    host,
    port,
    "Cannot list nodes",
    "list its nodes",
    "NAMES_REQ",
    request,
    options,
    async (reader, signal, fail) => {
      const bytes = await reader.readToEnd(NAMES_REPLY_LIMIT, signal);
      if (bytes.length === 0) {
        // EPMD always answers NAMES_REQ; an Erlang distribution port closes like this.
        fail(
          "NOT_EPMD",
          "the port closed the connection without answering NAMES_REQ, which EPMD always answers: " +
            "it is not EPMD (an Erlang distribution port does this); is the EPMD port right (ERL_EPMD_PORT)?",
        );
      }
      const foreign = foreignService(bytes);
      if (foreign) fail("NOT_EPMD", notEpmd("NAMES_REQ", foreign, bytes));
      return parseNamesReply(bytes, { host, port });
    },
  );
}

/**
 * Asks EPMD on `host` for the distribution port of the node whose alive part is `name`
 * (PORT_PLEASE2_REQ). Pass only the text before `@`: `app` for `app@10.0.0.1`.
 *
 * @throws {EpmdError} `NOT_REGISTERED` when no such node is registered; `BAD_NAME`, `EPMD_ERROR`,
 * `CANNOT_RESOLVE`, `REFUSED`, `UNREACHABLE`, `TIMEOUT`, `ABORTED`, `NOT_EPMD`, `NO_REPLY`, `BAD_REPLY` or
 * `BAD_PORT` otherwise.
 *
 * @example
 * ```ts
 * import { EpmdError, portPlease } from "./mod.ts";
 *
 * try {
 *   const node = await portPlease("127.0.0.1", "app");
 *   if (node.lowestVersion <= 6 && node.highestVersion >= 6) console.log(`app listens on ${node.port}`);
 * } catch (err) {
 *   if (!(err instanceof EpmdError)) throw err;
 *   console.error(err.code); // "NOT_REGISTERED", "REFUSED", "TIMEOUT", ...
 * }
 * ```
 */
export async function portPlease(host: string, name: string, options: EpmdOptions = {}): Promise<EpmdPort> {
  const port = resolvePort(host, options);
  const action = `Cannot resolve '${name}'`;
  const nameBytes = checkName(name, `${action} on ${host}:${port}`, host, port);
  const request = frame16(new Uint8Array([PORT_PLEASE2_REQ, ...nameBytes]));
  return await exchange(
    host,
    port,
    action,
    `look up node '${name}'`,
    "PORT_PLEASE2_REQ",
    request,
    options,
    async (reader, signal, fail) => {
      let got = 0;
      const read = async (n: number): Promise<Uint8Array> => {
        try {
          const bytes = await reader.readExact(n, signal);
          got += n;
          return bytes;
        } catch (err) {
          if (!(err instanceof BytesError) || err.code !== "EOF") throw err;
          if (got === 0) {
            fail(
              "NO_REPLY",
              "EPMD closed the connection without answering PORT_PLEASE2_REQ (it does so for names it rejects)",
              err,
            );
          }
          return fail(
            "BAD_REPLY",
            `EPMD closed the connection after ${got + reader.buffered} bytes of PORT2_RESP`,
            err,
          );
        }
      };
      const tag = (await read(1))[0];
      if (tag !== PORT2_RESP) {
        // Only what already arrived: a reply that is not EPMD's is not waited for.
        const more = await reader.readExact(Math.min(reader.buffered, 80), signal);
        const head = Uint8Array.of(tag, ...more);
        const foreign = foreignService(head);
        if (foreign) fail("NOT_EPMD", notEpmd("PORT_PLEASE2_REQ", foreign, head));
        fail(
          "BAD_REPLY",
          `EPMD answered PORT_PLEASE2_REQ with byte ${tag} instead of PORT2_RESP (${PORT2_RESP})`,
        );
      }
      const result = (await read(1))[0];
      if (result === 1) {
        fail("NOT_REGISTERED", "EPMD answered PORT2_RESP with result 1 (not registered)", undefined, result);
      }
      if (result !== 0) {
        fail(
          "EPMD_ERROR",
          `EPMD answered PORT2_RESP with result ${result}`,
          undefined,
          result,
        );
      }
      const fixed = new DataView((await read(10)).buffer);
      const nameLength = fixed.getUint16(8);
      const returnedName = new TextDecoder().decode(await read(nameLength));
      const extraLength = new DataView((await read(2)).buffer).getUint16(0);
      const extra = await read(extraLength);
      return {
        name: returnedName,
        port: fixed.getUint16(0),
        nodeType: fixed.getUint8(2),
        protocol: fixed.getUint8(3),
        highestVersion: fixed.getUint16(4),
        lowestVersion: fixed.getUint16(6),
        extra,
      };
    },
  );
}

/** Where a NAMES_REQ reply came from, for error messages and fields. */
export interface NamesReplySource {
  /** The EPMD host. */
  host: string;
  /** The EPMD port. */
  port: number;
}

/**
 * Parses a whole NAMES_REQ reply: a u32 EPMD port, then lines `name <Name> at port <Port>`. Blank
 * lines and surrounding white space are tolerated; any other line is an error.
 *
 * @throws {EpmdError} `BAD_REPLY` when the reply is shorter than 4 bytes or holds a line that does not
 * parse.
 *
 * @example
 * ```ts
 * import { parseNamesReply } from "./mod.ts";
 *
 * const reply = new Uint8Array([0, 0, 0x11, 0x11, ...new TextEncoder().encode("name app at port 4001\n")]);
 * console.log(parseNamesReply(reply).nodes); // [{ name: "app", port: 4001 }]
 * ```
 */
export function parseNamesReply(bytes: Uint8Array, source?: NamesReplySource): EpmdNames {
  const action = source
    ? `Cannot list nodes on ${source.host}:${source.port}`
    : "Cannot parse a NAMES_REQ reply";
  const fail = (state: string): never => {
    throw new EpmdError("BAD_REPLY", `${action}: ${state}`, { host: source?.host, port: source?.port });
  };
  if (bytes.length < 4) fail(`EPMD sent ${bytes.length} bytes, fewer than the 4 of the EPMD port`);
  const epmd = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  const text = new TextDecoder().decode(bytes.subarray(4));
  const nodes: EpmdNode[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const match = /^\s*name\s+(\S+)\s+at\s+port\s+(\d{1,5})\s*$/.exec(line);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port > 65535) {
      const shown = line.length > 80 ? `${line.slice(0, 80)}...` : line;
      fail(`EPMD answered NAMES_REQ with a line that is not 'name <Name> at port <Port>': '${shown}'`);
    }
    nodes.push({ name: match![1], port });
  }
  return { epmdPort: epmd, nodes };
}

type Fail = (code: EpmdErrorCode, state: string, cause?: unknown, result?: number) => never;

function resolvePort(host: string, options: EpmdOptions): number {
  if (options.port === undefined) return DEFAULT_EPMD_PORT;
  const port = options.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new EpmdError(
      "BAD_PORT",
      `Cannot use EPMD port ${port} on ${host}: expected an integer from 1 to 65535`,
      {
        host,
      },
    );
  }
  return port;
}

function checkName(name: string, where: string, host: string, port: number): Uint8Array {
  const bad = (state: string): never => {
    throw new EpmdError("BAD_NAME", `${where}: ${state}`, { host, port });
  };
  if (name.length === 0) bad("the name is empty");
  if (name.includes("@")) bad("pass only the alive part, the text before '@'");
  if (!name.isWellFormed()) bad("the name is not well-formed Unicode");
  const bytes = new TextEncoder().encode(name);
  if (bytes.length > 255) bad(`the name is ${bytes.length} UTF-8 bytes long, EPMD accepts at most 255`);
  return bytes;
}

/**
 * Runs one request/reply exchange with EPMD under one deadline, mapping every failure to an
 * {@link EpmdError} and always closing the connection.
 */
async function exchange<T>(
  host: string,
  port: number,
  action: string,
  purpose: string,
  requestName: string,
  request: Uint8Array,
  options: EpmdOptions,
  handle: (reader: ExactReader, signal: AbortSignal, fail: Fail) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(
      `Cannot use timeoutMs ${timeoutMs}: expected a positive finite number of milliseconds`,
    );
  }
  const where = `${action} on ${host}:${port}`;
  const fail: Fail = (code, state, cause, result) => {
    throw new EpmdError(code, `${where}: ${state}`, { host, port, cause, result });
  };
  const connect = options.connect ??
    ((h: string, p: number, s: AbortSignal) => connectTcp(h, p, { signal: s }));

  let timedOut = false;
  const timer = new AbortController();
  const disarm = after(timeoutMs, () => {
    timedOut = true;
    timer.abort(new DOMException(`EPMD deadline of ${timeoutMs} ms passed`, "TimeoutError"));
  });
  const signal = options.signal ? AbortSignal.any([options.signal, timer.signal]) : timer.signal;
  let transport: Transport | undefined;
  let connected = false;
  try {
    signal.throwIfAborted();
    transport = await abortable(connect(host, port, signal), signal, (t) => t.close());
    connected = true;
    await writeAll(transport, request, signal);
    return await handle(new ExactReader(transport), signal, fail);
  } catch (err) {
    if (err instanceof EpmdError) throw err;
    if (timedOut) {
      if (!connected) fail("TIMEOUT", `no connection to EPMD within ${timeoutMs} ms`, err);
      fail("TIMEOUT", `EPMD did not answer ${requestName} within ${timeoutMs} ms`, err);
    }
    if (options.signal?.aborted) {
      const reason = options.signal.reason;
      if (reason instanceof DOMException && reason.name === "TimeoutError") {
        fail("TIMEOUT", `the caller's deadline passed before EPMD answered ${requestName}`, reason);
      }
      fail("ABORTED", `the caller aborted ${requestName}`, reason);
    }
    if (!connected) {
      const why = connectFailure(err);
      if (why.kind === "resolve") {
        throw new EpmdError("CANNOT_RESOLVE", `Cannot resolve '${host}' to ${purpose}: ${why.text}`, {
          host,
          port,
          cause: err,
        });
      }
      if (why.kind === "refused") {
        fail(
          "REFUSED",
          `nothing listens on ${host}:${port} (connection refused): is EPMD running there, and on this port (ERL_EPMD_PORT)?`,
          err,
        );
      }
      fail("UNREACHABLE", `EPMD at ${host}:${port} is not reachable (${why.text})`, err);
    }
    if (err instanceof BytesError && err.code === "TOO_LARGE") {
      fail("TOO_LARGE", `EPMD answered ${requestName} with more than ${NAMES_REPLY_LIMIT} bytes`, err);
    }
    if (err instanceof BytesError && err.code === "EOF") {
      fail("BAD_REPLY", `EPMD closed the connection in the middle of its answer to ${requestName}`, err);
    }
    return fail(
      "NO_REPLY",
      `the connection failed before EPMD answered ${requestName}: ${errorText(err)}`,
      err,
    );
  } finally {
    disarm();
    transport?.close();
  }
}

/** Why a connect failed: the name did not resolve, the port refused, or something else. */
function connectFailure(err: unknown): { kind: "resolve" | "refused" | "other"; text: string } {
  let e: unknown = err;
  while (e instanceof Error) {
    if (e instanceof Deno.errors.ConnectionRefused) return { kind: "refused", text: "connection refused" };
    // Deno reports a failed lookup as a plain Error with getaddrinfo's text.
    if (RESOLVE_FAILURE.test(e.message) && e.cause === undefined) return { kind: "resolve", text: e.message };
    if (e.cause === undefined) break;
    e = e.cause;
  }
  return { kind: "other", text: errorText(e) };
}

const RESOLVE_FAILURE =
  /failed to lookup address information|Name or service not known|No address associated with hostname|Temporary failure in name resolution|nodename nor servname provided/i;

/** The kind of server that sent `bytes`, when they start like a known protocol other than EPMD's. */
function foreignService(bytes: Uint8Array): string | undefined {
  const head = new TextDecoder().decode(bytes.subarray(0, 8));
  if (head.startsWith("HTTP/")) return "an HTTP server";
  if (head.startsWith("SSH-")) return "an SSH server";
  if (bytes[0] === 0x15 && bytes[1] === 0x03) return "a TLS server";
  return undefined;
}

function notEpmd(requestName: string, service: string, bytes: Uint8Array): string {
  const line = new TextDecoder().decode(bytes.subarray(0, 80)).split(/\r?\n/)[0].replace(
    /[^\x20-\x7e]/g,
    "?",
  );
  return `the port answered ${requestName} like ${service} ('${line}'), not like EPMD: is the EPMD port right (ERL_EPMD_PORT)?`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
