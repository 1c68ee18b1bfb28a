/**
 * A CPU limit for processes started by tests and benchmarks, as Kubernetes gives a container
 * (`resources.limits.cpu`): a cgroup v1 `cpu` group with `cpu.cfs_quota_us` = millicores × period / 1000.
 *
 * The process joins the group before it execs its command (`sh -c 'echo $$ > …/cgroup.procs; exec …'`),
 * so it is limited from its first instruction, and inside a pod too: cgroup membership survives the
 * `ip netns exec` that follows. Group names carry the run's prefix and pid; {@link cleanupStaleCgroups}
 * removes those of dead runs.
 *
 * @example
 * ```ts ignore
 * await using limit = await createCpuLimit("agent", 100);
 * const cmd = limit.wrap(net.command("app-0", ["erlmesh", "agent"]));
 * // … spawn cmd, stop it …
 * (await limit.stat()).nrThrottled > 0; // the limit applied
 * ```
 *
 * @module
 */

import { isRoot, pidAlive } from "./_process.ts";
import { RUN_PREFIX } from "./prefix.ts";

/** Where cgroup v1 mounts the `cpu` controller. */
export const CPU_CGROUP_ROOT = "/sys/fs/cgroup/cpu";

const PERIOD_US = 100_000;

/** Why CPU limits cannot be set here, or undefined when they can. */
export function cpuLimitUnavailableReason(): string | undefined {
  if (!isRoot()) return "cgroups need root";
  try {
    Deno.statSync(`${CPU_CGROUP_ROOT}/cpu.cfs_quota_us`);
  } catch {
    return `no cgroup v1 'cpu' controller at '${CPU_CGROUP_ROOT}'`;
  }
  return undefined;
}

/** What `cpu.stat` says about a group. */
export interface CpuStat {
  /** Enforcement periods that elapsed. */
  nrPeriods: number;
  /** Periods in which the group was throttled (> 0: the limit applied). */
  nrThrottled: number;
  /** Total time throttled, ns. */
  throttledTimeNs: number;
}

const NAME_PATTERN = /^erlmesh-em[a-z0-9]{4}-p(\d+)-/;

/** A cgroup with a CPU limit; see {@link createCpuLimit}. */
export class CpuLimit implements AsyncDisposable {
  /** The group's directory under {@link CPU_CGROUP_ROOT}. */
  readonly dir: string;
  /** The limit, in millicores. */
  readonly millicores: number;
  #removed: Promise<void> | undefined;

  /** @internal use {@link createCpuLimit} */
  constructor(dir: string, millicores: number) {
    this.dir = dir;
    this.millicores = millicores;
  }

  /** `cmd` preceded by a shell that moves itself into the group, then execs `cmd` (same pid). */
  wrap(cmd: string[]): string[] {
    return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', this.dir, ...cmd];
  }

  /** The group's `cpu.stat`. */
  async stat(): Promise<CpuStat> {
    const text = await Deno.readTextFile(`${this.dir}/cpu.stat`);
    const get = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
    return {
      nrPeriods: get("nr_periods"),
      nrThrottled: get("nr_throttled"),
      throttledTimeNs: get("throttled_time"),
    };
  }

  /** The pids in the group now. */
  async pids(): Promise<number[]> {
    const text = await Deno.readTextFile(`${this.dir}/cgroup.procs`).catch(() => "");
    return text.split("\n").filter((l) => l.trim()).map(Number);
  }

  /**
   * Kills what is still in the group (SIGKILL) and removes it. Idempotent; an error names the group
   * when it cannot be removed within 5 s.
   */
  remove(): Promise<void> {
    this.#removed ??= removeGroup(this.dir);
    return this.#removed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }
}

async function removeGroup(dir: string): Promise<void> {
  const end = Date.now() + 5000;
  for (;;) {
    let pids: number[] = [];
    try {
      pids = (await Deno.readTextFile(`${dir}/cgroup.procs`)).split("\n").filter((l) => l.trim()).map(
        Number,
      );
    } catch {
      return; // gone
    }
    for (const pid of pids) {
      if (pid === Deno.pid) continue;
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    try {
      await Deno.remove(dir); // rmdir: a cgroup directory is removed empty of processes
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      if (Date.now() > end) {
        throw new Error(`Cannot remove cgroup '${dir}': ${e instanceof Error ? e.message : e}`);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Removes the groups of runs whose process is dead (named `erlmesh-<run>-p<pid>-…`). Never fails;
 * returns the groups removed.
 */
export async function cleanupStaleCgroups(): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(CPU_CGROUP_ROOT)) {
      const m = NAME_PATTERN.exec(e.name);
      if (!e.isDirectory || !m || Number(m[1]) === Deno.pid || pidAlive(Number(m[1]))) continue;
      await removeGroup(`${CPU_CGROUP_ROOT}/${e.name}`).then(() => removed.push(e.name), () => {});
    }
  } catch { /* no controller */ }
  return removed;
}

let nextId = 0;

/**
 * Creates a cgroup limited to `millicores` (100 = a tenth of a core: quota 10 ms per 100 ms period),
 * named `erlmesh-<run>-p<pid>-<what>-<n>`. Remove it with `remove()` or `await using`.
 */
export async function createCpuLimit(what: string, millicores: number): Promise<CpuLimit> {
  const why = cpuLimitUnavailableReason();
  if (why) throw new Error(`Cannot create a CPU limit: ${why}`);
  if (!Number.isInteger(millicores) || millicores < 1) {
    throw new Error(`Cannot create a CPU limit of '${millicores}' millicores: expected a positive integer`);
  }
  if (!/^[a-z0-9-]{1,40}$/.test(what)) {
    throw new Error(`Cannot create a CPU limit named '${what}': expected lowercase letters, digits and '-'`);
  }
  await cleanupStaleCgroups();
  const dir = `${CPU_CGROUP_ROOT}/erlmesh-${RUN_PREFIX}-p${Deno.pid}-${what}-${nextId++}`;
  await Deno.mkdir(dir);
  const limit = new CpuLimit(dir, millicores);
  try {
    await Deno.writeTextFile(`${dir}/cpu.cfs_period_us`, String(PERIOD_US));
    await Deno.writeTextFile(`${dir}/cpu.cfs_quota_us`, String(Math.round((millicores * PERIOD_US) / 1000)));
  } catch (e) {
    await limit.remove().catch(() => {});
    throw e;
  }
  return limit;
}
