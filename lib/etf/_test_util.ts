// Helpers shared by the ETF tests.
import { EtfDecodeError } from "./errors.ts";

/** Bytes from a hex string (spaces allowed). */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Lower-case hex of bytes. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Runs `fn`, which must throw an EtfDecodeError, and returns it. */
export function decodeError(fn: () => unknown): EtfDecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof EtfDecodeError) return e;
    throw new Error(`Expected an EtfDecodeError, got ${e}`, { cause: e });
  }
  throw new Error("Expected an EtfDecodeError, nothing was thrown");
}

/** True when an `erl` executable is on PATH. */
export function hasProgram(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
