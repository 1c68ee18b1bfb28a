import { CookieError } from "./errors.ts";

const REDACTED = "[cookie redacted]";
const seen: Cookie[] = [];

/** Replaces every cookie this process has read with `[cookie redacted]` (for error output). */
export function redactCookies(text: string): string {
  for (const c of seen) text = c.redact(text);
  return text;
}

/**
 * The cookie, held so that it cannot be printed by accident: `String()`, JSON and `Deno.inspect` all
 * give `[cookie redacted]`. Only the handshake reads the value, through {@link Cookie.bytes}.
 */
export class Cookie {
  #value: string;
  /** Where it came from, for error messages: `file /root/.erlang.cookie`, `RELEASE_COOKIE`, … */
  readonly source: string;
  /**
   * Holds `value`, read from `source`. A value of 4 or more characters is also registered for
   * {@link redactCookies}.
   */
  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
    if (value.length >= 4) seen.push(this);
  }
  /** The cookie's bytes (Latin-1, as OTP turns the cookie atom into bytes). */
  bytes(): Uint8Array {
    return Uint8Array.from(this.#value, (c) => c.charCodeAt(0) & 0xff);
  }
  /** True when `text` contains the cookie (for tests and redaction). */
  occursIn(text: string): boolean {
    return text.includes(this.#value);
  }
  /** Replaces every occurrence of the cookie in `text`. */
  redact(text: string): string {
    return this.#value === "" ? text : text.split(this.#value).join(REDACTED);
  }
  /** Always `[cookie redacted]`. */
  toString(): string {
    return REDACTED;
  }
  /** Always `[cookie redacted]`. */
  toJSON(): string {
    return REDACTED;
  }
  /** Always `[cookie redacted]`. */
  [Symbol.for("Deno.customInspect")](): string {
    return REDACTED;
  }
  /** Always `[cookie redacted]`. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }
}

/** Where {@link resolveCookie} may look. Every field is optional; tests pass their own. */
export interface CookieSources {
  /** A file given with `--cookie-file`. */
  cookieFile?: string;
  /** Environment lookup. @default Deno.env.get (absent variables when env access is denied) */
  env?: (name: string) => string | undefined;
  /** The home directory for `~/.erlang.cookie`. @default $HOME */
  home?: string;
}

/** The environment variables read for a cookie, in order. */
export const COOKIE_ENV_VARS = ["RELEASE_COOKIE", "ERLANG_COOKIE", "CLUSTER_ERLANG_COOKIE"] as const;

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Finds the cookie, in this order: `cookieFile`, `RELEASE_COOKIE`, `ERLANG_COOKIE`,
 * `CLUSTER_ERLANG_COOKIE`, `~/.erlang.cookie`, `$XDG_CONFIG_HOME/erlang/.erlang.cookie`.
 * Fails with a {@link CookieError} that lists where it looked, never with the value.
 */
export async function resolveCookie(sources: CookieSources = {}): Promise<Cookie> {
  const env = sources.env ?? safeEnv;
  if (sources.cookieFile !== undefined) return await readCookieFile(sources.cookieFile);
  for (const name of COOKIE_ENV_VARS) {
    const v = env(name);
    if (v !== undefined && v !== "") return checkCookie(v.replace(/[\r\n ]+$/, ""), name);
  }
  const home = sources.home ?? env("HOME");
  const tried: string[] = [];
  const candidates: string[] = [];
  if (home) candidates.push(`${home}/.erlang.cookie`);
  const xdg = env("XDG_CONFIG_HOME") ?? (home ? `${home}/.config` : undefined);
  if (xdg) candidates.push(`${xdg}/erlang/.erlang.cookie`);
  for (const path of candidates) {
    try {
      await Deno.stat(path);
    } catch {
      tried.push(path);
      continue;
    }
    return await readCookieFile(path);
  }
  const looked = [
    "--cookie-file",
    ...COOKIE_ENV_VARS,
    ...(tried.length ? tried : ["~/.erlang.cookie ($HOME is not set)"]),
  ];
  throw new CookieError(
    "NOT_FOUND",
    looked.join(", "),
    `Cannot find the Erlang cookie: looked at ${
      looked.join(", ")
    }; give one with --cookie-file or RELEASE_COOKIE`,
  );
}

/** Options of {@link readCookieFile}. */
export interface ReadCookieFileOptions {
  /**
   * Apply OTP's file rule (kernel `auth.erl`): a regular file that neither group nor others may
   * access (`mode & 0o077` is 0). Off only for files the VM's auth never reads itself, such as an
   * Elixir release's `releases/COOKIE`, which its start script passes on with `--cookie`.
   * @default true
   */
  ownerOnly?: boolean;
}

/**
 * Reads a cookie file by OTP's rules: a regular file accessible by its owner only (as OTP refuses a
 * `~/.erlang.cookie` that group or others can access), holding the leading run of printable ASCII,
 * then only CR, LF or space.
 */
export async function readCookieFile(path: string, options: ReadCookieFileOptions = {}): Promise<Cookie> {
  const source = `file ${path}`;
  if (options.ownerOnly ?? true) await checkOwnerOnly(path, source);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CookieError("UNREADABLE", source, `Cannot read the cookie file '${path}': ${why}`, {
      cause: err,
    });
  }
  let end = 0;
  while (end < bytes.length && bytes[end] >= 0x20 && bytes[end] <= 0x7e) end++;
  const value = String.fromCharCode(...bytes.subarray(0, end));
  for (let i = end; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a && bytes[i] !== 0x0d && bytes[i] !== 0x20) {
      throw new CookieError(
        "INVALID",
        source,
        `Cannot use the cookie file '${path}': byte ${i} is 0x${
          bytes[i].toString(16)
        }, but a cookie holds only printable ASCII followed by optional newlines (OTP would say "Bad characters in cookie")`,
      );
    }
  }
  return checkCookie(value, source);
}

async function checkOwnerOnly(path: string, source: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CookieError("UNREADABLE", source, `Cannot read the cookie file '${path}': ${why}`, {
      cause: err,
    });
  }
  if (!info.isFile) {
    throw new CookieError(
      "INVALID",
      source,
      `Cannot use the cookie file '${path}': it is a ${
        info.isDirectory ? "directory" : "special file"
      }, expected a regular file`,
    );
  }
  // OTP checks the permission bits on Unix only (auth.erl check_attributes/4); so do we.
  if (info.mode === null || Deno.build.os === "windows") return;
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    const octal = `0${mode.toString(8).padStart(3, "0")}`;
    throw new CookieError(
      "INVALID",
      source,
      `Cannot use the cookie file '${path}': its mode is ${octal}, so group or others can access it; ` +
        `OTP refuses such a file ("Cookie file ${path} must be accessible by owner only"): ` +
        `run 'chmod 400 ${path}' (for a mounted Kubernetes Secret: defaultMode: 0400)`,
    );
  }
}

function checkCookie(value: string, source: string): Cookie {
  if (value === "") {
    throw new CookieError("INVALID", source, `Cannot use the cookie from ${source}: it is empty`);
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      throw new CookieError(
        "INVALID",
        source,
        `Cannot use the cookie from ${source}: character ${i} is not printable ASCII (code ${c})`,
      );
    }
  }
  if (value.length > 255) {
    throw new CookieError(
      "INVALID",
      source,
      `Cannot use the cookie from ${source}: it is ${value.length} characters long, at most 255 are allowed`,
    );
  }
  return new Cookie(value, source);
}
