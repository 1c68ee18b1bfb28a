/**
 * How the distribution port is dialled: plain TCP (`-proto_dist inet_tcp`, `inet6_tcp`) or TLS
 * (`inet_tls`, `inet6_tls`: TLS first, then the usual handshake inside it with 4-byte lengths, as OTP's
 * `inet_tls_dist` does), with or without EPMD. EPMD itself is always plain TCP. IPv6 needs nothing
 * here: an IPv6 address is dialled as it is, and a name is dialled on whichever family answers.
 * @module
 */
import { BytesError, connectTcp, ExactReader, frame16, type Transport, writeAll } from "../bytes/mod.ts";
import { connectTls, type TlsClientOptions } from "../bytes/transport.ts";
import type { HandshakeErrorCode } from "./errors.ts";
import { CLIENT_FLAGS } from "./flags.ts";
import { encodeSendName } from "./handshake.ts";

export type { TlsClientOptions } from "../bytes/transport.ts";

/** The distribution carriers OTP names with `-proto_dist`. */
export type ProtoDist = "inet_tcp" | "inet_tls" | "inet6_tcp" | "inet6_tls";

/** How nodes are reached, for every connection of this process (see {@link setDistribution}). */
export interface DistributionOptions {
  /** TLS certificates: TLS distribution when set. */
  tls?: TlsClientOptions;
  /** Every node listens on this distribution port and EPMD is not asked (EPMD-less nodes). */
  distPort?: number;
}

let current: DistributionOptions = {};

/**
 * Sets how this process reaches nodes: the command line does it once from the configuration, and
 * every connect that does not say otherwise follows it.
 */
export function setDistribution(options: DistributionOptions): void {
  current = { ...options };
}

/** How this process reaches nodes (see {@link setDistribution}). */
export function distribution(): DistributionOptions {
  return current;
}

/** A failed dial of the distribution port, classified. */
export interface DialFailure {
  code: HandshakeErrorCode;
  message: string;
}

/**
 * What a TLS failure means, from the TLS library's error: the node's certificate is not trusted, not
 * for this name, or expired; or the node refused ours (its alert). Undefined when it is none of these.
 */
export function classifyTlsError(err: unknown, host: string, port: number): DialFailure | undefined {
  // The innermost error is the TLS library's own; outer ones repeat it with context.
  const messages: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) messages.unshift(e.message);
  const find = (re: RegExp) => messages.map((m) => re.exec(m)?.[1]).find((x) => x !== undefined);
  const cert = find(/invalid peer certificate: (.*)$/)?.trim();
  if (cert !== undefined) {
    if (/Expired/i.test(cert)) {
      return {
        code: "CERT_EXPIRED",
        message: `the node's TLS certificate on port ${port} has expired (renew it)`,
      };
    }
    if (/not valid for name|NotValidForName/i.test(cert)) {
      return {
        code: "CERT_NAME",
        message: `the node's TLS certificate on port ${port} is not valid for '${host}' (${cert}); ` +
          "its subject alternative names must include the host part of the node name (an IP SAN for IP names)",
      };
    }
    if (/UnknownIssuer|BadSignature|UnknownAuthority/i.test(cert)) {
      return {
        code: "CERT_UNTRUSTED",
        message: `the node's TLS certificate on port ${port} is not signed by a CA in tlsCaFile (${cert})`,
      };
    }
    return {
      code: "CERT_UNTRUSTED",
      message: `the node's TLS certificate on port ${port} is invalid (${cert})`,
    };
  }
  const alert = find(/received fatal alert: (\w+)/);
  if (alert !== undefined) {
    const why = alert === "HandshakeFailure" || alert === "CertificateRequired"
      ? "it requires a client certificate: set tlsCertFile and tlsKeyFile"
      : alert === "UnknownCA"
      ? "our certificate is not signed by a CA the node trusts (its ssl_dist_optfile cacertfile)"
      : alert === "CertificateExpired"
      ? "our certificate (tlsCertFile) has expired"
      : "it refused our certificate";
    return {
      code: "CERT_REJECTED",
      message: `the node on port ${port} ended the TLS handshake with alert ${alert}: ${why}`,
    };
  }
  return undefined;
}

/** True when the TLS handshake failed because the peer closed or reset the connection. */
function closedMidHandshake(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (
      e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset ||
      e instanceof Deno.errors.UnexpectedEof
    ) return true;
  }
  return false;
}

/**
 * After a TLS handshake got no answer: asks the same port for a plain send_name and reports whether a
 * distribution status frame came back (the node speaks plain TCP distribution). One short connect,
 * closed at once.
 */
export async function speaksPlainDistribution(
  host: string,
  port: number,
  timeoutMs = 1000,
): Promise<boolean> {
  const signal = AbortSignal.timeout(timeoutMs);
  let t: Transport | undefined;
  try {
    t = await connectTcp(host, port, { signal });
    await writeAll(t, frame16(encodeSendName("erlmesh_probe@localhost", CLIENT_FLAGS, 1)), signal);
    const head = await new ExactReader(t).readExact(3, signal);
    return head[2] === 0x73; // 's': a status, the plain handshake's answer
  } catch {
    return false;
  } finally {
    t?.close();
  }
}

/**
 * Dials the distribution port of `host` with TLS; failures are classified ({@link classifyTlsError}),
 * and a handshake that times out is checked against plain distribution.
 */
export async function dialTls(
  host: string,
  port: number,
  tls: TlsClientOptions,
  signal: AbortSignal,
): Promise<Transport | DialFailure> {
  try {
    return await connectTls(host, port, { signal, tls });
  } catch (err) {
    const known = classifyTlsError(err, host, port);
    if (known) return known;
    if (closedMidHandshake(err)) {
      // The node dropped the connection instead of (or before we read) its alert: it refused us.
      return {
        code: "CERT_REJECTED",
        message: `the node on port ${port} closed the connection during the TLS handshake: ` +
          (tls.cert === undefined
            ? "it requires a client certificate: set tlsCertFile and tlsKeyFile"
            : "it refused our certificate (the node's log says why)"),
      };
    }
    if (err instanceof BytesError && err.code === "TIMEOUT") {
      if (await speaksPlainDistribution(host, port)) {
        return {
          code: "NO_TLS",
          message: `the node on port ${port} speaks plain TCP distribution, not TLS: start it with ` +
            "-proto_dist inet_tls, or set protoDist to inet_tcp",
        };
      }
      return { code: "TIMEOUT", message: `no TLS handshake with port ${port} in time` };
    }
    throw err;
  }
}
