/**
 * Reaping orphaned processes, as PID 1 must: the kernel hands every orphan in the container to PID 1,
 * and one that is never waited for stays a zombie. Deno waits only for its own children, so this asks
 * libc directly (FFI, `--allow-ffi`), and never reaps the children Deno waits for itself.
 */
import { every } from "../bytes/timer.ts";

const P_ALL = 0;
const WEXITED = 4;
const WNOHANG = 1;
const WNOWAIT = 0x01000000;
const PR_SET_CHILD_SUBREAPER = 36;
/** Offset of `si_pid` in Linux's `siginfo_t` on 64-bit targets. */
const SI_PID_OFFSET = 16;

type Libc = {
  symbols: {
    waitid: (idtype: number, id: number, info: Uint8Array, options: number) => number;
    waitpid: (pid: number, status: Uint8Array, options: number) => number;
    prctl: (option: number, arg2: bigint, arg3: bigint, arg4: bigint, arg5: bigint) => number;
  };
  close(): void;
};

/** Reaps orphans handed to this process; see {@link startReaper}. */
export interface Reaper {
  /** How many orphans were reaped. */
  readonly reaped: number;
  /** Reaps what is waiting now. */
  reapNow(): void;
  /** Stops listening for SIGCHLD. */
  stop(): void;
}

/**
 * Makes this process a child subreaper (so orphans come to it even when it is not PID 1) and reaps
 * exited orphans on every SIGCHLD. `own` says which pids belong to Deno (never reaped here).
 * Returns undefined, with the reason, when libc cannot be reached (no `--allow-ffi`, not Linux).
 */
export function startReaper(own: () => Set<number>): { reaper?: Reaper; why?: string } {
  let libc: Libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      waitid: { parameters: ["i32", "i32", "buffer", "i32"], result: "i32" },
      waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
      prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
    }) as unknown as Libc;
  } catch (err) {
    return { why: err instanceof Error ? err.message : String(err) };
  }
  libc.symbols.prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n);
  const info = new Uint8Array(128);
  const view = new DataView(info.buffer);
  const status = new Uint8Array(4);
  let reaped = 0;
  const reapNow = () => {
    for (let i = 0; i < 1000; i++) {
      info.fill(0);
      if (libc.symbols.waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT) !== 0) return;
      const pid = view.getInt32(SI_PID_OFFSET, true);
      if (pid <= 0 || own().has(pid)) return; // nothing, or Deno's own child: Deno reaps it
      if (libc.symbols.waitpid(pid, status, WNOHANG) === pid) reaped++;
    }
  };
  const onChild = () => reapNow();
  Deno.addSignalListener("SIGCHLD", onChild);
  const stopTimer = every(1000, reapNow);
  return {
    reaper: {
      get reaped() {
        return reaped;
      },
      reapNow,
      stop() {
        Deno.removeSignalListener("SIGCHLD", onChild);
        stopTimer();
        libc.close();
      },
    },
  };
}
