/** Small helpers to run commands and to manage child processes. Private to the harness. */

/** Result of {@link run}. */
export interface RunResult {
  code: number;
  success: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to completion, capturing its output. Never throws for a non-zero exit. */
export async function run(
  cmd: string[],
  options: { env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.code,
      success: out.success,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `cmd` and throws an error with its output when it fails. Returns stdout. */
export async function runOk(
  cmd: string[],
  options: { env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<string> {
  const r = await run(cmd, options);
  if (!r.success) {
    throw new Error(
      `Cannot run '${cmd.join(" ")}': exit code ${r.code}: ${(r.stderr || r.stdout).trim()}`,
    );
  }
  return r.stdout;
}

/** Whether an executable named `name` is on PATH (or is an existing absolute path). */
export function hasProgram(name: string): boolean {
  const candidates = name.includes("/")
    ? [name]
    : (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").map((d) => `${d}/${name}`);
  for (const c of candidates) {
    try {
      const st = Deno.statSync(c);
      if (st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch { /* not here */ }
  }
  return false;
}

/** Whether this process runs as root. */
export function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

/** Whether a process with this pid exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the child's status, or `undefined` when it has not exited within `ms`. */
export async function statusWithin(
  child: Deno.ChildProcess,
  ms: number,
): Promise<Deno.CommandStatus | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([child.status, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `signal` to the child, ignoring "already exited" errors. */
export function tryKill(child: Deno.ChildProcess, signal: Deno.Signal = "SIGKILL"): void {
  try {
    child.kill(signal);
  } catch { /* already exited */ }
}

/** A running line reader over a byte stream; see {@link readLines}. */
export interface LineReader {
  /** Resolves when the stream has ended (or was cancelled). */
  done: Promise<void>;
  /** Stops reading and releases the stream. */
  cancel(): Promise<void>;
}

/** Reads a byte stream as text lines, calling `onLine` for each (without the newline). */
export function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): LineReader {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  const done = (async () => {
    let buf = "";
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          onLine(buf.slice(0, nl).replace(/\r$/, ""));
          buf = buf.slice(nl + 1);
        }
      }
    } catch { /* cancelled or broken pipe */ }
    buf += decoder.decode();
    if (buf.length > 0) onLine(buf);
    try {
      reader.releaseLock();
    } catch { /* ignore */ }
  })();
  return {
    done,
    async cancel() {
      try {
        await reader.cancel();
      } catch { /* already released */ }
      await done;
    },
  };
}

/** Appends text to a bounded buffer (keeps the last `max` characters). */
export class TailBuffer {
  #text = "";
  constructor(readonly max = 64 * 1024) {}
  push(s: string): void {
    this.#text += s;
    if (this.#text.length > this.max) this.#text = this.#text.slice(-this.max);
  }
  toString(): string {
    return this.#text;
  }
}

/** Base64 of the UTF-8 bytes of `text`. */
export function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** UTF-8 text from base64. */
export function fromBase64(b64: string): string {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
