import { isIp } from "../bytes/address.ts";
import { NodeNameError } from "./errors.ts";

/** Whether a node runs with long names (`-name`, host is a FQDN or an IP) or short names (`-sname`). */
export type NameKind = "long" | "short";

/** A parsed node name. */
export interface NodeName {
  /** The whole name, `alive@host`. */
  readonly full: string;
  /** The part before `@`, the name EPMD knows. */
  readonly alive: string;
  /** The part after `@`. */
  readonly host: string;
  /** `long` when the host has a dot or is an IP address, else `short`. */
  readonly kind: NameKind;
}

const ALIVE = /^[A-Za-z0-9_.+-]+$/;
const HOST = /^[A-Za-z0-9_.:-]+$/;
/** True when `host` is an IPv4 or IPv6 literal (the one parser, `bytes/address.ts`). */
export function isIpAddress(host: string): boolean {
  return isIp(host);
}

/** The kind of name a host part makes: long for FQDNs and IP addresses, short otherwise. */
export function hostKind(host: string): NameKind {
  return host.includes(".") || isIpAddress(host) ? "long" : "short";
}

/**
 * Whether a node that runs with `kind` names may connect to a node on `host`, by OTP's rule
 * (`inet_tcp_dist:splitnode/3`, used by `net_kernel:connect_node/1`): with long names (`-name`) the
 * host must have a dot or be an IP address; with short names (`-sname`) it must have no dot (an IPv4
 * address has dots, so it is refused). Otherwise the node logs `** System NOT running to use fully
 * qualified hostnames **` (or `** System running to use fully qualified hostnames **`) and refuses.
 * A node's own kind is {@link hostKind} of its host part.
 *
 * @example
 * ```ts
 * import { acceptsPeerHost } from "./names.ts";
 * acceptsPeerHost("short", "127.0.0.1"); // false
 * acceptsPeerHost("long", "app-0.app.default.svc.cluster.local"); // true
 * ```
 */
export function acceptsPeerHost(kind: NameKind, host: string): boolean {
  return kind === "long" ? host.includes(".") || isIpAddress(host) : !host.includes(".");
}

/**
 * A matcher for an alive part that may hold `*` (any run of characters, as in `--basename 'app*'`).
 *
 * @example
 * ```ts
 * import { aliveMatcher } from "./names.ts";
 * aliveMatcher("app*")("app2"); // true
 * ```
 */
export function aliveMatcher(pattern: string): (alive: string) => boolean {
  if (!pattern.includes("*")) return (alive) => alive === pattern;
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+]/g, "\\$&")).join(".*")}$`);
  return (alive) => re.test(alive);
}

/**
 * Parses and checks `alive@host`. A name without `@` gets `defaultHost` when one is given (as `erl
 * -sname app` takes the local host name), and is an error otherwise.
 *
 * @example
 * ```ts
 * import { parseNodeName } from "./names.ts";
 * parseNodeName("app@app-0.app.default.svc.cluster.local").kind; // "long"
 * ```
 */
export function parseNodeName(input: string, defaultHost?: string): NodeName {
  const text = input.trim();
  const expected = "expected 'name@host' such as 'app@10.0.0.7' or 'app@app-0.app.default.svc.cluster.local'";
  if (text === "") throw new NodeNameError(input, `Invalid node name '': ${expected}`);
  const at = text.split("@");
  if (at.length > 2) {
    throw new NodeNameError(input, `Invalid node name '${input}': it has more than one '@'; ${expected}`);
  }
  const alive = at[0];
  let host = at.length === 2 ? at[1] : defaultHost;
  if (host === undefined) {
    throw new NodeNameError(input, `Invalid node name '${input}': it has no '@host' part; ${expected}`);
  }
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (alive === "") {
    throw new NodeNameError(input, `Invalid node name '${input}': the part before '@' is empty; ${expected}`);
  }
  if (!ALIVE.test(alive)) {
    throw new NodeNameError(
      input,
      `Invalid node name '${input}': the name part '${alive}' may hold only letters, digits, '_', '-', '.' and '+'`,
    );
  }
  if (host === "") {
    throw new NodeNameError(
      input,
      `Invalid node name '${input}': the host part after '@' is empty; ${expected}`,
    );
  }
  if (!HOST.test(host)) {
    throw new NodeNameError(
      input,
      `Invalid node name '${input}': the host part '${host}' may hold only letters, digits, '-', '_', '.' and ':'`,
    );
  }
  const full = `${alive}@${host}`;
  if (full.length > 255) {
    throw new NodeNameError(
      input,
      `Invalid node name '${input}': it is ${full.length} characters long, at most 255 are allowed`,
    );
  }
  return { full, alive, host, kind: hostKind(host) };
}

let processBase: string | undefined;

/** The per-process base of erlmesh's own node names: `erlmesh-<pid>-<random>`. */
export function localAliveBase(): string {
  if (processBase === undefined) {
    const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36).padStart(7, "0").slice(0, 5);
    processBase = `erlmesh-${Deno.pid}-${rand}`;
  }
  return processBase;
}

/** This machine's host name, or `localhost` when it cannot be read. */
export function localHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

/**
 * A name for erlmesh's hidden node that is unique to this process and of the same kind as `target`:
 * short names use the short host name; long names use the FQDN when the host name has a dot, and
 * otherwise `localAddress` (the address the connection leaves from) or 127.0.0.1.
 */
export function localNodeNameFor(target: NodeName, localAddress?: string): string {
  const host = localHostname();
  const base = localAliveBase();
  if (target.kind === "short") return `${base}@${host.split(".")[0] || "localhost"}`;
  if (host.includes(".")) return `${base}@${host}`;
  return `${base}@${localAddress ?? "127.0.0.1"}`;
}

/**
 * True when `node` is the node `local` itself under another name: the same alive part on a loopback
 * host (`app@127.0.0.1` is the same EPMD entry, one node per alive part, as a local `app@vm` or
 * `app@app-0.app…`).
 *
 * @example
 * ```ts
 * import { isLocalAlias } from "./names.ts";
 * isLocalAlias("app@vm", "app@127.0.0.1"); // true
 * isLocalAlias("app@127.0.0.1", "app@127.0.0.2"); // false
 * ```
 */
export function isLocalAlias(local: string, node: string): boolean {
  if (local === node) return true;
  const a = parseNodeName(local), b = parseNodeName(node);
  // Two different loopback addresses are two nodes (each listening on its own address, as nodes run
  // without EPMD on one port do), not one node under two names.
  if (/^127\./.test(a.host) && /^127\./.test(b.host)) return false;
  return a.alive === b.alive && (/^127\./.test(b.host) || b.host === "::1" || b.host === "localhost");
}
