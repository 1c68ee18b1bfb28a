import nodeAssert from "node:assert/strict";
import { erlmesh } from "./_cli.ts";
import { EpmdError, type EpmdErrorCode, names, portPlease } from "../lib/epmd/mod.ts";

const assert: (value: unknown, message?: string) => asserts value = nodeAssert.ok;

/** Whether `program` is an executable file somewhere on PATH. */
function onPath(program: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/${program}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch { /* not here */ }
  }
  return false;
}

const hasErl = onPath("erl") && onPath("epmd");
if (!hasErl) {
  console.warn("SKIPPED tests/epmd_real_test.ts: 'erl' or 'epmd' is not on PATH (install erlang-base)");
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** A real OTP node on 127.0.0.1 with its own EPMD on a private port. */
interface RealNode extends AsyncDisposable {
  /** The alive part of the node name. */
  alive: string;
  /** The full node name, `alive@127.0.0.1`. */
  node: string;
  /** The port of the node's private EPMD. */
  epmdPort: number;
  /** The cookie, read from `HOME/.erlang.cookie` by the node (never on argv). */
  cookie: string;
  /** Stops the node, kills its EPMD and removes the temporary HOME. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts `erl -name <alive>@127.0.0.1` with its own EPMD port (ERL_EPMD_PORT) and its own HOME holding a
 * random cookie of mode 0400, and waits until that EPMD lists it (deadline 20 s). Cleans up on failure.
 */
async function startRealNode(): Promise<RealNode> {
  const alive = `epmdt${randomHex(4)}`;
  const epmdPort = freePort();
  const cookie = randomHex(16).toUpperCase();
  const home = await Deno.makeTempDir({ prefix: "erlmesh_epmd_" });
  await Deno.writeTextFile(`${home}/.erlang.cookie`, cookie);
  await Deno.chmod(`${home}/.erlang.cookie`, 0o400);
  const env = { ERL_EPMD_PORT: String(epmdPort), HOME: home };
  const child = new Deno.Command("erl", {
    args: ["-noshell", "-noinput", "-name", `${alive}@127.0.0.1`],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await output.catch(() => undefined);
      // EPMD refuses -kill while nodes are registered; the node's registration goes away with its socket.
      for (let attempt = 0; attempt < 20; attempt++) {
        const kill = await new Deno.Command("epmd", {
          args: ["-port", String(epmdPort), "-kill"],
          env,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(kill.stdout) + new TextDecoder().decode(kill.stderr);
        if (/Killed|no running epmd|Cannot connect/i.test(text)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await Deno.remove(home, { recursive: true }).catch(() => undefined);
    })();
    return stopped;
  };

  try {
    const deadline = Date.now() + 20_000;
    let wait = 50;
    while (true) {
      const status = await Promise.race([
        output.then(() => "exited"),
        new Promise((r) => setTimeout(r, 0, "running")),
      ]);
      if (status === "exited") {
        const out = await output;
        throw new Error(
          `erl exited early: ${new TextDecoder().decode(out.stderr)}${new TextDecoder().decode(out.stdout)}`,
        );
      }
      try {
        const { nodes } = await names("127.0.0.1", { port: epmdPort, timeoutMs: 1000 });
        if (nodes.some((n) => n.name === alive)) break;
      } catch (err) {
        if (!(err instanceof EpmdError)) throw err;
      }
      if (Date.now() > deadline) {
        throw new Error(`EPMD on port ${epmdPort} did not list ${alive} within 20 s`);
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 1000);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { alive, node: `${alive}@127.0.0.1`, epmdPort, cookie, stop, [Symbol.asyncDispose]: stop };
}

async function expectCode(p: Promise<unknown>, code: EpmdErrorCode): Promise<EpmdError> {
  try {
    await p;
  } catch (err) {
    assert(err instanceof EpmdError, String(err));
    nodeAssert.equal(err.code, code, err.message);
    return err;
  }
  throw new Error(`expected EpmdError ${code}, the call succeeded`);
}

Deno.test({
  name: "names() and portPlease() against a real OTP node and its EPMD",
  ignore: !hasErl,
  async fn(t) {
    await using node = await startRealNode();
    const options = { port: node.epmdPort, timeoutMs: 5000 };

    let distPort = 0;
    await t.step("names() lists the node with its port", async () => {
      const listed = await names("127.0.0.1", options);
      nodeAssert.equal(listed.epmdPort, node.epmdPort);
      const entry = listed.nodes.find((n) => n.name === node.alive);
      assert(entry, JSON.stringify(listed));
      assert(entry.port > 0 && entry.port <= 65535);
      distPort = entry.port;
    });

    await t.step("portPlease() returns the same port and version 6", async () => {
      const found = await portPlease("127.0.0.1", node.alive, options);
      nodeAssert.equal(found.name, node.alive);
      nodeAssert.equal(found.port, distPort);
      nodeAssert.equal(found.highestVersion, 6);
      assert(found.lowestVersion <= 6, String(found.lowestVersion));
      nodeAssert.equal(found.protocol, 0);
      nodeAssert.equal(found.nodeType, 77);
    });

    await t.step("portPlease() of an unknown name is NOT_REGISTERED", async () => {
      const err = await expectCode(portPlease("127.0.0.1", `${node.alive}x`, options), "NOT_REGISTERED");
      nodeAssert.equal(
        err.message,
        `Cannot resolve '${node.alive}x' on 127.0.0.1:${node.epmdPort}: EPMD answered PORT2_RESP with result 1 (not registered)`,
      );
    });

    await t.step("portPlease() of a 255-byte name gets no reply from EPMD", async () => {
      await expectCode(portPlease("127.0.0.1", "x".repeat(255), options), "NO_REPLY");
    });

    await t.step(
      "erlmesh names honours ERL_EPMD_PORT (read by its configuration, not the client)",
      async () => {
        const out = await erlmesh(["names", "-o", "json"], { ERL_EPMD_PORT: String(node.epmdPort) });
        assert(out.code === 0, out.stderr);
        const listed = JSON.parse(out.stdout);
        nodeAssert.equal(listed.epmdPort, node.epmdPort);
        assert(listed.nodes.some((n: { name: string }) => n.name === node.alive), JSON.stringify(listed));
      },
    );
  },
});

Deno.test({
  name: "names() on a port where nothing listens is REFUSED and says nothing listens there",
  async fn() {
    const port = freePort();
    const err = await expectCode(names("127.0.0.1", { port, timeoutMs: 2000 }), "REFUSED");
    nodeAssert.equal(
      err.message,
      `Cannot list nodes on 127.0.0.1:${port}: nothing listens on 127.0.0.1:${port} (connection refused): ` +
        "is EPMD running there, and on this port (ERL_EPMD_PORT)?",
    );
  },
});

Deno.test({
  name: "names() and portPlease() at a real HTTP server's port are NOT_EPMD",
  async fn() {
    const ctl = new AbortController();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: ctl.signal, onListen: () => {} },
      () => new Response("hello"),
    );
    try {
      const options = { port: server.addr.port, timeoutMs: 5000 };
      const a = await expectCode(names("127.0.0.1", options), "NOT_EPMD");
      assert(a.message.includes("the port answered NAMES_REQ like an HTTP server ('HTTP/1.1 "), a.message);
      const b = await expectCode(portPlease("127.0.0.1", "app", options), "NOT_EPMD");
      assert(b.message.includes("PORT_PLEASE2_REQ like an HTTP server"), b.message);
    } finally {
      ctl.abort();
      await server.finished;
    }
  },
});

Deno.test({
  name: "names() at a real OTP node's distribution port is NOT_EPMD",
  ignore: !hasErl,
  async fn() {
    await using node = await startRealNode();
    const listed = await names("127.0.0.1", { port: node.epmdPort, timeoutMs: 5000 });
    const distPort = listed.nodes.find((n) => n.name === node.alive)!.port;
    const err = await expectCode(names("127.0.0.1", { port: distPort, timeoutMs: 5000 }), "NOT_EPMD");
    assert(
      err.message.includes("closed the connection without answering NAMES_REQ, which EPMD always answers"),
      err.message,
    );
  },
});
