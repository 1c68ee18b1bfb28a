/**
 * erlmesh as a library: find Erlang nodes through EPMD and DNS, talk to them as a hidden node over
 * the distribution protocol, and keep a node meshed with its peers.
 *
 * @example Ask a node what it is connected to
 * ```ts ignore
 * import { atom, connectNode, resolveCookie } from "./mod.ts";
 *
 * const conn = await connectNode("app@127.0.0.1", { cookie: await resolveCookie() });
 * try {
 *   console.log(await conn.rpc("erlang", "nodes", [atom("connected")]));
 * } finally {
 *   conn.close();
 * }
 * ```
 *
 * @module
 */
export * from "./lib/etf/mod.ts";
export { formatTerm } from "./lib/etf/format.ts";
export * from "./lib/epmd/mod.ts";
export * from "./lib/dist/mod.ts";
export * from "./lib/discovery/mod.ts";
export * from "./lib/cluster/mod.ts";
export * from "./lib/config/mod.ts";
