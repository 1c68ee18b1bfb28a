/**
 * The configuration and the cookie, as every command takes them: no discovery, no cluster code, so
 * `ping`, `nodes` and `names` load only what they use.
 * @module
 */
import { type Cookie, resolveCookie } from "../dist/cookie.ts";
import { type DistributionOptions, setDistribution } from "../dist/transport.ts";
import { type Config, ConfigError, type ConfigKey, loadConfig, safeEnv } from "../config/mod.ts";
import { configFlags, type ParsedCommandLine } from "./options.ts";

/** The keys that say how nodes are reached, read by every command that connects to nodes. */
export const DIST_KEYS: readonly ConfigKey[] = ["protoDist", "tlsCaFile", "tlsCertFile", "tlsKeyFile"];

/**
 * Loads the configuration from the command's flags, the environment and the optional file, reading
 * only the keys the command uses. A command that reaches nodes (it reads `cookieFile` or `epmdPort`)
 * also reads how ({@link DIST_KEYS} and `distPort`), and every connection of the process follows them
 * (`setDistribution`; the TLS files are read only by commands that connect, those reading `cookieFile`).
 */
export async function configFrom(cli: ParsedCommandLine, keys: readonly ConfigKey[]): Promise<Config> {
  const connects = keys.includes("cookieFile");
  const all = new Set(keys);
  if (connects || keys.includes("epmdPort")) {
    for (const k of DIST_KEYS) all.add(k);
    all.add("distPort");
  }
  const cfg = await loadConfig({ flags: configFlags(cli.values), keys: [...all] });
  setDistribution(await distributionFrom(cfg, connects));
  return cfg;
}

/**
 * How nodes are reached, from the configuration: the TLS files are read here (their contents are never
 * shown), and a file that cannot be read or holds no PEM block is a {@link ConfigError}.
 */
export async function distributionFrom(cfg: Config, withTls = true): Promise<DistributionOptions> {
  const proto = cfg.protoDist ?? "inet_tcp";
  const out: DistributionOptions = { distPort: cfg.distPort };
  if (!withTls || !proto.endsWith("_tls")) return out;
  const read = async (key: "tlsCaFile" | "tlsCertFile" | "tlsKeyFile", what: string) => {
    const file = cfg[key];
    if (file === undefined) return undefined;
    const source = cfg.sources[key] ?? "default";
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ConfigError(
        "FILE",
        { key, source, expected: `a readable PEM file of ${what}` },
        `Cannot read ${key} '${file}' (from ${source}): ${why}`,
        { cause: err },
      );
    }
    if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
      throw new ConfigError(
        "FILE",
        { key, source, expected: `a PEM file of ${what}` },
        `Cannot use ${key} '${file}' (from ${source}): expected a PEM file of ${what} ('-----BEGIN …-----')`,
      );
    }
    return text;
  };
  const ca = await read("tlsCaFile", "CA certificates");
  const cert = await read("tlsCertFile", "a certificate");
  const key = await read("tlsKeyFile", "a private key");
  if (ca !== undefined && !holdsCertificates(ca)) {
    const source = cfg.sources.tlsCaFile ?? "default";
    throw new ConfigError(
      "FILE",
      { key: "tlsCaFile", source, expected: "PEM CERTIFICATE blocks" },
      `Cannot use tlsCaFile '${cfg.tlsCaFile}' (from ${source}): expected PEM CERTIFICATE blocks, and one does not decode`,
    );
  }
  if (cert !== undefined && key !== undefined) checkKeyPair(cfg, cert, key);
  out.tls = { caCerts: ca === undefined ? [] : [ca], cert, key };
  return out;
}

/** True when `pem` has CERTIFICATE blocks and each is base64 of a DER SEQUENCE. */
function holdsCertificates(pem: string): boolean {
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  return blocks.length > 0 && blocks.every((b) => {
    try {
      const der = atob(b[1].replace(/\s+/g, ""));
      return der.length > 2 && der.charCodeAt(0) === 0x30;
    } catch {
      return false;
    }
  });
}

/**
 * Checks that the key belongs to the certificate before any connection uses them: a TLS server
 * configuration is built with them and dropped (Deno's client side aborts the process on a mismatch).
 */
function checkKeyPair(cfg: Config, cert: string, key: string): void {
  try {
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key }).close();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const source = cfg.sources.tlsKeyFile ?? "default";
    const state = /mismatch|not be consistent/i.test(why)
      ? "the key does not belong to the certificate"
      : /key/i.test(why)
      ? "the private key cannot be read (expected an RSA, ECDSA or Ed25519 key in PEM)"
      : "the certificate cannot be read (expected a PEM CERTIFICATE chain)";
    throw new ConfigError(
      "FILE",
      { key: "tlsKeyFile", source, expected: "the private key of tlsCertFile" },
      `Cannot use tlsKeyFile '${cfg.tlsKeyFile}' with tlsCertFile '${cfg.tlsCertFile}': ${state}`,
      { cause: err },
    );
  }
}

/** The cookie from `cookieFile` or the usual places (the environment read through the config layer). */
export function cookieFrom(cfg: Config): Promise<Cookie> {
  return resolveCookie({ cookieFile: cfg.cookieFile, env: safeEnv });
}
