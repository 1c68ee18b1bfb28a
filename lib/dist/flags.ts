/**
 * Distribution capability flags. They are 64-bit, so they are `bigint`: JavaScript's bit operators
 * work on 32 bits and would drop V4_NC (bit 34).
 * @module
 */

/** Flag bits by name (lib/kernel/include/dist.hrl). */
export const DFLAG = {
  PUBLISHED: 0x1n,
  ATOM_CACHE: 0x2n,
  EXTENDED_REFERENCES: 0x4n,
  DIST_MONITOR: 0x8n,
  FUN_TAGS: 0x10n,
  DIST_MONITOR_NAME: 0x20n,
  HIDDEN_ATOM_CACHE: 0x40n,
  NEW_FUN_TAGS: 0x80n,
  EXTENDED_PIDS_PORTS: 0x100n,
  EXPORT_PTR_TAG: 0x200n,
  BIT_BINARIES: 0x400n,
  NEW_FLOATS: 0x800n,
  UNICODE_IO: 0x1000n,
  DIST_HDR_ATOM_CACHE: 0x2000n,
  SMALL_ATOM_TAGS: 0x4000n,
  UTF8_ATOMS: 0x10000n,
  MAP_TAG: 0x20000n,
  BIG_CREATION: 0x40000n,
  SEND_SENDER: 0x80000n,
  BIG_SEQTRACE_LABELS: 0x100000n,
  EXIT_PAYLOAD: 0x400000n,
  FRAGMENTS: 0x800000n,
  HANDSHAKE_23: 0x1000000n,
  UNLINK_ID: 0x2000000n,
  MANDATORY_25_DIGEST: 0x4000000n,
  SPAWN: 1n << 32n,
  NAME_ME: 1n << 33n,
  V4_NC: 1n << 34n,
  ALIAS: 1n << 35n,
  ALTACT_SIG: 1n << 37n,
} as const;

/** The flags OTP 25 requires of every peer (`DFLAG_DIST_MANDATORY_25`). */
export const MANDATORY_25: bigint = DFLAG.EXTENDED_REFERENCES | DFLAG.FUN_TAGS | DFLAG.NEW_FUN_TAGS |
  DFLAG.EXTENDED_PIDS_PORTS | DFLAG.EXPORT_PTR_TAG | DFLAG.BIT_BINARIES | DFLAG.NEW_FLOATS |
  DFLAG.UTF8_ATOMS |
  DFLAG.MAP_TAG | DFLAG.BIG_CREATION | DFLAG.HANDSHAKE_23;

/** The flags OTP 26 and later also require (`DFLAG_DIST_MANDATORY_26`). */
export const MANDATORY_26: bigint = DFLAG.V4_NC | DFLAG.UNLINK_ID;

/**
 * What erlmesh advertises: every mandatory flag spelled out plus the DIGEST bit, DIST_MONITOR and
 * SMALL_ATOM_TAGS (the set OTP's own erl_interface sends), and never PUBLISHED, so the link is hidden.
 */
export const CLIENT_FLAGS: bigint = MANDATORY_25 | MANDATORY_26 | DFLAG.MANDATORY_25_DIGEST |
  DFLAG.DIST_MONITOR |
  DFLAG.SMALL_ATOM_TAGS;

/** Expands the DIGEST bit into the whole OTP 25 mandatory set, as OTP does. */
export function expandFlags(flags: bigint): bigint {
  return flags & DFLAG.MANDATORY_25_DIGEST ? flags | MANDATORY_25 : flags;
}

/** The names of the flags in `required` that `flags` lacks (after expanding the DIGEST bit). */
export function missingFlags(flags: bigint, required: bigint): string[] {
  const have = expandFlags(flags);
  return Object.entries(DFLAG).filter(([, bit]) => (required & bit) !== 0n && (have & bit) === 0n).map((
    [n],
  ) => n);
}

/** The names of the bits set in `flags`; unknown bits are shown as hex. */
export function flagNames(flags: bigint): string[] {
  const out: string[] = [];
  let rest = flags;
  for (const [name, bit] of Object.entries(DFLAG)) {
    if (flags & bit) {
      out.push(name);
      rest &= ~bit;
    }
  }
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out;
}
