import { atomList, connectNode, type Cookie } from "../dist/mod.ts";
import { pooledMap } from "../bytes/pool.ts";

/** One node's view in a {@link MeshStatus}. */
export interface MeshNodeView {
  /** The node's name. */
  node: string;
  /** False when erlmesh could not reach it or it did not answer. */
  reachable: boolean;
  /** Its `nodes()`, when reachable. */
  connected: string[];
  /** Why it could not be reached or asked, when `reachable` is false. */
  error?: string;
}

/**
 * The verdict of a {@link MeshStatus}:
 * - `FULL_MESH`: every node was reached and every pair is connected;
 * - `NOT_MESHED`: a node that was reached says it lacks another (a missing pair), or there are no nodes;
 * - `UNKNOWN`: no pair is known missing, but some nodes could not be reached, so the pairs between them
 *   are unknown.
 *
 * Exit code of `erlmesh mesh`: 0 for `FULL_MESH`, 1 for `NOT_MESHED` and `UNKNOWN`.
 */
export type MeshVerdictKind = "FULL_MESH" | "NOT_MESHED" | "UNKNOWN";

/** A node erlmesh could not ask, with why: print each once. */
export interface UnreachableNode {
  /** The node. */
  node: string;
  /** Why it could not be reached or asked. */
  error: string;
}

/** Who is connected to whom among a set of nodes. Unknown is unknown: see {@link analyseMesh}. */
export interface MeshStatus {
  /** Each node's view ({@link meshStatus} sorts them by name). */
  nodes: MeshNodeView[];
  /**
   * Pairs known not to be connected: at least one side was reached and lacks the other in its
   * `nodes()`. Each pair once, sorted.
   */
  missingPairs: [string, string][];
  /** Pairs whose state is unknown: neither side could be reached. Each pair once, sorted. */
  unknownPairs: [string, string][];
  /**
   * Groups of nodes joined by known connections (directly or through others), largest first. Several
   * groups are a split only when {@link MeshStatus.split} says so.
   */
  clusters: string[][];
  /**
   * True when the nodes are certainly split: more than one group remains even if every unknown pair
   * were connected.
   */
  split: boolean;
  /** The nodes that could not be reached or asked, each once, with the reason (print these once). */
  unreachable: UnreachableNode[];
  /** The verdict; the exit code rule is in {@link MeshVerdictKind}. */
  verdict: MeshVerdictKind;
  /** The verdict as one line: `full mesh`, `not meshed: …` or `unknown (N unreachable)`. */
  summary: string;
  /** True when the verdict is `FULL_MESH`. */
  fullMesh: boolean;
}

/** Options of {@link meshStatus}. */
export interface MeshOptions {
  /** The cookie. */
  cookie: Cookie;
  /** The port EPMD listens on. @default 4369 */
  epmdPort?: number;
  /** Deadline per node (connect + rpc). @default 3000 */
  timeoutMs?: number;
  /** Nodes asked at once. @default 16 */
  concurrency?: number;
}

/** Connects to each node as a hidden node and asks it for `nodes()`. */
export async function meshStatus(nodes: string[], options: MeshOptions): Promise<MeshStatus> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const sorted = [...new Set(nodes)].sort();
  const views = await pooledMap(sorted, options.concurrency ?? 16, async (node): Promise<MeshNodeView> => {
    try {
      const conn = await connectNode(node, { cookie: options.cookie, epmdPort: options.epmdPort, timeoutMs });
      try {
        const list = atomList(await conn.rpc("erlang", "nodes", [], { timeoutMs }), "nodes()");
        return { node, reachable: true, connected: list.sort() };
      } finally {
        conn.close();
      }
    } catch (err) {
      return {
        node,
        reachable: false,
        connected: [],
        error: err instanceof Error ? err.message : String(err),
      };
    }
  });
  return analyseMesh(views);
}

/** The state of the pair (a, b) from what each side said: `connected`, `missing` or `unknown`. */
function pairState(a: MeshNodeView, b: MeshNodeView): "connected" | "missing" | "unknown" {
  if (!a.reachable && !b.reachable) return "unknown";
  const aLacks = a.reachable && !a.connected.includes(b.node);
  const bLacks = b.reachable && !b.connected.includes(a.node);
  return aLacks || bLacks ? "missing" : "connected";
}

function groups(names: string[], edges: [string, string][]): string[][] {
  const parent = new Map(names.map((n) => [n, n]));
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  for (const [a, b] of edges) parent.set(find(a), find(b));
  const out = new Map<string, string[]>();
  for (const n of names) {
    const r = find(n);
    out.set(r, [...(out.get(r) ?? []), n]);
  }
  return [...out.values()].map((g) => g.sort()).sort((x, y) =>
    y.length - x.length || x[0].localeCompare(y[0])
  );
}

