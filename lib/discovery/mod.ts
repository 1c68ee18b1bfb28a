/**
 * Discovery: find the hosts of an Erlang cluster through DNS (a headless Service's SRV or A/AAAA
 * records), a static list, or the local EPMD, all behind one {@link DiscoverySource} interface; then
 * turn hosts into peer node names with {@link NodeEnumerator} (EPMD NAMES, cached per host, or the
 * naming rule `basename@host`).
 *
 * DNS names are always queried as absolute names (trailing dot): one query per lookup, never a walk of
 * the resolv.conf search list. Every query has a deadline. "No records found" means zero peers; other
 * failures keep the last good answer, marked `stale`.
 *
 * @example Find the peers of a StatefulSet
 * ```ts
 * import { NodeEnumerator, srvSource } from "./mod.ts";
 *
 * const source = srvSource({ name: "_epmd._tcp.app.default.svc.cluster.local.", timeoutMs: 1000 });
 * const enumerator = new NodeEnumerator({ basename: "app", useEpmd: true, timeoutMs: 2000 });
 *
 * const found = await source.discover();
 * if (found.error) console.warn(`${found.error.code}: ${found.error.message}${found.stale ? " (stale answer)" : ""}`);
 * const { peers, failures } = await enumerator.enumerate(found.hosts);
 * for (const peer of peers) console.log(peer.node, peer.port);
 * for (const f of failures) enumerator.invalidate(f.host);
 * ```
 *
 * @module
 */
export { DiscoveryError, type DiscoveryErrorCode, type DiscoveryErrorOptions } from "./errors.ts";
export {
  canonicalIp,
  dashedIp,
  type DiscoveredHost,
  type Discovery,
  type DiscoverySource,
  normalizeHost,
  type RecordType,
} from "./source.ts";
export {
  denoResolver,
  type FakeAnswer,
  FakeResolver,
  type NameServer,
  type ResolveOptions,
  type Resolver,
  type SrvRecord,
} from "./resolver.ts";
export { srvSource, type SrvSourceOptions } from "./dns_srv.ts";
export { aSource, type ASourceOptions } from "./dns_a.ts";
export { staticSource } from "./static.ts";
export { localEpmdSource, type LocalEpmdSourceOptions } from "./local_epmd.ts";
export {
  endpointCounts,
  type EndpointSliceObject,
  hostsOfSlices,
  KubernetesForbiddenError,
  kubernetesSource,
  type KubernetesSourceOptions,
  type MissingPermission,
  SERVICE_ACCOUNT_DIR,
  SERVICE_NAME_LABEL,
} from "./kubernetes.ts";
export {
  type Enumeration,
  type EnumerationFailure,
  isHelperName,
  type NamesFn,
  type NamesOptions,
  type NamesReply,
  NodeEnumerator,
  type NodeEnumeratorOptions,
  type Peer,
} from "./enumerate.ts";
