import type { NodeConnection } from "../dist/mod.ts";
import { Atom, isAtom, type Term, Tuple } from "../etf/term.ts";

/**
 * Erlang run on the local node by `erl_eval` (no module is loaded): a process that subscribes to
 * `net_kernel:monitor_nodes/1` and tells erlmesh's hidden node of each nodeup and nodedown at once,
 * and exits when erlmesh's link goes away (`erlang:monitor_node/2`).
 */
export const WATCHER_SOURCE = `spawn(fun() ->
  ok = net_kernel:monitor_nodes(true),
  true = erlang:monitor_node(node(Self), true),
  Self ! {erlmesh_nodes, nodes()},
  Loop = fun L() ->
    receive
      {nodeup, N} -> Self ! {erlmesh_nodeup, N}, L();
      {nodedown, N} when N =:= node(Self) -> exit(normal);
      {nodedown, N} -> Self ! {erlmesh_nodedown, N}, L();
      _ -> L()
    end
  end,
  Loop()
end).`;

/** A change the watcher reported. */
export type NodeChange = { type: "nodeup" | "nodedown"; node: string } | { type: "nodes"; nodes: string[] };

/** Decodes a watcher message; undefined for anything else. */
export function nodeChange(msg: Term): NodeChange | undefined {
  if (!(msg instanceof Tuple) || msg.arity !== 2) return undefined;
  const [tag, value] = msg.elements;
  if (isAtom(tag, "erlmesh_nodeup") && value instanceof Atom) return { type: "nodeup", node: value.name };
  if (isAtom(tag, "erlmesh_nodedown") && value instanceof Atom) return { type: "nodedown", node: value.name };
  if (isAtom(tag, "erlmesh_nodes") && Array.isArray(value) && value.every((v) => v instanceof Atom)) {
    return { type: "nodes", nodes: (value as Atom[]).map((a) => a.name) };
  }
  return undefined;
}

/** Starts the watcher on the node behind `conn`; its reports go to `onChange`. Returns its pid. */
export async function watchNodes(
  conn: NodeConnection,
  onChange: (c: NodeChange) => void,
  timeoutMs = 3000,
): Promise<Term> {
  const previous = conn.onMessage;
  conn.onMessage = (msg) => {
    const change = nodeChange(msg);
    if (change) onChange(change);
    else previous?.(msg);
  };
  return await conn.evaluate(WATCHER_SOURCE, { Self: conn.self }, { timeoutMs });
}
