import { BytesError, connectTcp, deadline, ExactReader, type Transport } from "../bytes/mod.ts";
import { EpmdError, names as epmdNames, portPlease } from "../epmd/mod.ts";
import { formatTerm } from "../etf/format.ts";
import { Atom, atom, isAtom, Pid, Ref, type Term, Tuple, tuple } from "../etf/term.ts";
import { DistChannel, type DistMessage } from "./channel.ts";
import { controlOp, DOP, exit, monitorExit, regSend, unlinkIdAck } from "./control.ts";
import type { Cookie } from "./cookie.ts";
import { HandshakeError, RpcError } from "./errors.ts";
import { clientHandshake, isHidden } from "./handshake.ts";
import { localNodeNameFor, parseNodeName } from "./names.ts";
import {
  classifyTlsError,
  type DialFailure,
  dialTls,
  distribution,
  type TlsClientOptions,
} from "./transport.ts";

/** Options of {@link connectNode}. */
export interface ConnectNodeOptions {
  /** The cookie the node uses. */
  cookie: Cookie;
  /** Deadline for the whole connect: EPMD lookup, TCP connect and handshake. @default 5000 */
  timeoutMs?: number;
  /** Aborts the connect. */
  signal?: AbortSignal;
  /** The port EPMD listens on. @default 4369 */
  epmdPort?: number;
  /** Skip EPMD and dial this distribution port directly. */
  distPort?: number;
  /** Our own node name. @default a name unique to this process, of the target's kind */
  localName?: string;
  /** Opens transports, to EPMD and to the node (tests plug fakes in here). @default TCP, or TLS with `tls` */
  connect?: (host: string, port: number, signal: AbortSignal) => Promise<Transport>;
  /**
   * TLS distribution (`-proto_dist inet_tls`): the node's port is dialled with TLS and these
   * certificates, EPMD stays plain TCP. @default the process's {@link setDistribution} setting
   */
  tls?: TlsClientOptions;
  /** Send a tick when idle this long. @default 15000 */
  tickIntervalMs?: number;
  /** Drop the link when nothing was heard this long. @default 75000 */
  deadAfterMs?: number;
  /**
   * When EPMD does not know the node, also ask it which nodes it knows, for the error message (a second
   * EPMD connection). A caller that polls for a booting node turns it off after the first answer.
   * @default true
   */
  describeMissing?: boolean;
}

/** Options of {@link NodeConnection.rpc}. */
export interface RpcOptions {
  /** How long to wait for the reply. @default 10000 */
  timeoutMs?: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
}

/** Per-process creation: non-zero, random, shared by every pid and ref this process makes. */
const CREATION = (crypto.getRandomValues(new Uint32Array(1))[0] | 1) >>> 0;
let refCounter = 0;

const defaultConnect = (host: string, port: number, signal: AbortSignal) =>
  connectTcp(host, port, { signal });

/**
 * Connects to `node` as a hidden node: asks EPMD on the node's host for its port, dials it and runs
 * the handshake. Failures are {@link HandshakeError}s that say what to fix.
 *
 * @example
 * ```ts ignore
 * import { connectNode, resolveCookie } from "../../mod.ts";
 * const conn = await connectNode("app@127.0.0.1", { cookie: await resolveCookie() });
 * console.log(await conn.rpc("erlang", "nodes", []));
 * conn.close();
 * ```
 */
export function connectNode(node: string, options: ConnectNodeOptions): Promise<NodeConnection> {
  const target = parseNodeName(node);
  return openLink(target.alive, target.host, target.full, options);
}

/**
 * Connects to the node registered as `alive` with the EPMD on `host` and learns its full name from
 * the handshake: for finding the name of the node beside us when only its alive part is known.
 */
export function connectByAlive(
  alive: string,
  host: string,
  options: ConnectNodeOptions,
): Promise<NodeConnection> {
  return openLink(alive, host, undefined, options);
}

async function openLink(
  alive: string,
  host: string,
  expected: string | undefined,
  options: ConnectNodeOptions,
): Promise<NodeConnection> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const { signal, clear } = deadline(timeoutMs, options.signal);
  try {
    return await openLinkWithin(alive, host, expected, options, timeoutMs, signal);
  } finally {
    clear();
  }
}

