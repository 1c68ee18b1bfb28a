/** Stable codes of {@link NodeNameError}. */
export type NodeNameErrorCode = "INVALID_NAME";

/** A node name that is not of the form `alive@host`, or not of the kind expected. */
export class NodeNameError extends Error {
  /** Always `"NodeNameError"`. */
  override name = "NodeNameError";
  /** A stable code for programs to match on. */
  readonly code: NodeNameErrorCode = "INVALID_NAME";
  /** The text that was rejected. */
  readonly input: string;
  /** Rejects `input` with `message`. */
  constructor(input: string, message: string) {
    super(message);
    this.input = input;
  }
}

/** Stable codes of {@link HandshakeError}. */
export type HandshakeErrorCode =
  | "UNREACHABLE"
  | "NOT_REGISTERED"
  | "COOKIE_REJECTED"
  | "BAD_DIGEST"
  | "NAME_MISMATCH"
  | "NOT_ALLOWED"
  | "NOK"
  | "BAD_STATUS"
  | "MISSING_FLAGS"
  | "VERSION"
  | "PROTOCOL"
  | "CLOSED"
  | "TIMEOUT"
  | "TLS_REQUIRED"
  | "NO_TLS"
  | "CERT_REJECTED"
  | "CERT_UNTRUSTED"
  | "CERT_NAME"
  | "CERT_EXPIRED"
  | "TLS";

/** The distribution handshake with a node failed. */
export class HandshakeError extends Error {
  /** Always `"HandshakeError"`. */
  override name = "HandshakeError";
  /** A stable code for programs to match on. */
  readonly code: HandshakeErrorCode;
  /** The node we tried to reach. */
  readonly node: string;
  /**
   * The name the node gave in its challenge, once it was read: for `NAME_MISMATCH`, the name it
   * answered under instead of `node`.
   */
  readonly peerName?: string;
  /**
   * A handshake failure with `node`; `options.cause` carries the underlying error, `options.peerName`
   * the name the node gave in its challenge.
   */
  constructor(
    code: HandshakeErrorCode,
    node: string,
    message: string,
    options?: ErrorOptions & { peerName?: string },
  ) {
    super(message, options);
    this.code = code;
    this.node = node;
    this.peerName = options?.peerName;
  }
}

/**
 * Stable codes of {@link LinkError}:
 * - `SILENT`: nothing was read from the node for the dead-after interval (its net tick time);
 * - `TOO_LARGE`: the node announced a packet above the size limit;
 * - `PEER_CLOSED`: the node closed the connection;
 * - `BROKEN`: reading or writing failed otherwise (see `cause`);
 * - `CLOSED`: erlmesh closed the link, or a write came after the link had ended;
 * - `BAD_PACKET`: a packet of a type that was not negotiated (reported and ignored: the link stays up).
 */
export type LinkErrorCode = "SILENT" | "TOO_LARGE" | "PEER_CLOSED" | "BROKEN" | "CLOSED" | "BAD_PACKET";

/**
 * A distribution link ended after its handshake, or was used after it ended. It is the reason
 * `NodeConnection.closed` resolves with, and the `cause` of the `NODEDOWN` {@link RpcError}s of calls
 * that were waiting.
 *
 * @example
 * ```ts
 * import { LinkError } from "./errors.ts";
 * const err = new LinkError("SILENT", "app@10.0.0.2", "Cannot keep the link to 'app@10.0.0.2': …");
 * console.log(err.code, err.node);
 * ```
 */
export class LinkError extends Error {
  /** Always `"LinkError"`. */
  override name = "LinkError";
  /** A stable code for programs to match on. */
  readonly code: LinkErrorCode;
  /** The node at the other end of the link. */
  readonly node: string;
  /** The end of the link to `node`; `options.cause` carries the underlying error. */
  constructor(code: LinkErrorCode, node: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.node = node;
  }
}

/** Stable codes of {@link RpcError}. */
export type RpcErrorCode = "TIMEOUT" | "NODEDOWN" | "BADRPC" | "CLOSED";

/** A remote call failed: it timed out, the link went down, or the node answered `{badrpc, Reason}`. */
export class RpcError extends Error {
  /** Always `"RpcError"`. */
  override name = "RpcError";
  /** A stable code for programs to match on. */
  readonly code: RpcErrorCode;
  /** The node called. */
  readonly node: string;
  /** `module:function/arity` of the call. */
  readonly mfa: string;
  /** For `BADRPC`: the reason term the node sent, as Erlang would print it. */
  readonly reason?: string;
  /** A failed call of `mfa` on `node`; `options.reason` is set for `BADRPC`. */
  constructor(
    code: RpcErrorCode,
    node: string,
    mfa: string,
    message: string,
    options?: ErrorOptions & { reason?: string },
  ) {
    super(message, options);
    this.code = code;
    this.node = node;
    this.mfa = mfa;
    this.reason = options?.reason;
  }
}

/** Stable codes of {@link CookieError}. */
export type CookieErrorCode = "NOT_FOUND" | "UNREADABLE" | "INVALID";

/** No usable cookie: none configured, or the file or variable holds something OTP would refuse. */
export class CookieError extends Error {
  /** Always `"CookieError"`. */
  override name = "CookieError";
  /** A stable code for programs to match on. */
  readonly code: CookieErrorCode;
  /** Where the cookie was looked for or read from (never the cookie itself). */
  readonly source: string;
  /** A cookie problem found at `source` (a description, never the cookie). */
  constructor(code: CookieErrorCode, source: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.source = source;
  }
}
