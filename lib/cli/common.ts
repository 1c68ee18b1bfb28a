import { redactCookies } from "../dist/cookie.ts";

/** stdout was closed by the reader (`erlmesh … | head`): the command ends quietly. */
export class StdoutClosed extends Error {
  override name = "StdoutClosed";
  constructor() {
    super("stdout was closed by its reader");
  }
}

const enc = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = enc.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/** Writes to stdout; throws {@link StdoutClosed} when the reader has gone. */
export function writeOut(text: string): void {
  try {
    writeAll(Deno.stdout, text);
  } catch (err) {
    if (err instanceof Deno.errors.BrokenPipe) throw new StdoutClosed();
    throw err;
  }
}

/** Writes to stderr; a closed stderr is ignored. */
export function writeErr(text: string): void {
  try {
    writeAll(Deno.stderr, text);
  } catch { /* nowhere left to write */ }
}

/** Writes a line to stdout, cookies redacted. */
export function println(text = ""): void {
  writeOut(redactCookies(text) + "\n");
}

/** Prints a value as JSON on one line. */
export function printJson(value: unknown): void {
  println(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

/** Formats rows as aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** A short description of an error for one line of output: its message, without the cause chain. */
export function errorSummary(err: unknown): { code: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : err.name, message: redactCookies(err.message) };
  }
  return { code: "UNKNOWN", message: redactCookies(String(err)) };
}

/** Milliseconds with one decimal, from a `performance.now()` difference. */
export function ms(d: number): number {
  return Math.round(d * 10) / 10;
}

/** `n thing` or `n things`. */
export function plural(n: number, thing: string, things = `${thing}s`): string {
  return `${n} ${n === 1 ? thing : things}`;
}
