import assert from "node:assert/strict";
import { UsageError } from "./errors.ts";
import {
  type CommandDef,
  configFlags,
  configOptions,
  durationValue,
  helpText,
  parseCommandLine,
  sniffOutput,
  usageLine,
} from "./options.ts";

const PING: CommandDef = {
  name: "ping",
  summary: "check nodes",
  args: [{ name: "NODE", help: "node names", required: true, variadic: true }],
  options: [
    { long: "timeout", arg: "duration", key: "timeout", help: "deadline" },
    ...configOptions(["cookieFile", "service"]),
  ],
};

const RUN: CommandDef = {
  name: "run",
  summary: "start the release",
  args: [{ name: "CMD", help: "the command", required: true, variadic: true }],
  options: [{ long: "once", key: "once", help: "one pass" }, ...configOptions(["interval"])],
  passThrough: true,
};

const MESH: CommandDef = {
  name: "mesh",
  summary: "mesh",
  args: [],
  options: [
    { long: "nodes", arg: "list", key: "nodes", help: "nodes", repeat: true },
    ...configOptions(["hosts"]),
  ],
  conflicts: [["nodes", "hosts"]],
};

function usageError(pattern: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  };
}

Deno.test("parseCommandLine() reads --name value, --name=value, -o json, -ojson and switches", () => {
  const p = parseCommandLine(PING, ["a@h", "--timeout", "5s", "--cookie-file=/c", "-ojson", "b@h", "-v"]);
  assert.deepEqual(p.args, ["a@h", "b@h"]);
  assert.equal(p.values.timeout, "5s");
  assert.equal(p.values.cookieFile, "/c");
  assert.equal(p.output, "json");
  assert.equal(p.verbose, true);
  assert.equal(parseCommandLine(PING, ["a@h", "-o", "text"]).output, "text");
});

Deno.test("parseCommandLine() appends a repeated list option and keeps the last scalar", () => {
  const p = parseCommandLine(PING, [
    "a@h",
    "--service",
    "a",
    "--service",
    "b",
    "--timeout",
    "1s",
    "--timeout",
    "2s",
  ]);
  assert.equal(p.values.service, "a,b");
  assert.equal(p.values.timeout, "2s");
});

Deno.test("parseCommandLine() names an unknown option, with a suggestion when one is close", () => {
  assert.throws(
    () => parseCommandLine(PING, ["a@h", "--timout", "5s"]),
    usageError(/^Unknown option '--timout' for 'erlmesh ping': did you mean '--timeout'\?$/),
  );
  assert.throws(
    () => parseCommandLine(PING, ["a@h", "--interval", "5s"]),
    usageError(/Unknown option '--interval' for 'erlmesh ping': run 'erlmesh ping --help' for its options/),
  );
  assert.throws(() => parseCommandLine(PING, ["a@h", "-x"]), usageError(/Unknown option '-x'/));
});

Deno.test("parseCommandLine() refuses a missing value, a value given to a switch, and a bad --output", () => {
  assert.throws(
    () => parseCommandLine(PING, ["a@h", "--timeout"]),
    usageError(/^Missing value for --timeout: expected <duration>/),
  );
  assert.throws(() => parseCommandLine(RUN, ["--once=yes", "x"]), usageError(/--once takes no value/));
  assert.throws(
    () => parseCommandLine(PING, ["a@h", "-o", "yaml"]),
    usageError(/^Invalid --output 'yaml': expected 'text' or 'json'$/),
  );
});

Deno.test("parseCommandLine() checks positional arguments against the command's usage", () => {
  assert.throws(
    () => parseCommandLine(PING, []),
    usageError(
      /^Missing NODE for 'erlmesh ping': expected node names \(usage: erlmesh ping \[options\] NODE\.\.\.\)$/,
    ),
  );
  assert.throws(
    () => parseCommandLine(MESH, ["extra"]),
    usageError(/^Unexpected argument 'extra' for 'erlmesh mesh': expected no arguments/),
  );
});

Deno.test("parseCommandLine() refuses conflicting options by name", () => {
  assert.throws(
    () => parseCommandLine(MESH, ["--nodes", "a@h", "--hosts", "h"]),
    usageError(/^Conflicting options --nodes and --hosts for 'erlmesh mesh': expected one of them$/),
  );
  assert.doesNotThrow(() => parseCommandLine(MESH, ["--nodes", "a@h", "--nodes", "b@h"]));
});

Deno.test("parseCommandLine() of a pass-through command stops at the first argument or at --", () => {
  const p = parseCommandLine(RUN, ["--interval", "2s", "bin/app", "foreground", "--once", "-x"]);
  assert.deepEqual(p.args, ["bin/app", "foreground", "--once", "-x"]);
  assert.equal(p.values.once, undefined);
  const q = parseCommandLine(RUN, ["--once", "--", "--weird-name", "-v"]);
  assert.deepEqual(q.args, ["--weird-name", "-v"]);
  assert.equal(q.values.once, true);
  assert.equal(q.verbose, false);
  assert.throws(() => parseCommandLine(RUN, ["--once"]), usageError(/^Missing CMD for 'erlmesh run'/));
});

Deno.test("parseCommandLine() with --help skips the checks of arguments", () => {
  const p = parseCommandLine(PING, ["--help"]);
  assert.equal(p.help, true);
});

Deno.test("sniffOutput() finds the output format even in a command line that does not parse", () => {
  assert.equal(sniffOutput(["nodes", "--bogus", "-o", "json"]), "json");
  assert.equal(sniffOutput(["nodes", "--output=json"]), "json");
  assert.equal(sniffOutput(["nodes", "-ojson"]), "json");
  assert.equal(sniffOutput(["run", "--", "app", "-o", "json"]), "text");
  assert.equal(sniffOutput(["nodes"]), "text");
});

Deno.test("durationValue() takes the one duration syntax and names the option and the range", () => {
  assert.equal(durationValue("5s", "--timeout", 1, 60_000), 5000);
  assert.equal(durationValue("1500", "--timeout", 1, 60_000), 1500);
  assert.equal(durationValue("1.5s", "--timeout", 1, 60_000), 1500);
  assert.throws(
    () => durationValue("soon", "--probe-timeout", 1, 60_000),
    usageError(/^Invalid --probe-timeout 'soon': expected a duration from 1ms to 1m such as 500ms, 5s or 1m/),
  );
  assert.throws(() => durationValue("2m", "--probe-timeout", 1, 60_000), usageError(/from 1ms to 1m/));
});

Deno.test("helpText() shows the usage, the arguments and only the command's own options", () => {
  const text = helpText(PING);
  assert.match(text, /^Usage: erlmesh ping \[options\] NODE\.\.\.\n\nCheck nodes\n/);
  assert.match(text, /Arguments:\n {2}NODE\.\.\. +node names/);
  assert.match(text, /--timeout <duration>/);
  assert.match(text, /--cookie-file <path>/);
  assert.match(text, /--service <names>.*repeat to add/s);
  assert.match(text, /-o, --output <format>/);
  assert.doesNotMatch(text, /--interval/);
  assert.equal(usageLine(RUN), "erlmesh run [options] -- CMD...");
});

Deno.test("configFlags() keeps configuration keys and --config, and drops the command's own options", () => {
  const p = parseCommandLine(PING, ["a@h", "--timeout", "1s", "--cookie-file", "/c", "--service", "s"]);
  assert.deepEqual(configFlags(p.values), { cookieFile: "/c", service: "s" });
});
