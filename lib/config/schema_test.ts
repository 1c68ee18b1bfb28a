import assert from "node:assert/strict";
import fc from "fast-check";
import { CONFIG_KEY_NAMES, CONFIG_KEYS } from "./schema.ts";
import { formatDuration, parseBoolean, parseDuration, splitList, ValueProblem } from "./values.ts";

Deno.test("parseDuration() reads ms, s, m, h and bare milliseconds", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("2s"), 2000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("1m"), 60_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("1000"), 1000);
  assert.equal(parseDuration(" 2S "), 2000);
  for (const bad of ["", "5x", "1.5", "-1s", "s", "1.0001s", "2 s", "1e3"]) {
    assert.throws(() => parseDuration(bad), ValueProblem, bad);
  }
});

Deno.test("formatDuration() and parseDuration() round-trip every whole number of milliseconds", () => {
  fc.assert(
    fc.property(fc.nat({ max: Math.floor(Number.MAX_SAFE_INTEGER / 3_600_000) }), (ms) => {
      assert.equal(parseDuration(formatDuration(ms)), ms);
      assert.equal(parseDuration(String(ms)), ms);
      assert.equal(parseDuration(`${ms}ms`), ms);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom("s", "m", "h"), (n, unit) => {
      const ms = parseDuration(`${n}${unit}`);
      assert.equal(ms, n * { s: 1000, m: 60_000, h: 3_600_000 }[unit]);
      assert.equal(parseDuration(formatDuration(ms)), ms);
      assert.ok(formatDuration(ms).length <= `${n}${unit}`.length, "the largest unit is chosen");
    }),
  );
  assert.equal(formatDuration(2000), "2s");
  assert.equal(formatDuration(1500), "1500ms");
  assert.equal(formatDuration(120_000), "2m");
  assert.equal(formatDuration(0), "0ms");
});

Deno.test("parseBoolean() accepts true/false/1/0/yes/no in any case", () => {
  for (const t of ["true", "1", "yes", "YES", " True "]) assert.equal(parseBoolean(t), true);
  for (const f of ["false", "0", "no", "No"]) assert.equal(parseBoolean(f), false);
  assert.throws(
    () => parseBoolean("maybe"),
    (e) => e instanceof ValueProblem && /yes or no/.test(e.expected),
  );
});

Deno.test("splitList() reads comma, space, quoted, Erlang-list and JSON-array forms", () => {
  const cases: [string, string[]][] = [
    ["host1,host2", ["host1", "host2"]],
    ["host1 host2", ["host1", "host2"]],
    ["host1, host2\nhost3", ["host1", "host2", "host3"]],
    ["['host1','host2']", ["host1", "host2"]],
    ['["host1", "host2"]', ["host1", "host2"]],
    ["[host1, host2]", ["host1", "host2"]],
    ['"app.default.svc.cluster.local"', ["app.default.svc.cluster.local"]],
    ["['app.ns.svc.cluster.local']", ["app.ns.svc.cluster.local"]],
    ["[]", []],
    ["", []],
    [" , ,", []],
  ];
  for (const [text, want] of cases) assert.deepEqual(splitList(text), want, text);
  for (const bad of ["['a'", "['a]", "[a", "a'b", "[[a]]"]) {
    assert.throws(() => splitList(bad), ValueProblem, bad);
  }
});

Deno.test("splitList() round-trips host lists in every written form", () => {
  const host = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/);
  fc.assert(
    fc.property(fc.array(host, { maxLength: 6 }), (hosts) => {
      assert.deepEqual(splitList(hosts.join(",")), hosts);
      assert.deepEqual(splitList(hosts.join(" ")), hosts);
      assert.deepEqual(splitList(`[${hosts.map((h) => `'${h}'`).join(",")}]`), hosts);
      assert.deepEqual(splitList(JSON.stringify(hosts)), hosts);
    }),
  );
});

Deno.test("the key table derives flag and env names, has no cookie key and a doc for every key", () => {
  assert.equal(CONFIG_KEYS.srvPortName.flag, "--srv-port-name");
  assert.equal(CONFIG_KEYS.srvPortName.env, "ERLMESH_SRV_PORT_NAME");
  assert.equal(CONFIG_KEYS.cookieFile.env, "ERLMESH_COOKIE_FILE");
  assert.deepEqual(CONFIG_KEYS.service.aliases, ["K8S_HEADLESS_SVC"]);
  assert.deepEqual(CONFIG_KEYS.hosts.aliases, ["WORLD_LIST"]);
  assert.deepEqual(CONFIG_KEYS.epmdPort.aliases, ["ERL_EPMD_PORT"]);
  assert.ok(!CONFIG_KEY_NAMES.some((k) => k.toLowerCase() === "cookie"));
  for (const key of CONFIG_KEY_NAMES) {
    const spec = CONFIG_KEYS[key];
    assert.equal(spec.key, key);
    assert.match(spec.doc, /^[A-Z].*[^.]$/, `${key} doc: capital first letter, no final period`);
    assert.ok(spec.defaultDoc.length > 0, key);
    assert.ok(spec.type.expected.length > 0, key);
  }
});
