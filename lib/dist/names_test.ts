import assert from "node:assert/strict";
import { NodeNameError } from "./errors.ts";
import {
  acceptsPeerHost,
  aliveMatcher,
  hostKind,
  isLocalAlias,
  localNodeNameFor,
  parseNodeName,
} from "./names.ts";

Deno.test("parseNodeName() splits long names with FQDN and IP hosts", () => {
  assert.deepEqual(parseNodeName("app@app-0.app.default.svc.cluster.local"), {
    full: "app@app-0.app.default.svc.cluster.local",
    alive: "app",
    host: "app-0.app.default.svc.cluster.local",
    kind: "long",
  });
  assert.equal(parseNodeName("app@10.244.0.7").kind, "long");
  assert.equal(parseNodeName("app@fd00:10:244::7").kind, "long");
});

Deno.test("parseNodeName() treats a dotless host as a short name and strips a trailing dot", () => {
  assert.equal(parseNodeName("rabbit@myhost").kind, "short");
  assert.equal(
    parseNodeName("app@app-0.app.default.svc.cluster.local.").host,
    "app-0.app.default.svc.cluster.local",
  );
});

Deno.test("parseNodeName() uses the default host for a bare name", () => {
  assert.equal(parseNodeName("app", "box").full, "app@box");
});

Deno.test("parseNodeName() rejects malformed names with a message naming the problem", () => {
  const cases: [string, RegExp][] = [
    ["", /Invalid node name ''/],
    ["app", /no '@host' part/],
    ["a@b@c", /more than one '@'/],
    ["@host", /before '@' is empty/],
    ["app@", /host part after '@' is empty/],
    ["ap p@host", /may hold only letters/],
    ["app@ho st", /host part 'ho st'/],
    [`a@${"h".repeat(300)}`, /at most 255/],
  ];
  for (const [input, re] of cases) {
    assert.throws(
      () => parseNodeName(input),
      (e: unknown) => e instanceof NodeNameError && re.test(e.message),
      input,
    );
  }
});

Deno.test("localNodeNameFor() gives a per-process name of the target's kind", () => {
  const long = localNodeNameFor(parseNodeName("app@10.0.0.1"), "10.0.0.2");
  const short = localNodeNameFor(parseNodeName("app@box"));
  assert.match(long, /^erlmesh-\d+-[0-9a-z]+@/);
  assert.equal(parseNodeName(long).kind, "long");
  assert.equal(parseNodeName(short).kind, "short");
  assert.equal(long.split("@")[0], short.split("@")[0]);
});

Deno.test("acceptsPeerHost() follows net_kernel: long names need a dot or an IP, short names no dot", () => {
  assert.equal(acceptsPeerHost("long", "app-0.app.default.svc.cluster.local"), true);
  assert.equal(acceptsPeerHost("long", "10.0.0.7"), true);
  assert.equal(acceptsPeerHost("long", "::1"), true);
  assert.equal(acceptsPeerHost("long", "vm"), false);
  assert.equal(acceptsPeerHost("short", "vm"), true);
  assert.equal(acceptsPeerHost("short", "127.0.0.1"), false);
  assert.equal(acceptsPeerHost("short", "app-0.app"), false);
  // A node's own kind and the peers it accepts agree for every host it can have.
  for (const host of ["vm", "10.0.0.7", "a.b"]) assert.equal(acceptsPeerHost(hostKind(host), host), true);
});

Deno.test("aliveMatcher() matches '*' as any run of characters and everything else literally", () => {
  assert.equal(aliveMatcher("app")("app"), true);
  assert.equal(aliveMatcher("app")("app2"), false);
  assert.equal(aliveMatcher("*")("anything"), true);
  assert.equal(aliveMatcher("app*")("app-2"), true);
  assert.equal(aliveMatcher("a.p*")("axp"), false);
  assert.equal(aliveMatcher("a+b*")("a+bc"), true);
});

Deno.test("isLocalAlias() takes a loopback name for the local node, but two loopback addresses for two nodes", () => {
  assert.equal(isLocalAlias("app@vm", "app@127.0.0.1"), true);
  assert.equal(isLocalAlias("app@10.0.0.7", "app@localhost"), true);
  assert.equal(isLocalAlias("app@127.0.0.1", "app@127.0.0.1"), true);
  assert.equal(isLocalAlias("app@127.0.0.1", "app@127.0.0.2"), false);
  assert.equal(isLocalAlias("app@vm", "other@127.0.0.1"), false);
});
