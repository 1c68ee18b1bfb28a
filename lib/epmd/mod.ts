/**
 * EPMD client: list the nodes registered on a host (NAMES_REQ) and find the distribution port of one
 * node (PORT_PLEASE2_REQ). Every call has one deadline, always closes its connection and fails only
 * with {@link EpmdError}.
 *
 * @example Find the port of `app@127.0.0.1`
 * ```ts
 * import { EpmdError, names, portPlease } from "./mod.ts";
 *
 * try {
 *   const { nodes } = await names("127.0.0.1", { timeoutMs: 2000 });
 *   console.log(nodes.map((n) => n.name));
 *   const app = await portPlease("127.0.0.1", "app", { timeoutMs: 2000 });
 *   console.log(`app listens on ${app.port}, versions ${app.lowestVersion}..${app.highestVersion}`);
 * } catch (err) {
 *   if (!(err instanceof EpmdError)) throw err;
 *   console.error(`${err.code}: ${err.message}`);
 * }
 * ```
 *
 * @module
 */
export type { Transport } from "../bytes/mod.ts";
export { EpmdError, type EpmdErrorCode, type EpmdErrorOptions } from "./errors.ts";
export {
  DEFAULT_EPMD_PORT,
  type EpmdNames,
  type EpmdNode,
  type EpmdOptions,
  type EpmdPort,
  names,
  NAMES_REPLY_LIMIT,
  type NamesReplySource,
  parseNamesReply,
  portPlease,
} from "./client.ts";
