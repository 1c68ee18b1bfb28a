/**
 * Real Erlang/OTP nodes for integration tests.
 *
 * OTP 25 runs from the host (`/usr/bin/erl`); OTP 27 and 29 run from debootstrapped root file systems
 * with `chroot` inside a private mount namespace (`unshare -m`), which needs root. Every node gets a
 * per-node temporary `HOME` holding its `.erlang.cookie` (never `-setcookie` on argv), uses an EPMD the
 * harness manages (`-start_epmd false`), and is driven through a small REPL on its stdin/stdout, so
 * {@link OtpNode.eval} does not touch the node's distribution. Closing stdin halts the node, so nodes
 * do not outlive a crashed test process.
 *
 * @example
 * ```ts
 * await using node = await startNode({ name: "a@127.0.0.1", cookie: randomCookie(), epmdPort: freePort() });
 * console.log(await node.eval("node().")); // 'a@127.0.0.1'
 * ```
 *
 * @module
 */

import {
  fromBase64,
  hasProgram,
  isRoot,
  type LineReader,
  readLines,
  run,
  statusWithin,
  TailBuffer,
  toBase64,
  tryKill,
} from "./_process.ts";
import { cleanupStaleTempDirs, randomId, tempPrefix } from "./prefix.ts";

/** OTP releases the harness can run. */
export type OtpVersion = "25" | "27" | "29";

/** All versions, oldest first. */
export const OTP_VERSIONS: readonly OtpVersion[] = ["25", "27", "29"];

/** Whether one OTP version can be started here, and why not. */
export interface OtpAvailability {
  version: OtpVersion;
  available: boolean;
  /** Why the version is not available (absent when available). */
  why?: string;
}

const ROOT_ENV: Record<"27" | "29", string> = {
  "27": "ERLMESH_OTP27_ROOT",
  "29": "ERLMESH_OTP29_ROOT",
};

/** The chroot root file system for OTP 27/29 (from `ERLMESH_OTP27_ROOT`/`ERLMESH_OTP29_ROOT`). */
export function otpRoot(version: "27" | "29"): string {
  return Deno.env.get(ROOT_ENV[version]) || `/var/cache/erlmesh/otp${version}`;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Availability of one version; see {@link otpVersions}. */
export function otpAvailability(version: OtpVersion): OtpAvailability {
  if (version === "25") {
    for (const p of ["erl", "epmd"]) {
      if (!hasProgram(p)) return { version, available: false, why: `'${p}' is not on PATH` };
    }
    return { version, available: true };
  }
  if (!isRoot()) return { version, available: false, why: "chroot needs root" };
  for (const p of ["unshare", "chroot", "mount", "epmd"]) {
    if (!hasProgram(p)) return { version, available: false, why: `'${p}' is not on PATH` };
  }
  const root = otpRoot(version);
  if (!exists(`${root}/.erlmesh-ready`)) {
    return { version, available: false, why: `root file system '${root}' is not ready (no .erlmesh-ready)` };
  }
  if (!exists(`${root}/usr/bin/erl`)) {
    return { version, available: false, why: `'${root}/usr/bin/erl' does not exist` };
  }
  return { version, available: true };
}

/** Which OTP versions can run here: 25 = host `erl`, 27/29 = chroot roots present and running as root. */
export function otpVersions(): OtpAvailability[] {
  return OTP_VERSIONS.map(otpAvailability);
}

/** The first port of the kernel's ephemeral range (the local ports `connect()` picks from). */
function ephemeralLow(): number {
  try {
    const low = Number(
      Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/)[0],
    );
    return Number.isInteger(low) && low > 11000 ? low : 32768;
  } catch {
    return 32768;
  }
}

const PORTS_FROM = 10000;
const PORTS_BELOW = ephemeralLow();

/**
 * A TCP port that was free on every address a moment ago, chosen at random below the kernel's ephemeral
 * range. A port the kernel hands out for port 0 comes from that range, which is also where every outgoing
 * connection of a busy test run takes its local port: between this check and the caller's bind (an EPMD
 * starting, a node's listener), such a connection could take it (seen once: an EPMD that could not start).
 */
