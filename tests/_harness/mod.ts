/**
 * Shared harness for tests that need real processes: OTP nodes (host OTP 25, chrooted OTP 27/29),
 * a simulated Kubernetes network (network namespaces as pods), Unbound as kube-dns, and a cluster
 * convenience tying them together. Everything started is stopped by `stop()`/`destroy()` or
 * `await using`, also when a test fails.
 *
 * @example
 * ```ts
 * import { createCluster, freePort, randomCookie, startNode } from "./_harness/mod.ts";
 *
 * await using node = await startNode({ name: "a@127.0.0.1", cookie: randomCookie(), epmdPort: freePort() });
 * await node.eval("nodes()."); // "[]"
 *
 * await using cluster = await createCluster({ pods: 2, kind: "statefulset", otpVersions: ["25", "27"] });
 * const a = await cluster.startNode(0);
 * await cluster.startNode(1);
 * await a.eval(`net_adm:ping('${cluster.pods[1].nodeName}').`); // "pong"
 * ```
 *
 * @module
 */

export * from "./prefix.ts";
export * from "./otp.ts";
export * from "./netns.ts";
export * from "./dns.ts";
export * from "./cluster.ts";
