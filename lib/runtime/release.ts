import { Cookie, CookieError, readCookieFile, resolveCookie } from "../dist/mod.ts";

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
  /** The release version (second field of `releases/start_erl.data`), when known. */
  vsn?: string;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Looks at the start command: `…/bin/NAME` in a release root with `releases/` is a release. A mix
 * release has `releases/COOKIE`, or a start script that reads `RELEASE_COOKIE`; any other is taken for
 * relx (rebar3).
 */
export function detectRelease(command: string): ReleaseInfo {
  const m = /^(.*?)\/?bin\/([^/]+)$/.exec(command);
  if (!m) return { kind: "unknown" };
  const root = m[1] === "" ? "." : m[1];
  const name = m[2];
  if (!exists(`${root}/releases`)) return { kind: "unknown", name };
  const vsn = readText(`${root}/releases/start_erl.data`)?.trim().split(/\s+/)[1];
  const script = readText(`${root}/bin/${name}`) ?? "";
  if (exists(`${root}/releases/COOKIE`)) {
    return { kind: "elixir", root, name, vsn, cookieFile: `${root}/releases/COOKIE` };
  }
  if (/\bRELEASE_COOKIE\b/.test(script)) return { kind: "elixir", root, name, vsn };
  return { kind: "relx", root, name, vsn };
}

/** The cookie the release's node will run with, as {@link releaseNodeCookie} found it. */
export interface NodeCookie {
  /** The cookie; its `source` names the file or variable. */
  cookie: Cookie;
  /** Why this one, for the log. */
  why: string;
  /** What erlmesh cannot know (a script may set another cookie), for a warning each. */
  warnings: string[];
}

/**
 * Said when the release itself hands its VM `-setcookie`: erlmesh reads the value but never passes it
 * on; the VM's own command line shows it to anyone who can read /proc or run `ps`.
 */
const ARGV_WARNING =
  "the release passes its cookie to the VM with -setcookie, so it is on the VM's command line " +
  "(visible in ps and /proc/PID/cmdline): prefer ~/.erlang.cookie (mode 0400) in the release's HOME";

/**
 * The cookie the release's node will actually run with, found as its start script and the VM find it,
 * or undefined for a command that is no release erlmesh knows (then the usual sources apply).
 *
 * - Elixir (mix): `RELEASE_COOKIE` when set, else `releases/COOKIE` (the start script passes it to the
 *   VM as `--cookie`; `~/.erlang.cookie` is never read). The script sources `releases/<vsn>/env.sh`
 *   first, which may set `RELEASE_COOKIE` itself: erlmesh cannot run it, and warns.
 * - relx (rebar3): `-setcookie` in the release's `vm.args` (or `vm.args.src` with `${VAR}` replaced
 *   from the environment, as relx does; `VMARGS_PATH` when set), else `RELX_COOKIE` when the start
 *   script hands it to the VM, else `~/.erlang.cookie` (then `$XDG_CONFIG_HOME/erlang/.erlang.cookie`)
 *   of the release's `HOME`, as OTP's auth reads it. Without any of them the VM makes up a random
 *   cookie: erlmesh then takes its own sources, and warns.
 *
 * `releases/COOKIE` and `vm.args` are not held to OTP's owner-only file rule: the VM's auth does not
 * read them (it gets `-setcookie`).
 */
