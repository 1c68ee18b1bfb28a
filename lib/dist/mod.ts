/**
 * The Erlang distribution protocol as a hidden client node: node names, flags, the version 6
 * handshake, the framed channel with ticks, control messages, `rpc` through `rex`, and cookies.
 * @module
 */
export {
  CookieError,
  type CookieErrorCode,
  HandshakeError,
  type HandshakeErrorCode,
  NodeNameError,
  type NodeNameErrorCode,
  RpcError,
  type RpcErrorCode,
} from "./errors.ts";
export {
  acceptsPeerHost,
  aliveMatcher,
  hostKind,
  isIpAddress,
  isLocalAlias,
  localAliveBase,
  localNodeNameFor,
  type NameKind,
  type NodeName,
  parseNodeName,
} from "./names.ts";
export {
  CLIENT_FLAGS,
  DFLAG,
  expandFlags,
  flagNames,
  MANDATORY_25,
  MANDATORY_26,
  missingFlags,
} from "./flags.ts";
export {
  Cookie,
  COOKIE_ENV_VARS,
  type CookieSources,
  readCookieFile,
  type ReadCookieFileOptions,
  redactCookies,
  resolveCookie,
} from "./cookie.ts";
export {
  clientHandshake,
  encodeSendName,
  genDigest,
  type HandshakeOptions,
  type HandshakeResult,
  isHidden,
} from "./handshake.ts";
export { type ChannelOptions, DistChannel, type DistMessage } from "./channel.ts";
export { ExactReader } from "../bytes/mod.ts";
export { controlOp, DOP } from "./control.ts";
export {
  atomList,
  connectByAlive,
  connectNode,
  type ConnectNodeOptions,
  NodeConnection,
  type RpcOptions,
} from "./node.ts";
