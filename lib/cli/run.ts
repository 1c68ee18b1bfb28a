import { type Config, CONFIG_KEY_NAMES, ConfigError, loadConfig } from "../config/mod.ts";
import { setDistribution } from "../dist/transport.ts";
import { distributionFrom } from "./config_from.ts";
import { type Cookie, parseNodeName, readCookieFile } from "../dist/mod.ts";
import { detectRelease, type ReleaseInfo, releaseNodeCookie } from "../runtime/release.ts";
import { type RunEvent, runRelease } from "../runtime/run.ts";
import { keepRunningOnInternalErrors } from "./agent.ts";
import { reconcilerFrom } from "./cluster_setup.ts";
import { cookieFrom } from "./config_from.ts";
import { COMMANDS } from "./commands.ts";
import { UsageError } from "./errors.ts";
import { logger, setupLogging } from "./logging.ts";
import {
  type CommandDef,
  CONFIG_FILE_OPTION,
  configFlags,
  configOptions,
  durationValue,
  type ParsedCommandLine,
} from "./options.ts";
import { meshServices } from "./services.ts";

/** `erlmesh run [options] -- CMD ARGS...`: the container entrypoint. */
export const command: CommandDef = {
  name: "run",
  summary: COMMANDS.run.summary,
  args: [{
    name: "CMD",
    help: "the release's start command and its arguments, after --",
    required: true,
    variadic: true,
  }],
  options: [
    {
      long: "start-timeout",
      arg: "duration",
      key: "startTimeout",
      help: "how long the release's node may take to register with EPMD before erlmesh says so",
      defaultDoc: "60s",
    },
    {
      long: "identity",
      arg: "mode",
      key: "identity",
      help: "auto: give an Elixir release its Kubernetes node name when unset; none: never",
      defaultDoc: "auto",
    },
    CONFIG_FILE_OPTION,
    ...configOptions(CONFIG_KEY_NAMES),
  ],
  passThrough: true,
  notes: "Exits with the release's exit code (128+N when a signal N ended it). SIGTERM, SIGINT, SIGHUP, " +
    "SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded to the release.",
};

/** Runs `erlmesh run`. */
export async function execute(cli: ParsedCommandLine): Promise<number> {
  const argv = cli.args;
  const startTimeoutMs = durationValue(
    String(cli.values.startTimeout ?? "60s"),
    "--start-timeout",
    1,
    24 * 3_600_000,
  );
  const identity = cli.values.identity ?? "auto";
  if (identity !== "auto" && identity !== "none") {
    throw new UsageError(`Invalid --identity '${identity}': expected 'auto' or 'none'`);
  }
  const env = Deno.env.toObject();
  const release = detectRelease(argv[0]);
  const flags = configFlags(cli.values);

  // One load: an Elixir release without an identity of its own gets this pod's, by the one rule of
  // the configuration, and cfg.node is already the node it will run as.
  const elixirRelease = identity === "auto" && release.kind === "elixir" ? release.name : undefined;
  const cfg = await loadConfig({ flags, env: (n) => env[n], elixirRelease });
  // TLS distribution and a fixed distribution port, for every connection of the process.
  setDistribution(await distributionFrom(cfg));
  const added = cfg.releaseEnv ?? {};
  const childEnv = { ...env, ...added };

  await setupLogging(cfg.logFormat, cfg.logLevel);
  const log = logger(["erlmesh", "run"]);
  keepRunningOnInternalErrors(log);
  for (const [k, v] of Object.entries(added)) {
    log.info("Set {name}={value} for the release", { name: k, value: v });
  }
  const cookie = await releaseCookie(cfg, release, env);
  const alive = cfg.node ? parseNodeName(cfg.node).alive : cfg.basename ?? release.name;
  if (!alive) {
    throw new ConfigError(
      "INVALID",
      { key: "node", source: "default" },
      "Missing node: erlmesh run cannot tell which node the release starts; set --node (ERLMESH_NODE), RELEASE_NODE, ERLANG_NODENAME or --basename",
    );
  }
  const services = await meshServices(cfg);
  const reconciler = reconcilerFrom(
    cfg,
    cfg.node ? { localNode: cfg.node } : { localAlive: alive },
    cookie,
    services.onEvent,
    services.onCycle,
  );
  services.listen(reconciler);
  log.info("Starting {command}; meshing its node {node} through {source} (cookie from {cookieSource})", {
    command: argv.join(" "),
    node: cfg.node ?? `${alive}@?`,
    source: reconciler.source.description,
    cookieSource: cookie.source,
  });
  try {
    return await runRelease({
      command: argv,
      env: childEnv,
      alive,
      epmdPort: cfg.epmdPort,
      distPort: cfg.distPort,
      startTimeoutMs,
      reconciler,
      onEvent: (e) => logRunEvent(e, startTimeoutMs),
    });
  } finally {
    await services.close();
  }
}

/**
 * The cookie the release's node will run with: `--cookie-file` (`ERLMESH_COOKIE_FILE`, `cookieFile`)
 * when given; else, for a mix or relx release, the one its start script and VM take
 * ({@link releaseNodeCookie}); else the usual sources. Logs which one and why.
 */
async function releaseCookie(
  cfg: Config,
  release: ReleaseInfo,
  env: Record<string, string>,
): Promise<Cookie> {
  const log = logger(["erlmesh", "run"]);
  if (cfg.cookieFile !== undefined) {
    const cookie = await readCookieFile(cfg.cookieFile);
    log.info("Cookie from {cookieSource}: an explicit cookie file wins over the release's own", {
      event: "cookie",
      cookieSource: cookie.source,
    });
    return cookie;
  }
  const found = await releaseNodeCookie(release, env);
  if (found === undefined) {
    const cookie = await cookieFrom(cfg);
    log.info(
      "Cookie from {cookieSource}: the command is no mix or relx release (bin/NAME beside releases/), so erlmesh takes its own sources",
      { event: "cookie", cookieSource: cookie.source },
    );
    return cookie;
  }
  for (const warning of found.warnings) log.warn("{warning}", { event: "cookie_warning", warning });
  log.info("Cookie from {cookieSource}: {why}", {
    event: "cookie",
    cookieSource: found.cookie.source,
    why: found.why,
  });
  return found.cookie;
}

function logRunEvent(e: RunEvent, startTimeoutMs: number): void {
  const log = logger(["erlmesh", "run"]);
  switch (e.type) {
    case "started":
      log.info("Started the release (pid {pid})", {
        event: "release_started",
        pid: e.pid,
        command: e.command,
      });
      return;
    case "registered":
      log.info("The release's node '{alive}' registered with EPMD after {afterMs} ms", {
        event: "registered",
        ...e,
      });
      return;
    case "not_registered":
      log.error(
        "The release's node never registered with the local EPMD within {limit}: looked for '{alive}', EPMD knows {known}; is it started with -name/-sname (RELEASE_DISTRIBUTION not 'none')? Still watching",
        {
          event: "not_registered",
          limit: `${startTimeoutMs} ms`,
          alive: e.alive,
          known: e.known.length ? e.known.join(", ") : "no nodes",
        },
      );
      return;
    case "signal":
      log.info("Forwarding {signal} to the release", { event: "signal", signal: e.signal });
      return;
    case "exited":
      log.info("The release exited with code {code}", {
        event: "release_exited",
        code: e.code,
        signal: e.signal,
      });
      return;
    case "no_reaper":
      log.warn("Cannot reap orphaned processes ({reason}); run the binary with --allow-ffi", {
        event: "no_reaper",
        reason: e.reason,
      });
      return;
  }
}