export async function releaseNodeCookie(
  release: ReleaseInfo,
  env: Record<string, string | undefined>,
): Promise<NodeCookie | undefined> {
  if (release.kind === "unknown" || !release.root) return undefined;
  const set = (name: string) => env[name] !== undefined && env[name] !== "";
  const ignored = (names: string[], what: string) =>
    names.filter(set).map((n) => `${n} is set, but ${what} does not read it: erlmesh ignores it too`);
  if (release.kind === "elixir") {
    const warnings = ignored(["ERLANG_COOKIE", "CLUSTER_ERLANG_COOKIE"], "an Elixir release");
    const envSh = release.vsn ? `${release.root}/releases/${release.vsn}/env.sh` : undefined;
    const setsCookie = envSh !== undefined && /^\s*(export\s+)?RELEASE_COOKIE=/m.test(readText(envSh) ?? "");
    if (setsCookie) {
      warnings.push(
        `${envSh} sets RELEASE_COOKIE, which erlmesh cannot evaluate: if the node runs with another cookie than the one erlmesh took, give erlmesh the node's cookie with --cookie-file`,
      );
    }
    if (set("RELEASE_COOKIE")) {
      return {
        cookie: await resolveCookie({ env: (n) => (n === "RELEASE_COOKIE" ? env[n] : undefined) }),
        why: "the Elixir release's start script passes RELEASE_COOKIE to the node when it is set",
        warnings,
      };
    }
    if (release.cookieFile) {
      return {
        cookie: await readCookieFile(release.cookieFile, { ownerOnly: false }),
        why:
          "RELEASE_COOKIE is not set, so the Elixir release's start script passes releases/COOKIE to the node",
        warnings,
      };
    }
    throw new CookieError(
      "NOT_FOUND",
      "RELEASE_COOKIE, releases/COOKIE",
      `Cannot find the cookie of the Elixir release in '${release.root}': RELEASE_COOKIE is not set and there is no releases/COOKIE; set RELEASE_COOKIE, or give erlmesh the node's cookie with --cookie-file`,
    );
  }

  // relx: what the VM gets from vm.args, else (maybe) RELX_COOKIE, else the VM's own cookie file.
  const warnings = ignored(
    ["RELEASE_COOKIE", "ERLANG_COOKIE", "CLUSTER_ERLANG_COOKIE"],
    "a relx release's VM",
  );
  const fromArgs = vmArgsCookie(release, env);
  if (fromArgs) {
    return {
      cookie: checked(fromArgs.value, `-setcookie in ${fromArgs.file}`),
      why: "the relx release's vm.args gives the node -setcookie",
      warnings: [...warnings, ARGV_WARNING],
    };
  }
  const script = readText(`${release.root}/bin/${release.name}`) ?? "";
  const relxCookieReachesVm = /-setcookie\s+"?\$\{?RELX_COOKIE\b/.test(script);
  if (set("RELX_COOKIE")) {
    if (relxCookieReachesVm) {
      return {
        cookie: checked(env.RELX_COOKIE!, "RELX_COOKIE"),
        why: "the relx start script passes RELX_COOKIE to the node as -setcookie",
        warnings: [...warnings, ARGV_WARNING],
      };
    }
    warnings.push(
      "RELX_COOKIE is set, but this relx start script uses it only for its own commands (ping, rpc), not for the node: erlmesh takes the node's cookie file instead",
    );
  }
  try {
    const cookie = await resolveCookie({
      env: (n) => (n === "HOME" || n === "XDG_CONFIG_HOME" ? env[n] : undefined),
      home: env.HOME,
    });
    return {
      cookie,
      why: "the relx release's vm.args has no -setcookie, so the node reads its cookie file",
      warnings,
    };
  } catch (err) {
    if (!(err instanceof CookieError) || err.code !== "NOT_FOUND") throw err;
  }
  // No cookie the VM will read: it makes up a random one. The best erlmesh can do is its own sources.
  let cookie: Cookie;
  try {
    cookie = await resolveCookie({ env: (n) => env[n], home: env.HOME });
  } catch (err) {
    if (!(err instanceof CookieError) || err.code !== "NOT_FOUND") throw err;
    throw new CookieError(
      "NOT_FOUND",
      err.source,
      `Cannot find the cookie of the relx release in '${release.root}': its vm.args has no -setcookie and there is no ~/.erlang.cookie (the node would make up a random one); write the cluster's cookie to ~/.erlang.cookie (mode 0400) or give erlmesh --cookie-file`,
      { cause: err },
    );
  }
  warnings.push(
    `The relx release's vm.args has no -setcookie and there is no ~/.erlang.cookie, so the node will make up a random cookie: erlmesh uses ${cookie.source}, which the node does not read`,
  );
  return { cookie, why: "no cookie the node reads was found", warnings };
}

function checked(value: string, source: string): Cookie {
  if (value === "") {
    throw new CookieError("INVALID", source, `Cannot use the cookie from ${source}: it is empty`);
  }
  return new Cookie(value, source);
}

/** `-setcookie` in the relx release's vm.args (or vm.args.src, `${VAR}` replaced), if any. */
function vmArgsCookie(
  release: ReleaseInfo,
  env: Record<string, string | undefined>,
): { value: string; file: string } | undefined {
  const candidates = env.VMARGS_PATH ? [env.VMARGS_PATH] : [
    `${release.root}/vm.args`,
    ...(release.vsn ? [`${release.root}/releases/${release.vsn}/vm.args`] : []),
  ];
  for (const path of candidates) {
    for (const file of [`${path}.src`, path]) {
      const text = readText(file);
      if (text === undefined) continue;
      const expanded = file.endsWith(".src") ? text.replace(/\$\{([^}]*)\}/g, (_, v) => env[v] ?? "") : text;
      for (const line of expanded.split("\n")) {
        const m = /^\s*-setcookie\s+(\S+)/.exec(line);
        if (m) return { value: m[1].replace(/^(["'])(.*)\1$/, "$2"), file };
      }
      return undefined;
    }
  }
  return undefined;
}