export function freePort(): number {
  for (let i = 0; i < 200; i++) {
    const port = PORTS_FROM + Math.floor(Math.random() * (PORTS_BELOW - PORTS_FROM));
    try {
      Deno.listen({ hostname: "0.0.0.0", port }).close();
      return port;
    } catch { /* in use: another one */ }
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A random 20-letter cookie, like the ones Erlang generates. */
export function randomCookie(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return Array.from(bytes, (b) => String.fromCharCode(65 + (b % 26))).join("");
}

/** Options of {@link startNode}. */
export interface OtpNodeOptions {
  /** OTP release. @default "25" */
  version?: OtpVersion;
  /** Full node name `alive@host`. */
  name: string;
  /** `-name` or `-sname`. @default "long" when the host part contains a dot or a colon, else "short" */
  nameKind?: "long" | "short";
  /** Cookie, written to `.erlang.cookie` (mode 0400) in a per-node temporary HOME. */
  cookie: string;
  /**
   * EPMD port (`ERL_EPMD_PORT`) for this node. The harness starts an EPMD on it (inside `netns`) unless
   * one is listening already, and stops it after the last node using it stops. @default 4369
   */
  epmdPort?: number;
  /** Network namespace to run in (`ip netns exec`). @default the host's */
  netns?: string;
  /** Own UTS hostname for the node (`unshare --uts`). @default the host's */
  hostname?: string;
  /** Extra `erl` arguments, e.g. `["-kernel", "net_ticktime", "8"]`. @default [] */
  args?: string[];
  /** Extra environment variables. @default {} */
  env?: Record<string, string>;
  /**
   * EPMD-less: the node listens on this distribution port and finds its peers on it without EPMD (the
   * flags of {@link epmdLessArgs} for its version); no EPMD is started for it and `epmdPort` is not used.
   * @default with EPMD
   */
  distPort?: number;
  /** Deadline for the node to boot and register with EPMD (or, EPMD-less, to be alive). @default 30000 */
  startTimeoutMs?: number;
}

/**
 * The `erl` flags of a node without EPMD that listens on `port` and dials its peers there: OTP 25
 * `-erl_epmd_port P`; OTP 27 and 29 the kernel parameter `erl_epmd_node_listen_port` that replaced it
 * (`-start_epmd false` is always given by {@link startNode}).
 */
export function epmdLessArgs(version: OtpVersion, port: number): string[] {
  return version === "25"
    ? ["-erl_epmd_port", String(port)]
    : ["-kernel", "erl_epmd_node_listen_port", String(port)];
}

/** A running OTP node; see {@link startNode}. */
export interface OtpNode extends AsyncDisposable {
  /** The node name as started (`alive@host`). */
  readonly name: string;
  /** The OTP release. */
  readonly version: OtpVersion;
  /** PID of the `beam.smp` process (as seen from the host). */
  readonly pid: number;
  /** The EPMD port the node registered with. */
  readonly epmdPort: number;
  /** Network namespace, if any. */
  readonly netns?: string;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /**
   * Evaluates an Erlang expression sequence (e.g. `"nodes(hidden)."`) on the node and returns the value
   * printed with `~0p`. An exception is returned as text starting with `error:` (e.g.
   * `"error:error:badarith"`). Rejects when the evaluation takes longer than `timeoutMs` or the node dies.
   * @default timeoutMs 15000
   */
  eval(expr: string, timeoutMs?: number): Promise<string>;
  /** Halts the node (kills it if it does not exit within a few seconds) and cleans up. Idempotent. */
  stop(): Promise<void>;
  /** Sends a signal to the node's process (default SIGKILL), e.g. for restart scenarios. */
  kill(signal?: Deno.Signal): void;
  /** Resolves with the exit status when the process ends. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Captured stderr and non-REPL stdout (for diagnostics). */
  output(): string;
}

// ---------------------------------------------------------------------------------------------------
// EPMD management: one EPMD per (netns, port), reference counted within this process.

interface EpmdEntry {
  refs: number;
  child?: Deno.ChildProcess;
  stderr?: LineReader;
}

const epmds = new Map<string, EpmdEntry>();
let epmdLock: Promise<unknown> = Promise.resolve();

function withEpmdLock<T>(fn: () => Promise<T>): Promise<T> {
  const p = epmdLock.then(fn);
  epmdLock = p.catch(() => {});
  return p;
}

function nsPrefix(netns?: string): string[] {
  return netns ? ["ip", "netns", "exec", netns] : [];
}

async function epmdRunning(netns: string | undefined, port: number): Promise<boolean> {
  const r = await run([...nsPrefix(netns), "epmd", "-port", String(port), "-names"], { timeoutMs: 5000 });
  return r.success;
}

/** Output of `epmd -names` for that port (in `netns`), or undefined when no EPMD answers. */
export async function epmdNames(port = 4369, netns?: string): Promise<string | undefined> {
  const r = await run([...nsPrefix(netns), "epmd", "-port", String(port), "-names"], { timeoutMs: 5000 });
  return r.success ? r.stdout : undefined;
}

const EPMD_SCRIPT = 'epmd -port "$1" & p=$!; read _ || true; kill "$p" 2>/dev/null; wait "$p"';

async function acquireEpmd(netns: string | undefined, port: number): Promise<void> {
  const key = `${netns ?? ""}:${port}`;
  await withEpmdLock(async () => {
    const entry = epmds.get(key);
    if (entry) {
      entry.refs++;
      return;
    }
    if (await epmdRunning(netns, port)) {
      epmds.set(key, { refs: 1 });
      return;
    }
    if (!netns && port === 4369) {
      // The host's shared EPMD: start it as a daemon like erl would, and leave it running.
      await run(["epmd", "-daemon"]);
      await waitEpmd(netns, port, "epmd -daemon");
      epmds.set(key, { refs: 1 });
      return;
    }
    // A private EPMD: it dies when its stdin closes (also when this process dies).
    const child = new Deno.Command(nsPrefix(netns)[0] ?? "sh", {
      args: [
        ...nsPrefix(netns).slice(1),
        ...(netns ? ["sh"] : []),
        "-c",
        EPMD_SCRIPT,
        "em-epmd",
        String(port),
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const err = new TailBuffer(8192);
    const stderr = readLines(child.stderr, (l) => err.push(l + "\n"));
    const newEntry: EpmdEntry = { refs: 1, child, stderr };
    try {
      await waitEpmd(netns, port, () => err.toString());
    } catch (e) {
      await stopEpmd(newEntry, netns, port);
      throw e;
    }
    epmds.set(key, newEntry);
  });
}

async function waitEpmd(netns: string | undefined, port: number, what: string | (() => string)) {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (await epmdRunning(netns, port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = typeof what === "string" ? what : what();
  throw new Error(`Cannot start EPMD on port ${port}${netns ? ` in netns '${netns}'` : ""}: ${info}`);
}

async function stopEpmd(entry: EpmdEntry, netns: string | undefined, port: number): Promise<void> {
  const child = entry.child;
  if (!child) return;
  try {
    await child.stdin.close();
  } catch { /* already closed */ }
  if (!(await statusWithin(child, 3000))) {
    tryKill(child, "SIGKILL");
    await run([...nsPrefix(netns), "epmd", "-port", String(port), "-kill"], { timeoutMs: 3000 }).catch(
      () => {},
    );
    await child.status;
  }
  await entry.stderr?.cancel();
}

async function releaseEpmd(netns: string | undefined, port: number): Promise<void> {
  const key = `${netns ?? ""}:${port}`;
  await withEpmdLock(async () => {
    const entry = epmds.get(key);
    if (!entry) return;
    if (--entry.refs > 0) return;
    epmds.delete(key);
    await stopEpmd(entry, netns, port);
  });
}

// ---------------------------------------------------------------------------------------------------
// The REPL run on the node. Requests: "ID TIMEOUT_MS BASE64(expr)\n". Replies: "MARK ID ok|error B64\n",
// "MARK ID timeout -\n", and "MARK ready\n" once at start. stdin EOF halts the node.

function replSource(mark: string): string {
  return `
begin
  Mark = "${mark}",
  Out = fun(Parts) -> io:put_chars(standard_io, [Mark, $\\s, Parts, $\\n]) end,
  B64 = fun(Chars) -> base64:encode(unicode:characters_to_binary(Chars)) end,
  Eval = fun(Src) ->
    S = string:trim(Src),
    S1 = case lists:reverse(S) of [$. | _] -> S; _ -> S ++ "." end,
    {ok, Toks, _} = erl_scan:string(S1),
    {ok, Exprs} = erl_parse:parse_exprs(Toks),
    {value, V, _} = erl_eval:exprs(Exprs, erl_eval:new_bindings()),
    V
  end,
  Run = fun(Id, Tmo, Src) ->
    {W, Ref} = spawn_monitor(fun() ->
      R = try {ok, io_lib:format("~0p", [Eval(Src)])}
          catch C:E -> {error, io_lib:format("error:~0p:~0p", [C, E])}
          end,
      exit({em_result, R})
    end),
    receive
      {'DOWN', Ref, process, W, {em_result, {St, Txt}}} ->
        Out([Id, " ", atom_to_list(St), " ", B64(Txt)]);
      {'DOWN', Ref, process, W, Other} ->
        Out([Id, " error ", B64(io_lib:format("error:exit:~0p", [Other]))])
    after Tmo ->
      exit(W, kill),
      Out([Id, " timeout -"])
    end
  end,
  Loop = fun Loop() ->
    case io:get_line(standard_io, "") of
      Line when is_list(Line) ->
        case string:lexemes(Line, " \\r\\n") of
          [Id, Tmo, Src] ->
            spawn(fun() ->
              Run(Id, list_to_integer(Tmo), unicode:characters_to_list(base64:decode(Src)))
            end);
          _ -> ok
        end,
        Loop();
      _ -> erlang:halt(0)
    end
  end,
  spawn(fun() -> Out("ready"), Loop() end)
end.`;
}

// Mounts /proc and binds /etc/hosts and /etc/resolv.conf (the pod's, under `ip netns exec`) into the
// chroot, sets the UTS hostname, then execs the command. Args: ROOT HOSTNAME CMD...
const WRAP_SCRIPT = `
root=$1; host=$2; shift 2
if [ -n "$host" ]; then hostname "$host" || exit 97; fi
if [ -n "$root" ]; then
  mount -t proc proc "$root/proc" || exit 98
  for f in hosts resolv.conf; do
    if [ -e "/etc/$f" ]; then
      if [ -L "$root/etc/$f" ]; then echo "em-node: $root/etc/$f is a symlink" >&2; exit 99; fi
      [ -e "$root/etc/$f" ] || : > "$root/etc/$f"
      mount --bind "/etc/$f" "$root/etc/$f" || exit 99
    fi
  done
  exec chroot "$root" "$@"
fi
exec "$@"
`;

interface Pending {
  resolve: (v: string) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  expr: string;
}

function isIp(host: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(":");
}

class Node implements OtpNode {
  readonly name: string;
  readonly version: OtpVersion;
  readonly pid: number;
  readonly epmdPort: number;
  readonly netns?: string;
  readonly status: Promise<Deno.CommandStatus>;
  readonly ready: Promise<void>;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #mark: string;
  #pending = new Map<string, Pending>();
  #nextId = 1;
  #log = new TailBuffer();
  #readers: LineReader[];
  #exited: Deno.CommandStatus | undefined;
  #stopping: Promise<void> | undefined;
  #cleanup: () => Promise<void>;
  #readyResolve!: () => void;

  constructor(
    init: {
      name: string;
      version: OtpVersion;
      epmdPort: number;
      netns?: string;
      child: Deno.ChildProcess;
      mark: string;
      cleanup: () => Promise<void>;
    },
  ) {
    this.name = init.name;
    this.version = init.version;
    this.epmdPort = init.epmdPort;
    this.netns = init.netns;
    this.#child = init.child;
    this.pid = init.child.pid;
    this.#mark = init.mark;
    this.#cleanup = init.cleanup;
    this.#writer = init.child.stdin.getWriter();
    this.ready = new Promise((resolve) => (this.#readyResolve = resolve));
    this.#readers = [
      readLines(init.child.stdout, (l) => this.#onStdout(l)),
      readLines(init.child.stderr, (l) => this.#log.push(l + "\n")),
    ];
    this.status = init.child.status.then((s) => {
      this.#exited = s;
      const err = new Error(`Node '${this.name}' exited (${describeStatus(s)})${this.#outputSuffix()}`);
      for (const [id, p] of this.#pending) {
        clearTimeout(p.timer);
        this.#pending.delete(id);
        p.reject(err);
      }
      return s;
    });
  }

  get exited(): boolean {
    return this.#exited !== undefined;
  }

  output(): string {
    return this.#log.toString();
  }

  #outputSuffix(): string {
    const out = this.output().trim();
    return out ? `; output:\n${out}` : "";
  }

  #onStdout(line: string): void {
    if (!line.startsWith(this.#mark + " ")) {
      this.#log.push(line + "\n");
      return;
    }
    const [id, status, payload] = line.slice(this.#mark.length + 1).split(" ");
    if (id === "ready") {
      this.#readyResolve();
      return;
    }
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (status === "timeout") {
      p.reject(new Error(`Cannot evaluate on '${this.name}': timed out: ${p.expr}`));
    } else {
      p.resolve(fromBase64(payload ?? ""));
    }
  }

  eval(expr: string, timeoutMs = 15_000): Promise<string> {
    if (this.#exited || this.#stopping) {
      return Promise.reject(new Error(`Cannot evaluate on '${this.name}': node is stopped`));
    }
    const id = String(this.#nextId++);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#pending.delete(id)) {
          reject(new Error(`Cannot evaluate on '${this.name}': no reply within ${timeoutMs} ms: ${expr}`));
        }
      }, timeoutMs + 5000);
      this.#pending.set(id, { resolve, reject, timer, expr });
      const line = `${id} ${Math.max(1, Math.floor(timeoutMs))} ${toBase64(expr)}\n`;
      this.#writer.write(new TextEncoder().encode(line)).catch((e) => {
        if (this.#pending.delete(id)) {
          clearTimeout(timer);
          reject(new Error(`Cannot evaluate on '${this.name}': stdin closed`, { cause: e }));
        }
      });
    });
  }

  kill(signal: Deno.Signal = "SIGKILL"): void {
    if (!this.#exited) tryKill(this.#child, signal);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    try {
      await this.#writer.close();
    } catch { /* process gone */ }
    if (!(await statusWithin(this.#child, 5000))) {
      tryKill(this.#child, "SIGKILL");
    }
    await this.status;
    // Children of beam (erl_child_setup, inet_gethost) may hold the pipes a little longer.
    await Promise.race([
      Promise.all(this.#readers.map((r) => r.done)),
      new Promise((r) => setTimeout(r, 2000)),
    ]);
    await Promise.all(this.#readers.map((r) => r.cancel()));
    await this.#cleanup();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

function describeStatus(s: Deno.CommandStatus): string {
  return s.signal ? `signal ${s.signal}` : `exit code ${s.code}`;
}

/**
 * Starts an OTP node and resolves once it is up and registered with its EPMD (deadline 30 s, then an
 * error that includes the node's output).
 *
 * @example
 * ```ts
 * await using a = await startNode({ name: "a@127.0.0.1", cookie: "C", epmdPort: 43690 });
 * await a.eval("nodes().");
 * ```
 */
export async function startNode(options: OtpNodeOptions): Promise<OtpNode> {
  const version = options.version ?? "25";
  const avail = otpAvailability(version);
  if (!avail.available) throw new Error(`Cannot start OTP ${version} node '${options.name}': ${avail.why}`);
  const at = options.name.indexOf("@");
  if (at <= 0 || at === options.name.length - 1) {
    throw new Error(`Cannot start node '${options.name}': name must be 'alive@host'`);
  }
  const alive = options.name.slice(0, at);
  const host = options.name.slice(at + 1);
  const nameKind = options.nameKind ?? (host.includes(".") || isIp(host) ? "long" : "short");
  const root = version === "25" ? undefined : otpRoot(version);
  const epmdPort = options.epmdPort ?? 4369;
  const distPort = options.distPort;
  const netns = options.netns;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;

  await cleanupStaleTempDirs([
    Deno.env.get("TMPDIR") || "/tmp",
    ...(isRoot() ? [`${otpRoot("27")}/tmp`, `${otpRoot("29")}/tmp`] : []),
  ]);
  const homeHost = await Deno.makeTempDir({
    dir: root ? `${root}/tmp` : undefined,
    prefix: tempPrefix(`home-${alive}`),
  });
  const cookieFile = `${homeHost}/.erlang.cookie`;
  await Deno.writeTextFile(cookieFile, options.cookie, { mode: 0o400 });
  await Deno.chmod(cookieFile, 0o400);
  const homeNode = root ? homeHost.slice(root.length) : homeHost;

  let epmdAcquired = false;
  const cleanup = async () => {
    if (epmdAcquired) {
      epmdAcquired = false;
      await releaseEpmd(netns, epmdPort);
    }
    await Deno.remove(homeHost, { recursive: true }).catch(() => {});
  };

  let node: Node | undefined;
  try {
    if (distPort === undefined) {
      await acquireEpmd(netns, epmdPort);
      epmdAcquired = true;
    }

    const mark = `@@erlmesh-repl-${randomId(8)}`;
    const erlArgs = [
      "-noshell",
      nameKind === "long" ? "-name" : "-sname",
      options.name,
      "-start_epmd",
      "false",
      ...(distPort === undefined ? [] : epmdLessArgs(version, distPort)),
      ...(options.args ?? []),
      "-eval",
      replSource(mark),
    ];
    const erl = root ? "/usr/bin/erl" : "erl";
    let cmd: string[];
    if (root || options.hostname) {
      cmd = [
        "unshare",
        ...(root ? ["-m"] : []),
        ...(options.hostname ? ["--uts"] : []),
        "sh",
        "-c",
        WRAP_SCRIPT,
        "em-node",
        root ?? "",
        options.hostname ?? "",
        erl,
        ...erlArgs,
      ];
    } else {
      cmd = [erl, ...erlArgs];
    }
    cmd = [...nsPrefix(netns), ...cmd];
    const child = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      env: {
        ...(options.env ?? {}),
        HOME: homeNode,
        ...(distPort === undefined ? { ERL_EPMD_PORT: String(epmdPort) } : {}),
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    node = new Node({ name: options.name, version, epmdPort, netns, child, mark, cleanup });
    const n = node;

    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), startTimeoutMs)));
    try {
      const first = await Promise.race([n.ready.then(() => "ready" as const), n.status, deadline]);
      if (first === "timeout") {
        throw new Error(`Cannot start node '${options.name}': not up within ${startTimeoutMs} ms`);
      }
      if (first !== "ready") {
        throw new Error(`Cannot start node '${options.name}': it exited (${describeStatus(first)})`);
      }
      // The REPL runs after the boot, so the node has registered (EPMD-less: its distribution is up and
      // listening); check it anyway.
      if (distPort !== undefined) {
        const up = await Promise.race([
          n.eval(`{erlang:is_alive(), node() =:= '${options.name}', node()}.`, 10_000),
          deadline,
        ]);
        if (up === "timeout" || !up.startsWith("{true,true,")) {
          throw new Error(`Cannot start node '${options.name}': its distribution is not up: ${up}`);
        }
        return n;
      }
      const names = await Promise.race([n.eval("net_adm:names().", 10_000), deadline]);
      if (names === "timeout" || !names.includes(`{"${alive}",`)) {
        throw new Error(
          `Cannot start node '${options.name}': not registered with EPMD on port ${epmdPort}: ${names}`,
        );
      }
    } finally {
      clearTimeout(timer);
    }
    return n;
  } catch (e) {
    const out = node?.output().trim();
    if (node) await node.stop();
    else await cleanup();
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(out ? `${msg}; output:\n${out}` : msg, { cause: e });
  }
}