/**
 * Derives the pairs, groups and verdict from each node's view (pure). A pair is missing only when a side
 * that was reached lacks the other; a pair of two unreachable nodes is unknown. Groups come from known
 * connections only, and a split is claimed only when unknown pairs could not join the groups.
 */
export function analyseMesh(views: MeshNodeView[]): MeshStatus {
  const names = views.map((v) => v.node);
  const missingPairs: [string, string][] = [];
  const unknownPairs: [string, string][] = [];
  const connected: [string, string][] = [];
  for (let i = 0; i < views.length; i++) {
    for (let j = i + 1; j < views.length; j++) {
      const pair: [string, string] = [views[i].node, views[j].node].sort() as [string, string];
      const state = pairState(views[i], views[j]);
      (state === "connected" ? connected : state === "missing" ? missingPairs : unknownPairs).push(pair);
    }
  }
  const byName = (x: [string, string], y: [string, string]) =>
    x[0].localeCompare(y[0]) || x[1].localeCompare(y[1]);
  missingPairs.sort(byName);
  unknownPairs.sort(byName);
  const clusters = groups(names, connected);
  const split = groups(names, [...connected, ...unknownPairs]).length > 1;
  const unreachable = views.filter((v) => !v.reachable).map((v) => ({
    node: v.node,
    error: v.error ?? "unknown",
  }));
  let verdict: MeshVerdictKind;
  let summary: string;
  if (views.length === 0) {
    verdict = "NOT_MESHED";
    summary = "not meshed: no nodes to check";
  } else if (missingPairs.length > 0) {
    verdict = "NOT_MESHED";
    summary = `not meshed: ${missingPairs.length} pair(s) not connected${
      split ? `, split into ${clusters.length} groups` : ""
    }${unreachable.length ? `; ${unreachable.length} node(s) unreachable` : ""}`;
  } else if (unreachable.length > 0) {
    verdict = "UNKNOWN";
    summary = `unknown (${unreachable.length} unreachable)`;
  } else {
    verdict = "FULL_MESH";
    summary = "full mesh";
  }
  return {
    nodes: views,
    missingPairs,
    unknownPairs,
    clusters,
    split,
    unreachable,
    verdict,
    summary,
    fullMesh: verdict === "FULL_MESH",
  };
}

/**
 * The mesh as a matrix for a terminal: row i, column j says whether i and j are connected as far as
 * erlmesh knows: `#` connected, `.` not connected, `?` unknown (neither could be asked). A row of an
 * unreachable node shows what the other nodes said about it and is marked `(unreachable)`; the reasons
 * are in {@link MeshStatus.unreachable}, to print once.
 */
export function meshMatrix(status: MeshStatus): string {
  const idx = status.nodes.map((_, i) => String(i + 1));
  const w = Math.max(...idx.map((s) => s.length), 1);
  const lines: string[] = [];
  lines.push(`${" ".repeat(w)}  ${idx.map((s) => s.padStart(w)).join(" ")}`);
  status.nodes.forEach((v, i) => {
    const cells = status.nodes.map((o, j) => {
      if (i === j) return "-";
      if (v.reachable) return v.connected.includes(o.node) ? "#" : ".";
      if (!o.reachable) return "?";
      return o.connected.includes(v.node) ? "#" : ".";
    });
    lines.push(
      `${idx[i].padStart(w)}  ${cells.map((c) => c.padStart(w)).join(" ")}  ${v.node}${
        v.reachable ? "" : "  (unreachable)"
      }`,
    );
  });
  lines.push(`(# connected, . not connected, ? unknown: neither node could be asked)`);
  return lines.join("\n");
}

/**
 * The mesh in Graphviz `dot`: solid edges for connected pairs, dashed red for missing ones, dotted grey
 * for unknown ones; unreachable nodes dashed red.
 */
export function meshDot(status: MeshStatus): string {
  const q = (s: string) => JSON.stringify(s);
  const out = ["graph erlmesh {", "  node [shape=box];"];
  for (const v of status.nodes) out.push(`  ${q(v.node)}${v.reachable ? "" : " [color=red, style=dashed]"};`);
  const key = ([a, b]: [string, string]) => `${a}\n${b}`;
  const missing = new Set(status.missingPairs.map(key));
  const unknown = new Set(status.unknownPairs.map(key));
  const names = status.nodes.map((v) => v.node);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const k = key([names[i], names[j]].sort() as [string, string]);
      const edge = `  ${q(names[i])} -- ${q(names[j])}`;
      out.push(
        missing.has(k)
          ? `${edge} [color=red, style=dashed];`
          : unknown.has(k)
          ? `${edge} [color=grey, style=dotted];`
          : `${edge};`,
      );
    }
  }
  out.push("}");
  return out.join("\n");
}
