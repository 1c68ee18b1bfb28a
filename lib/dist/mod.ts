/**
 * The Erlang distribution protocol as a hidden client node, as callers outside this layer use it:
 * node names, cookies, {@link connectNode} (EPMD lookup, handshake, the framed link with ticks) and
 * `rpc` through `rex` on the {@link NodeConnection} it returns, and the typed errors of each step.
 *
 * The wire pieces (flags, the handshake messages and digest, the channel, control messages) stay
 * private to the layer, as in sile/erl_dist: tests that need them import their files directly.
 *
 * @example Ask a node what it is connected to
 * ```ts ignore
 * import { atomList, connectNode, resolveCookie } from "./mod.ts";
 *
 * const conn = await connectNode("app@127.0.0.1", { cookie: await resolveCookie(), timeoutMs: 2000 });
 * try {
 *   console.log(atomList(await conn.rpc("erlang", "nodes", []), "nodes()"));
 * } finally {
 *   conn.close();
 * }
 * ```
 *
 * @module
 */
export {
  CookieError,
  type CookieErrorCode,
  HandshakeError,
  type HandshakeErrorCode,
  LinkError,
  type LinkErrorCode,
  NodeNameError,
  type NodeNameErrorCode,
  RpcError,
  type RpcErrorCode,
} from "./errors.ts";
export {
  acceptsPeerHost,
  aliveMatcher,
  hostKind,
  isLocalAlias,
  localHostname,
  type NameKind,
  type NodeName,
  parseNodeName,
} from "./names.ts";
export {
  Cookie,
  type CookieSources,
  readCookieFile,
  type ReadCookieFileOptions,
  redactCookies,
  resolveCookie,
} from "./cookie.ts";
export {
  atomList,
  connectByAlive,
  connectNode,
  type ConnectNodeOptions,
  NodeConnection,
  type RpcOptions,
} from "./node.ts";
export {
  distribution,
  type DistributionOptions,
  type ProtoDist,
  setDistribution,
  type TlsClientOptions,
} from "./transport.ts";
