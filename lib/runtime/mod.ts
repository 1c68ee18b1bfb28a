/**
 * `run` mode (the release as a child of erlmesh, PID 1 duties), health probes and metrics.
 * @module
 */
export { RuntimeError, type RuntimeErrorCode } from "./errors.ts";
export { exitCodeOf, FORWARDED_SIGNALS, SIGNAL_NUMBERS } from "./signals.ts";
export { type Reaper, startReaper } from "./reaper.ts";
export { detectRelease, type ReleaseInfo } from "./release.ts";
export { type RunEvent, runRelease, type RunReleaseOptions } from "./run.ts";
export { judge, type ProbeKind, type ProbeResult } from "./health.ts";
export { MeshMetrics } from "./metrics.ts";
export { type HealthServerOptions, parseListen, serveHealth } from "./http.ts";
