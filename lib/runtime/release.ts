/** What `run` can tell about the release it starts. */
export interface ReleaseInfo {
  /** `elixir` (mix release: `releases/COOKIE`), `relx` (rebar3), or `unknown` (any other command). */
  kind: "elixir" | "relx" | "unknown";
  /** The release root (the folder above `bin/`). */
  root?: string;
  /** The release name (the start script's name), which is also Elixir's default node name. */
  name?: string;
  /** The cookie file the release uses, when it has one (`releases/COOKIE`). */
  cookieFile?: string;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Looks at the start command: `…/bin/NAME` in a release root with `releases/` is a release. */
export function detectRelease(command: string): ReleaseInfo {
  const m = /^(.*?)\/?bin\/([^/]+)$/.exec(command);
  if (!m) return { kind: "unknown" };
  const root = m[1] === "" ? "." : m[1];
  const name = m[2];
  if (!exists(`${root}/releases`)) return { kind: "unknown", name };
  if (exists(`${root}/releases/COOKIE`)) {
    return { kind: "elixir", root, name, cookieFile: `${root}/releases/COOKIE` };
  }
  return { kind: "relx", root, name };
}

/** Pod identity from the downward API and the Service, for a release that has none configured. */
export interface PodIdentity {
  /** The pod's FQDN under its headless Service (StatefulSet), when known. */
  fqdn?: string;
  /** The pod IP. */
  ip?: string;
}

/**
 * The variables `run` adds to an Elixir release's environment when they are unset: long names
 * (`RELEASE_DISTRIBUTION=name`) and `RELEASE_NODE=<name>@<pod FQDN or IP>`. Nothing else is added:
 * never the cookie.
 */
export function elixirIdentity(
  release: ReleaseInfo,
  env: Record<string, string | undefined>,
  pod: PodIdentity,
): Record<string, string> {
  if (release.kind !== "elixir") return {};
  const out: Record<string, string> = {};
  const host = pod.fqdn ?? pod.ip;
  if (!env.RELEASE_DISTRIBUTION && host) out.RELEASE_DISTRIBUTION = "name";
  if (!env.RELEASE_NODE && host && release.name) out.RELEASE_NODE = `${release.name}@${host}`;
  return out;
}
