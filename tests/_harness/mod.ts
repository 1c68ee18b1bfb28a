/**
 * Shared harness for tests that need real processes: OTP nodes (host OTP 25, chrooted OTP 27/29),
 * a simulated Kubernetes network (network namespaces as pods), Unbound as kube-dns, and a cluster
 * convenience tying them together.
 *
 * @example
 * ```ts
 * import { freePort, randomCookie, startNode } from "./_harness/mod.ts";
 * await using node = await startNode({ name: "a@127.0.0.1", cookie: randomCookie(), epmdPort: freePort() });
 * await node.eval("nodes().");
 * ```
 *
 * @module
 */

export * from "./prefix.ts";
export * from "./otp.ts";
