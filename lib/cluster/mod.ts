/**
 * The reconcile loop that keeps the local node meshed, the mesh status of a whole cluster, and peer
 * diagnosis.
 * @module
 */
export { type ClusterErrorCode, ClusterError } from "./errors.ts";
export { diagnosePeer, type PeerDiagnosis, probePeer, type ProbeOptions } from "./diagnose.ts";
export { LocalLink, type LocalLinkOptions } from "./local.ts";
export {
  type ClusterEvent,
  type CycleReport,
  type MissingPeer,
  pool,
  Reconciler,
  type ReconcilerCounters,
  type ReconcilerOptions,
} from "./reconcile.ts";
export { analyseMesh, meshDot, meshMatrix, type MeshNodeView, type MeshOptions, meshStatus, type MeshStatus } from "./mesh.ts";
