/**
 * The reconcile loop that keeps the local node meshed, the mesh status of a whole cluster, and peer
 * diagnosis.
 * @module
 */
export { ClusterError, type ClusterErrorCode } from "./errors.ts";
export {
  diagnosePeer,
  type DiagnosisCode,
  type PeerDiagnosis,
  probeDistPort,
  type ProbeOptions,
  probePeer,
} from "./diagnose.ts";
export {
  isRefusal,
  LocalLink,
  type LocalLinkOptions,
  REFUSED_BACKOFF,
  type RefusedBackoff,
  refusedDelayMs,
} from "./local.ts";
export {
  type ClusterEvent,
  type CycleReport,
  type MissingPeer,
  Reconciler,
  type ReconcilerCounters,
  type ReconcilerOptions,
} from "./reconcile.ts";
export {
  analyseMesh,
  meshDot,
  meshMatrix,
  type MeshNodeView,
  type MeshOptions,
  type MeshStatus,
  meshStatus,
  type MeshVerdictKind,
  type UnreachableNode,
} from "./mesh.ts";
export {
  type WaitAttempt,
  type WaitConditionName,
  type WaitConditions,
  type WaitConditionState,
  type WaitEpmdCheck,
  waitFor,
  type WaitOptions,
  type WaitReport,
  type WaitSelf,
} from "./wait.ts";
export {
  type CycleDiscoveryFacts,
  judgeMesh,
  localNodeView,
  type LocalNodeViewOptions,
  type LocalView,
  type MeshFacts,
  type MeshSnapshot,
  type MeshVerdict,
  type MeshVerdictCode,
  peerDiagnoser,
  type PeerDiagnoserOptions,
  type SnapshotDiscovery,
  type SnapshotError,
  type SnapshotHostFailure,
  type SnapshotLocal,
  snapshotOfCycle,
  type SnapshotOptions,
  type SnapshotOtherNodes,
  type SnapshotPeer,
  takeSnapshot,
} from "./snapshot.ts";
export { type PeerReason, type PeerReasonCode, snapshotReason } from "./reasons.ts";
export { judgeReadiness, type ReadinessRule, type ReadinessVerdict } from "./readiness.ts";
export { type NodeChange, nodeChange, WATCHER_SOURCE, watchNodes } from "./watch.ts";
export {
  type LinkConnection,
  type LocalConnect,
  type LocalEpmd,
  type LocalNodeLink,
  type LocalTarget,
} from "./local.ts";
export { Backoff, LOCAL_RETRY, PEER_RETRY, retryDelayMs, type RetryPolicy } from "./backoff.ts";
export { type Clock, ManualClock, realClock, type Timer } from "./clock.ts";
