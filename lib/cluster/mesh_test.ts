import assert from "node:assert/strict";
import { analyseMesh, meshDot, meshMatrix, type MeshNodeView } from "./mesh.ts";

const up = (node: string, connected: string[]): MeshNodeView => ({ node, reachable: true, connected });
const down = (node: string, error = "Cannot connect: the cookie was refused"): MeshNodeView => ({
  node,
  reachable: false,
  connected: [],
  error,
});

Deno.test("analyseMesh() of two unreachable nodes reports no missing pair and no split: unknown", () => {
  const s = analyseMesh([down("a@h"), down("b@h")]);
  assert.deepEqual(s.missingPairs, []);
  assert.deepEqual(s.unknownPairs, [["a@h", "b@h"]]);
  assert.equal(s.split, false);
  assert.equal(s.verdict, "UNKNOWN");
  assert.equal(s.summary, "unknown (2 unreachable)");
  assert.equal(s.fullMesh, false);
  assert.deepEqual(s.unreachable.map((u) => u.node), ["a@h", "b@h"]);
});

Deno.test("analyseMesh() takes a pair as known from the side that was reached", () => {
  // c cannot be asked, but a and b say they are connected to it; a and b lack each other.
  const s = analyseMesh([up("a@h", ["c@h"]), up("b@h", ["c@h"]), down("c@h")]);
  assert.deepEqual(s.missingPairs, [["a@h", "b@h"]]);
  assert.deepEqual(s.unknownPairs, []);
  assert.equal(s.verdict, "NOT_MESHED");
  assert.deepEqual(s.clusters, [["a@h", "b@h", "c@h"]]);
  assert.equal(s.split, false);
});

Deno.test("analyseMesh() claims a split only when unknown pairs could not join the groups", () => {
  // {a,b} and {c,d} known; d unreachable and e unreachable: d–e unknown could not join {a,b} to {c,d}
  // because a, b and c say they lack the other group.
  const views = [up("a@h", ["b@h"]), up("b@h", ["a@h"]), up("c@h", ["d@h"]), down("d@h")];
  const s = analyseMesh(views);
  assert.equal(s.verdict, "NOT_MESHED");
  assert.equal(s.split, true);
  assert.deepEqual(s.clusters, [["a@h", "b@h"], ["c@h", "d@h"]]);
  const t = analyseMesh([up("a@h", []), down("x@h"), down("y@h")]);
  assert.equal(t.split, true, "a lacks x and y, so a is apart from them whatever x–y is");
  const u = analyseMesh([up("a@h", ["x@h"]), down("x@h"), down("y@h")]);
  assert.deepEqual(u.missingPairs, [["a@h", "y@h"]]);
  assert.equal(u.split, false, "y may be connected to x, which is connected to a");
  const v = analyseMesh([up("a@h", ["x@h", "y@h"]), down("x@h"), down("y@h")]);
  assert.deepEqual(v.missingPairs, []);
  assert.deepEqual(v.unknownPairs, [["x@h", "y@h"]]);
  assert.equal(v.split, false);
  assert.equal(v.verdict, "UNKNOWN");
});

Deno.test("analyseMesh() of reached nodes all connected is a full mesh", () => {
  const s = analyseMesh([up("a@h", ["b@h"]), up("b@h", ["a@h"])]);
  assert.equal(s.verdict, "FULL_MESH");
  assert.equal(s.fullMesh, true);
  assert.equal(s.summary, "full mesh");
  assert.deepEqual(s.unreachable, []);
  assert.equal(analyseMesh([]).verdict, "NOT_MESHED");
});

Deno.test("meshMatrix() prints ? for unknown cells, what the reached side says, and no reason", () => {
  const s = analyseMesh([up("a@h", ["b@h"]), down("b@h", "REASON-B"), down("c@h", "REASON-C")]);
  const m = meshMatrix(s);
  const rows = m.split("\n");
  assert.equal(rows[1], "1  - # .  a@h");
  assert.equal(rows[2], "2  # - ?  b@h  (unreachable)");
  assert.equal(rows[3], "3  . ? -  c@h  (unreachable)");
  assert.ok(!m.includes("REASON"), m);
  assert.deepEqual(s.unreachable, [{ node: "b@h", error: "REASON-B" }, { node: "c@h", error: "REASON-C" }]);
  const dot = meshDot(s);
  assert.match(dot, /"b@h" -- "c@h" \[color=grey, style=dotted\];/);
  assert.match(dot, /"a@h" -- "c@h" \[color=red, style=dashed\];/);
  assert.match(dot, /"a@h" -- "b@h";/);
});
