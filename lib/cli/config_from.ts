/**
 * The configuration and the cookie, as every command takes them: no discovery, no cluster code, so
 * `ping`, `nodes` and `names` load only what they use.
 * @module
 */
import { type Cookie, resolveCookie } from "../dist/cookie.ts";
import { type Config, type ConfigKey, loadConfig, safeEnv } from "../config/mod.ts";
import { configFlags, type ParsedCommandLine } from "./options.ts";

/**
 * Loads the configuration from the command's flags, the environment and the optional file, reading
 * only the keys the command uses.
 */
export function configFrom(cli: ParsedCommandLine, keys: readonly ConfigKey[]): Promise<Config> {
  return loadConfig({ flags: configFlags(cli.values), keys });
}

/** The cookie from `cookieFile` or the usual places (the environment read through the config layer). */
export function cookieFrom(cfg: Config): Promise<Cookie> {
  return resolveCookie({ cookieFile: cfg.cookieFile, env: safeEnv });
}
