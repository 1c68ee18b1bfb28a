import {
  BytesError,
  ByteWriter,
  type ExactReader,
  frame16,
  frame32,
  type Transport,
  writeAll,
} from "../bytes/mod.ts";
import type { Cookie } from "./cookie.ts";
import { HandshakeError } from "./errors.ts";
import { md5 } from "./md5.ts";
import { CLIENT_FLAGS, DFLAG, expandFlags, MANDATORY_25, missingFlags } from "./flags.ts";

/** What {@link clientHandshake} needs. */
export interface HandshakeOptions {
  /** Our own node name, `alive@host`. */
  localName: string;
  /** The exact name of the node we are dialling (or, with `anyName`, what to call it in errors). */
  targetName: string;
  /** Accept whatever name the node gives in its challenge (to learn a local node's full name). */
  anyName?: boolean;
  /** The shared secret. */
  cookie: Cookie;
  /** Our creation, a non-zero u32 used in every pid and ref we make. */
  creation: number;
  /** Flags to advertise. @default CLIENT_FLAGS (hidden: no PUBLISHED) */
  flags?: bigint;
  /** Aborts the handshake (deadline). */
  signal?: AbortSignal;
  /**
   * The length prefix of handshake messages: 2 bytes over TCP, 4 over TLS (OTP's `inet_tls_dist` runs
   * the whole handshake with `{packet, 4}`). @default 2
   */
  lengthBytes?: 2 | 4;
}

/** What the handshake settled. */
export interface HandshakeResult {
  /** The peer's flags as it sent them. */
  peerFlags: bigint;
  /** Our flags AND theirs. */
  negotiated: bigint;
  /** The peer's creation. */
  peerCreation: number;
  /** The peer's node name, from its challenge. */
  peerName: string;
}

/** `MD5(cookie ++ decimal(challenge))`, the digest both sides prove the cookie with. */
export function genDigest(challenge: number, cookie: Cookie): Uint8Array {
  const cookieBytes = cookie.bytes();
  const decimal = new TextEncoder().encode(String(challenge >>> 0));
  const input = new Uint8Array(cookieBytes.length + decimal.length);
  input.set(cookieBytes);
  input.set(decimal, cookieBytes.length);
  return md5(input);
}

const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** Encodes the v6 send_name message (`N`), without the u16 frame. */
export function encodeSendName(localName: string, flags: bigint, creation: number): Uint8Array {
  const name = enc.encode(localName);
  return new ByteWriter(15 + name.length).u8(0x4e).u64(flags).u32(creation >>> 0).u16(name.length).bytes(name)
    .finish();
}

/**
 * Runs the client side of the version 6 distribution handshake on a fresh connection to the node's
 * distribution port, as a hidden node. On success the stream is at the first u32-framed packet.
 *
 * A wrong cookie shows as the node closing the connection right after our challenge reply: that is
 * reported as `COOKIE_REJECTED`, naming where the cookie came from and never the cookie.
 */
