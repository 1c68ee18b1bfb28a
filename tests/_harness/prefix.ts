/**
 * Per-run unique, short name prefixes for namespaces, interfaces and temp files.
 *
 * Every resource the harness creates carries {@link HARNESS_PREFIX} followed by a few random base36
 * characters, so parallel runs never collide and stale resources of crashed runs can be recognised.
 *
 * @module
 */

import { pidAlive } from "./_process.ts";

/** Project prefix shared by every harness resource (namespaces, veths, temp dirs). */
export const HARNESS_PREFIX = "em";

/** Random lowercase base36 string of `length` characters. */
export function randomId(length = 4): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += (b % 36).toString(36);
  return out;
}

/** A new short prefix such as `emk3x9` (6 characters), unique enough for one run. */
export function newPrefix(): string {
  return HARNESS_PREFIX + randomId(4);
}

/** Prefix of this test process, used for temp files and dirs. */
export const RUN_PREFIX: string = newPrefix();

/** Prefix for `Deno.makeTempDir`/`makeTempFile`: `erlmesh-<run>-p<pid>-<what>-`. */
export function tempPrefix(what: string): string {
  return `erlmesh-${RUN_PREFIX}-p${Deno.pid}-${what}-`;
}

const TEMP_PATTERN = /^erlmesh-em[a-z0-9]{4}-p(\d+)-/;
let tempCleanupDone = false;

/**
 * Removes harness temp dirs (in `dirs`) left by crashed runs: those whose owner process (the pid in the
 * name) is dead. Runs once per process; never fails.
 */
export async function cleanupStaleTempDirs(dirs: string[]): Promise<void> {
  if (tempCleanupDone) return;
  tempCleanupDone = true;
  for (const dir of dirs) {
    try {
      for await (const e of Deno.readDir(dir)) {
        const m = TEMP_PATTERN.exec(e.name);
        if (!m || Number(m[1]) === Deno.pid) continue;
        if (pidAlive(Number(m[1]))) continue;
        await Deno.remove(`${dir}/${e.name}`, { recursive: true }).catch(() => {});
      }
    } catch { /* no such dir or no permission */ }
  }
}
