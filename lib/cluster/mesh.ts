import { atomList, connectNode, type Cookie } from "../dist/mod.ts";
import { pool } from "./reconcile.ts";

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

/** Who is connected to whom among a set of nodes. */
export interface MeshStatus {
  /** Each node's view ({@link meshStatus} sorts them by name). */
  nodes: MeshNodeView[];
  /** Pairs not connected (either side lacks the other), each pair once, sorted. */
  missingPairs: [string, string][];
  /** Groups of nodes connected to each other directly or through others; more than one means a split. */
  clusters: string[][];
  /** True when every node is reachable and every pair is connected. */
  fullMesh: boolean;
}

/** Options of {@link meshStatus}. */
export interface MeshOptions {
  /** The cookie. */
  cookie: Cookie;
  /** The port EPMD listens on. @default ERL_EPMD_PORT or 4369 */
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
  const views = await pool(sorted, options.concurrency ?? 16, async (node): Promise<MeshNodeView> => {
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

/** Derives missing pairs, clusters and the verdict from each node's view. */
export function analyseMesh(views: MeshNodeView[]): MeshStatus {
  const names = views.map((v) => v.node);
  const sees = new Map(views.map((v) => [v.node, new Set(v.connected)]));
  const missingPairs: [string, string][] = [];
  const parent = new Map(names.map((n) => [n, n]));
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = names[i], b = names[j];
      const ab = sees.get(a)!.has(b), ba = sees.get(b)!.has(a);
      if (ab && ba) parent.set(find(a), find(b));
      else missingPairs.push([a, b]);
    }
  }
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const r = find(n);
    groups.set(r, [...(groups.get(r) ?? []), n]);
  }
  const clusters = [...groups.values()].map((g) => g.sort()).sort((x, y) =>
    y.length - x.length || x[0].localeCompare(y[0])
  );
  return {
    nodes: views,
    missingPairs,
    clusters,
    fullMesh: views.length > 0 && views.every((v) => v.reachable) && missingPairs.length === 0,
  };
}

/** The mesh as a matrix for a terminal: `#` connected, `.` missing, `x` unreachable. */
export function meshMatrix(status: MeshStatus): string {
  const idx = status.nodes.map((_, i) => String(i + 1));
  const w = Math.max(...idx.map((s) => s.length), 1);
  const lines: string[] = [];
  lines.push(`${" ".repeat(w)}  ${idx.map((s) => s.padStart(w)).join(" ")}`);
  status.nodes.forEach((v, i) => {
    const set = new Set(v.connected);
    const cells = status.nodes.map((
      o,
      j,
    ) => (i === j ? "-" : !v.reachable ? "x" : set.has(o.node) ? "#" : "."));
    lines.push(
      `${idx[i].padStart(w)}  ${cells.map((c) => c.padStart(w)).join(" ")}  ${v.node}${
        v.reachable ? "" : `  (unreachable: ${v.error})`
      }`,
    );
  });
  lines.push(`(# connected, . not connected, x unreachable)`);
  return lines.join("\n");
}

/** The mesh in Graphviz `dot`: solid edges for connected pairs, dashed red for missing ones. */
export function meshDot(status: MeshStatus): string {
  const q = (s: string) => JSON.stringify(s);
  const out = ["graph erlmesh {", "  node [shape=box];"];
  for (const v of status.nodes) out.push(`  ${q(v.node)}${v.reachable ? "" : " [color=red, style=dashed]"};`);
  const missing = new Set(status.missingPairs.map(([a, b]) => `${a}\n${b}`));
  const names = status.nodes.map((v) => v.node);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const edge = `  ${q(names[i])} -- ${q(names[j])}`;
      out.push(missing.has(`${names[i]}\n${names[j]}`) ? `${edge} [color=red, style=dashed];` : `${edge};`);
    }
  }
  out.push("}");
  return out.join("\n");
}