/** {@link openLink} under the deadline `signal` (of `timeoutMs`). */
async function openLinkWithin(
  alive: string,
  host: string,
  expected: string | undefined,
  options: ConnectNodeOptions,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<NodeConnection> {
  const label = expected ?? `${alive}@${host}`;
  const defaults = distribution();
  const tls = options.tls ?? (options.connect ? undefined : defaults.tls);
  const dial = options.connect ?? defaultConnect;
  const fail = (code: HandshakeError["code"], msg: string, cause?: unknown) =>
    new HandshakeError(code, label, `Cannot connect to '${label}': ${msg}`, { cause });

  let port = options.distPort ?? defaults.distPort;
  if (port === undefined) {
    try {
      const info = await portPlease(host, alive, {
        port: options.epmdPort,
        signal,
        timeoutMs,
        connect: dial,
      });
      if (info.highestVersion < 6 || info.lowestVersion > 6) {
        throw fail(
          "VERSION",
          `it speaks distribution versions ${info.lowestVersion}-${info.highestVersion}; erlmesh needs 6 (OTP 23 or later)`,
        );
      }
      port = info.port;
    } catch (err) {
      if (!(err instanceof EpmdError)) throw err;
      if (err.code === "NOT_REGISTERED") {
        let known = "";
        if (options.describeMissing !== false) {
          try {
            const list = await epmdNames(host, { port: options.epmdPort, timeoutMs: 1000, connect: dial });
            known = list.nodes.length
              ? ` (it knows ${list.nodes.map((n) => `'${n.name}'`).join(", ")})`
              : " (it knows no nodes: is the node started with -name/-sname?)";
          } catch { /* the first error says enough */ }
        }
        throw fail("NOT_REGISTERED", `EPMD on ${host} has no node named '${alive}'${known}`, err);
      }
      if (err.code === "TIMEOUT") throw fail("TIMEOUT", err.message, err);
      throw fail("UNREACHABLE", err.message, err);
    }
  }

  let t: Transport;
  try {
    if (tls) {
      const opened: Transport | DialFailure = await dialTls(host, port, tls, signal);
      if ("code" in opened) throw fail(opened.code, opened.message);
      t = opened;
    } else {
      t = await dial(host, port, signal);
    }
  } catch (err) {
    if (err instanceof HandshakeError) throw err;
    if (err instanceof BytesError && err.code === "TIMEOUT") {
      throw fail("TIMEOUT", `no TCP connection to port ${port} in time`, err);
    }
    const why = err instanceof Error ? err.message : String(err);
    throw fail("UNREACHABLE", `the distribution port ${port} does not answer (${why})`, err);
  }
  const reader = new ExactReader(t);
  const localName = options.localName ?? localNodeNameFor(parseNodeName(label));
  try {
    const hs = await clientHandshake(t, reader, {
      localName,
      targetName: label,
      anyName: expected === undefined,
      cookie: options.cookie,
      creation: CREATION,
      signal,
      lengthBytes: tls ? 4 : 2,
    });
    return new NodeConnection(t, reader, {
      node: hs.peerName,
      localName,
      negotiated: hs.negotiated,
      peerCreation: hs.peerCreation,
      tickIntervalMs: options.tickIntervalMs,
      deadAfterMs: options.deadAfterMs,
    });
  } catch (err) {
    t.close();
    // Over TLS the node's refusal of our certificate can arrive as an alert on the first read.
    const refused = tls && !(err instanceof HandshakeError) ? classifyTlsError(err, host, port) : undefined;
    if (refused) throw fail(refused.code, refused.message, err);
    if (tls && err instanceof HandshakeError && err.code === "CLOSED") {
      const cause = err.cause instanceof Error ? classifyTlsError(err.cause, host, port) : undefined;
      if (cause) throw fail(cause.code, cause.message, err);
    }
    throw err;
  }
}

interface Pending {
  resolve: (t: Term) => void;
  reject: (e: Error) => void;
}

/** A live hidden link to one node, with `rpc` through `rex` and `ping` through `net_kernel`. */
export class NodeConnection {
  /** The node at the other end. */
  readonly node: string;
  /** Our node name on this link. */
  readonly localName: string;
  /** The flags both sides agreed on. */
  readonly flags: bigint;
  /** The peer's creation. */
  readonly peerCreation: number;
  /** Our process id on this link (replies come to it). */
  readonly self: Pid;
  /** Receives messages sent to {@link NodeConnection.self} that are not replies to our calls. */
  onMessage?: (message: Term) => void;
  #channel: DistChannel;
  #pending = new Map<string, Pending>();
  #closeReason: Error | undefined;

  /** @internal Built by {@link connectNode}. */
  constructor(
    t: Transport,
    reader: ExactReader,
    info: {
      node: string;
      localName: string;
      negotiated: bigint;
      peerCreation: number;
      tickIntervalMs?: number;
      deadAfterMs?: number;
    },
  ) {
    this.node = info.node;
    this.localName = info.localName;
    this.flags = info.negotiated;
    this.peerCreation = info.peerCreation;
    this.self = new Pid(atom(info.localName), 1, 0, CREATION);
    this.#channel = new DistChannel(t, reader, {
      node: info.node,
      tickIntervalMs: info.tickIntervalMs,
      deadAfterMs: info.deadAfterMs,
      onMessage: (m) => this.#onMessage(m),
      onClose: (reason) => this.#onClose(reason),
    });
  }

  /** True when the link is hidden (it always is unless flags were overridden). */
  get hidden(): boolean {
    return isHidden(this.flags);
  }

  /** True until the link ends. */
  get open(): boolean {
    return this.#channel.open;
  }

  /** Resolves with the reason once the link has ended. */
  get closed(): Promise<Error> {
    return this.#channel.closed;
  }

  #newRef(): Ref {
    refCounter = (refCounter + 1) & 0x3ffff;
    const r = crypto.getRandomValues(new Uint32Array(2));
    return new Ref(atom(this.localName), CREATION, [refCounter, r[0], r[1]]);
  }

  #onMessage({ control, message }: DistMessage): void {
    const op = controlOp(control);
    const c = control as Tuple;
    switch (op) {
      case DOP.SEND:
      case DOP.SEND_SENDER:
      case DOP.SEND_TT:
      case DOP.SEND_SENDER_TT:
      case DOP.REG_SEND:
      case DOP.REG_SEND_TT:
        if (message !== undefined) this.#onReply(message);
        return;
      // A LINK, MONITOR_P or UNLINK_ID with too few elements is ignored, as other malformed ones are.
      case DOP.LINK:
        // Nobody here can be linked to: answer as a dead process would.
        if (c.arity < 3) return;
        this.#channel.send(exit(c.elements[2] as Pid, c.elements[1] as Pid, atom("noproc"))).catch(() => {});
        return;
      case DOP.MONITOR_P:
        if (c.arity < 4) return;
        this.#channel.send(monitorExit(c.elements[2], c.elements[1], c.elements[3], atom("noproc"))).catch(
          () => {},
        );
        return;
      case DOP.UNLINK_ID:
        if (c.arity < 4) return;
        this.#channel.send(unlinkIdAck(c.elements[1], c.elements[3], c.elements[2])).catch(() => {});
        return;
      default:
        return; // Exits, demonitors and the rest need no answer from a process that does nothing.
    }
  }

  #onReply(message: Term): void {
    if (!(message instanceof Tuple) || message.arity !== 2 || !(message.elements[0] instanceof Ref)) {
      this.onMessage?.(message);
      return;
    }
    const key = refKey(message.elements[0]);
    const p = this.#pending.get(key);
    if (!p) return; // A late reply to a call that timed out.
    this.#pending.delete(key);
    p.resolve(message.elements[1]);
  }

  #onClose(reason: Error): void {
    this.#closeReason = reason;
    for (const p of this.#pending.values()) p.reject(reason);
    this.#pending.clear();
  }

  async #call(server: string, request: Term, mfa: string, options: RpcOptions): Promise<Term> {
    const timeoutMs = options.timeoutMs ?? 10000;
    if (!this.open) {
      throw new RpcError(
        "NODEDOWN",
        this.node,
        mfa,
        `Cannot call ${mfa} on '${this.node}': the link is down (${this.#closeReason?.message})`,
      );
    }
    const ref = this.#newRef();
    const key = refKey(ref);
    const { signal, clear } = deadline(timeoutMs, options.signal);
    const reply = new Promise<Term>((resolve, reject) => {
      this.#pending.set(key, { resolve, reject });
      const onAbort = () => {
        if (!this.#pending.delete(key)) return;
        const aborted = signal.reason instanceof DOMException && signal.reason.name === "TimeoutError";
        reject(
          new RpcError(
            "TIMEOUT",
            this.node,
            mfa,
            aborted
              ? `Cannot call ${mfa} on '${this.node}': no reply within ${timeoutMs} ms`
              : `Cannot call ${mfa} on '${this.node}': aborted`,
          ),
        );
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    const message = tuple(atom("$gen_call"), tuple(this.self, ref), request);
    this.#channel.send(regSend(this.self, server), message).catch(() => {});
    try {
      return await reply;
    } catch (err) {
      if (err instanceof RpcError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new RpcError(
        "NODEDOWN",
        this.node,
        mfa,
        `Cannot call ${mfa} on '${this.node}': the link went down (${why})`,
        {
          cause: err,
        },
      );
    } finally {
      clear();
    }
  }

  /**
   * Calls `module:fn(args…)` on the node through `rex`, as `rpc:call/4` does. A `{badrpc, Reason}`
   * reply becomes an {@link RpcError} with code `BADRPC`.
   */
  async rpc(module: string, fn: string, args: Term[] = [], options: RpcOptions = {}): Promise<Term> {
    const mfa = `${module}:${fn}/${args.length}`;
    const request = tuple(atom("call"), atom(module), atom(fn), args, atom("user"));
    const result = await this.#call("rex", request, mfa, options);
    if (result instanceof Tuple && result.arity === 2 && isAtom(result.elements[0], "badrpc")) {
      const reason = formatTerm(result.elements[1]);
      throw new RpcError(
        "BADRPC",
        this.node,
        mfa,
        `Cannot call ${mfa} on '${this.node}': it answered {badrpc, ${reason}}`,
        {
          reason,
        },
      );
    }
    return result;
  }

  /**
   * Evaluates Erlang expressions on the node (`erl_scan`, `erl_parse`, `erl_eval`: no module is
   * loaded), with `bindings` as variables, and returns the value.
   */
  async evaluate(
    source: string,
    bindings: Record<string, Term> = {},
    options: RpcOptions = {},
  ): Promise<Term> {
    const chars = [...source].map((c) => c.codePointAt(0)!);
    const scanned = await this.rpc("erl_scan", "string", [chars], options);
    if (!(scanned instanceof Tuple) || !isAtom(scanned.elements[0], "ok")) {
      throw new RpcError(
        "BADRPC",
        this.node,
        "erl_scan:string/1",
        `Cannot scan the expression: ${formatTerm(scanned)}`,
      );
    }
    const parsed = await this.rpc("erl_parse", "parse_exprs", [scanned.elements[1]], options);
    if (!(parsed instanceof Tuple) || !isAtom(parsed.elements[0], "ok")) {
      throw new RpcError(
        "BADRPC",
        this.node,
        "erl_parse:parse_exprs/1",
        `Cannot parse the expression: ${formatTerm(parsed)}`,
      );
    }
    const binds = Object.keys(bindings).sort().map((k) => tuple(atom(k), bindings[k]));
    const value = await this.rpc("erl_eval", "exprs", [parsed.elements[1], binds], options);
    if (!(value instanceof Tuple) || !isAtom(value.elements[0], "value")) {
      throw new RpcError("BADRPC", this.node, "erl_eval:exprs/2", `Unexpected result: ${formatTerm(value)}`);
    }
    return value.elements[1];
  }

  /** Asks the node's `net_kernel` whether it is up (`net_adm:ping` over this link). */
  async ping(options: RpcOptions = {}): Promise<boolean> {
    const reply = await this.#call(
      "net_kernel",
      tuple(atom("is_auth"), atom(this.localName)),
      "net_kernel:is_auth/1",
      options,
    );
    return isAtom(reply, "yes");
  }

  /** Ends the link; pending calls fail with `NODEDOWN`. */
  close(): void {
    this.#channel.close();
  }

  /** Closes the link. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function refKey(r: Ref): string {
  return `${r.node.name}/${r.creation}/${r.ids.join(".")}`;
}

/** Decodes a list of atoms (for `nodes()` replies); fails on anything else. */
export function atomList(t: Term, what: string): string[] {
  if (!Array.isArray(t) || !t.every((x) => x instanceof Atom)) {
    throw new TypeError(`Expected ${what} to be a list of atoms, got ${formatTerm(t)}`);
  }
  return (t as Atom[]).map((a) => a.name);
}
