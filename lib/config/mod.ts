/**
 * erlmesh's configuration: one typed {@link Config} from flags, then environment (`ERLMESH_*`, then
 * the legacy variables of the original article, Elixir releases and the downward API), then an optional
 * YAML file, then defaults. Every key is described once, in {@link CONFIG_KEYS}; the command-line options
 * (`lib/cli/options.ts`) and docs/configuration.md (`tools/config_doc.ts`) are derived from it.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./mod.ts";
 *
 * const env: Record<string, string> = {
 *   K8S_HEADLESS_SVC: "app",
 *   POD_NAME: "app-0",
 *   POD_NAMESPACE: "default",
 *   RELEASE_DISTRIBUTION: "name",
 *   RELEASE_NODE: "app",
 * };
 * const cfg = await loadConfig({ env: (name) => env[name], resolvConf: "" });
 * cfg.node; // "app@app-0.app.default.svc.cluster.local"
 * cfg.sources.node; // "env RELEASE_NODE (host: POD_NAME)"
 * cfg.queries; // ["_epmd._tcp.app.default.svc.cluster.local."]
 * ```
 * @module
 */
export { ConfigError, type ConfigErrorCode, type ConfigErrorFields } from "./errors.ts";
export {
  type Config,
  CONFIG_FILE_ENV,
  CONFIG_FILE_FLAG,
  CONFIG_KEY_NAMES,
  CONFIG_KEYS,
  type ConfigKey,
  type DiscoveryKind,
  type HostForm,
  type KeySpec,
  type KubernetesFallback,
  type LegacyVariable,
  type LogFormat,
  type LogLevel,
  type ResolvedField,
} from "./schema.ts";
export {
  formatDuration,
  parseBoolean,
  parseDuration,
  type Readiness,
  splitList,
  type ValueType,
} from "./values.ts";
export { closeKeys, loadConfig, type LoadConfigInput, safeEnv, serviceNames } from "./load.ts";
export { type ResolvConfDefaults, resolvConfDefaults } from "./legacy.ts";
export {
  type PodContext,
  podHost,
  type PodIdentity,
  podIdentity,
  selfIdentity,
  serviceFqdn,
} from "./identity.ts";