export async function clientHandshake(
  t: Transport,
  reader: ExactReader,
  options: HandshakeOptions,
): Promise<HandshakeResult> {
  const { localName, targetName, cookie, creation, signal } = options;
  const flags = options.flags ?? CLIENT_FLAGS;
  let peerName: string | undefined;
  const fail = (code: HandshakeError["code"], msg: string, cause?: unknown) =>
    new HandshakeError(code, targetName, `Cannot connect to '${targetName}': ${msg}`, { cause, peerName });
  const wide = options.lengthBytes === 4;
  const frame = wide ? frame32 : frame16;
  let step = "send_name";
  const read16 = async (what: string): Promise<Uint8Array> => {
    step = what;
    const head = await reader.readExact(wide ? 4 : 2, signal);
    if (!wide && what === "status" && (head[0] === 0x15 || head[0] === 0x16) && head[1] === 0x03) {
      // A TLS record (alert or handshake) where a status frame belongs: the port speaks TLS.
      throw fail(
        "TLS_REQUIRED",
        "the node answered with TLS: it runs TLS distribution (-proto_dist inet_tls); set protoDist to " +
          "inet_tls with tlsCertFile, tlsKeyFile and tlsCaFile",
      );
    }
    const view = new DataView(head.buffer, head.byteOffset, head.length);
    const len = wide ? view.getUint32(0) : view.getUint16(0);
    if (len > 65535) {
      throw fail("PROTOCOL", `the node announced a ${len}-byte handshake message while waiting for ${what}`);
    }
    return await reader.readExact(len, signal);
  };
  try {
    await writeAll(t, frame(encodeSendName(localName, flags, creation)), signal);

    // Status.
    const status = await read16("status");
    if (status[0] !== 0x73) {
      throw fail("PROTOCOL", `expected a status message ('s') after send_name, got tag ${status[0]}`);
    }
    let text = latin1.decode(status.subarray(1));
    if (text === "alive") {
      // An older link under our name is still up (a quick reconnect from this process): replace it.
      await writeAll(t, frame(enc.encode("strue")), signal);
      text = "ok";
    }
    if (text === "nok") throw fail("NOK", "the node answered status 'nok' (it is already connecting to us)");
    if (text === "not_allowed") {
      throw fail(
        "NOT_ALLOWED",
        `the node answered status 'not_allowed': it rejects '${localName}' (net_kernel:allow/1 list, or missing flags; the node's log says which)`,
      );
    }
    if (text !== "ok" && text !== "ok_simultaneous") {
      throw fail("BAD_STATUS", `the node answered an unknown status '${text}'`);
    }

    // Challenge.
    const ch = await read16("challenge");
    if (ch[0] !== 0x4e || ch.length < 19) {
      throw fail(
        "PROTOCOL",
        `expected a version 6 challenge ('N', at least 19 bytes), got tag ${ch[0]} with ${ch.length} bytes`,
      );
    }
    const dv = new DataView(ch.buffer, ch.byteOffset, ch.byteLength);
    const peerFlags = dv.getBigUint64(1);
    const challenge = dv.getUint32(9);
    const peerCreation = dv.getUint32(13);
    const nlen = dv.getUint16(17);
    if (19 + nlen > ch.length) {
      throw fail(
        "PROTOCOL",
        `the challenge names a ${nlen}-byte node name but holds ${ch.length - 19} bytes`,
      );
    }
    peerName = latin1.decode(ch.subarray(19, 19 + nlen));
    if (peerName !== targetName && !options.anyName) {
      throw fail(
        "NAME_MISMATCH",
        `the node on that port is '${peerName}', not '${targetName}' (use the node's exact name, as in its -name/-sname or RELEASE_NODE)`,
      );
    }
    const missing = missingFlags(peerFlags, MANDATORY_25);
    if (missing.length > 0) {
      throw fail(
        "MISSING_FLAGS",
        `the node lacks the mandatory distribution flags ${missing.join(", ")} (OTP 23 or later is needed)`,
      );
    }

    // Challenge reply.
    const ours = crypto.getRandomValues(new Uint32Array(1))[0];
    const reply = new ByteWriter(21).u8(0x72).u32(ours).bytes(genDigest(challenge, cookie)).finish();
    await writeAll(t, frame(reply), signal);

    // Challenge ack.
    let ack: Uint8Array;
    try {
      ack = await read16("challenge_ack");
    } catch (err) {
      if (err instanceof BytesError && err.code === "EOF") {
        throw fail(
          "COOKIE_REJECTED",
          `the node refused our cookie (it closed the connection after our challenge reply); check that the cookie from ${cookie.source} is the one the node uses`,
          err,
        );
      }
      throw err;
    }
    if (ack[0] !== 0x61 || ack.length !== 17) {
      throw fail(
        "PROTOCOL",
        `expected challenge_ack ('a', 17 bytes), got tag ${ack[0]} with ${ack.length} bytes`,
      );
    }
    const expected = genDigest(ours, cookie);
    if (!expected.every((b, i) => b === ack[i + 1])) {
      throw fail("BAD_DIGEST", "the node's challenge_ack digest is wrong: its cookie differs from ours");
    }
    return { peerFlags, negotiated: flags & expandFlags(peerFlags), peerCreation, peerName };
  } catch (err) {
    if (err instanceof HandshakeError) throw err;
    if (err instanceof BytesError) {
      if (err.code === "TIMEOUT") {
        throw fail("TIMEOUT", `the handshake did not finish in time (waiting for ${step})`, err);
      }
      if (step === "status" && err.code === "EOF") {
        throw fail(
          "CLOSED",
          `the node closed the connection without a status after send_name (it rejects the name '${localName}')`,
          err,
        );
      }
      throw fail("CLOSED", `the connection failed during ${step}: ${err.message}`, err);
    }
    throw err;
  }
}

/** True when the negotiated flags make the link hidden (no PUBLISHED bit). */
export function isHidden(negotiated: bigint): boolean {
  return (negotiated & DFLAG.PUBLISHED) === 0n;
}
