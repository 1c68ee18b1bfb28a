/** Stable codes of {@link ConfigError}. */
export type ConfigErrorCode = "INVALID" | "UNKNOWN_KEY" | "FILE" | "CONFLICT" | "SEVERAL";

/** Structured fields of a {@link ConfigError}. */
export interface ConfigErrorFields {
  /** The configuration key concerned (camelCase, as in the YAML file), or `""` for the file as a whole. */
  key: string;
  /**
   * Where the value came from: `flag --interval`, `env ERLMESH_INTERVAL`, `env K8S_HEADLESS_SVC`,
   * `file /etc/erlmesh.yaml (key interval)`, `default`, …
   */
  source: string;
  /** The offending raw text. Never set for a cookie-related key. */
  value?: string;
  /** What would have been accepted, in words. */
  expected?: string;
}

/**
 * A bad configuration: an invalid value, an unknown key in the YAML file, or a file that cannot be
 * read or parsed. The CLI maps it to exit code 2.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./errors.ts";
 * const err = ConfigError.invalid({
 *   key: "interval",
 *   source: "env ERLMESH_INTERVAL",
 *   value: "5x",
 *   expected: "a duration such as 500ms, 2s or 1000 (milliseconds)",
 * });
 * err.message; // "Invalid interval '5x' from env ERLMESH_INTERVAL: expected a duration such as …"
 * ```
 */
export class ConfigError extends Error {
  /** Always `ConfigError`. */
  override name = "ConfigError";
  /** A stable code for programs to match on. */
  readonly code: ConfigErrorCode;
  /** The configuration key concerned, or `""` when the whole file is at fault. */
  readonly key: string;
  /** Where the value came from. */
  readonly source: string;
  /** The offending raw text; never set for a cookie-related key. */
  readonly value?: string;
  /** What would have been accepted. */
  readonly expected?: string;
  /** For `SEVERAL`: each problem found. */
  readonly problems: readonly ConfigError[] = [];

  /** Prefer {@link ConfigError.invalid} for `INVALID`; the message is used as given. */
  constructor(code: ConfigErrorCode, fields: ConfigErrorFields, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.key = fields.key;
    this.source = fields.source;
    if (fields.value !== undefined && !isCookieKey(fields.key)) this.value = fields.value;
    this.expected = fields.expected;
  }

  /**
   * An `INVALID` error with the standard message
   * `Invalid <key> '<value>' from <source>: expected <expected>` (the value is left out for
   * cookie-related keys).
   */
  static invalid(fields: ConfigErrorFields, options?: ErrorOptions): ConfigError {
    const shown = fields.value === undefined || isCookieKey(fields.key) ? "" : ` '${fields.value}'`;
    const expected = fields.expected === undefined ? "" : `: expected ${fields.expected}`;
    return new ConfigError(
      "INVALID",
      fields,
      `Invalid ${fields.key}${shown} from ${fields.source}${expected}`,
      options,
    );
  }
}

/**
 * One error for every problem found (each bad value of a file, not only the first); a single problem
 * is returned as it is.
 */
export function severalProblems(problems: readonly ConfigError[]): ConfigError {
  if (problems.length === 1) return problems[0];
  const err = new ConfigError(
    "SEVERAL",
    {
      key: problems.map((p) => p.key).join(","),
      source: [...new Set(problems.map((p) => p.source))].join("; "),
    },
    `Invalid configuration (${problems.length} problems):\n${
      problems.map((p) => `  - ${p.message}`).join("\n")
    }`,
  );
  (err as { problems: readonly ConfigError[] }).problems = problems;
  return err;
}

/** True for keys whose values must never be printed: anything named like a cookie. */
export function isCookieKey(key: string): boolean {
  return /cookie/i.test(key);
}
