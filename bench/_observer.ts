/**
 * An observer for the cluster benchmark: a hidden OTP node in the simulated network's node namespace
 * (the bridge, where a debug pod or Prometheus would sit) that asks every watched node for `nodes()`
 * every 100 ms, each node on its own, and records every change with its time. "Full mesh" read from it
 * is what a user would see; no agent's own view can flatter it.
 *
 * It resolves the pods' names from its own hosts table (`inet_db:add_host`, lookup `file` only), so it
 * asks no DNS server and does not count in the DNS figures; once connected it makes no EPMD connection.
 *
 * @module
 */
import { type Cluster, type ClusterPod, type OtpNode, startNode } from "../tests/_harness/mod.ts";

/** One change seen by the observer: `peers` is the node's sorted `nodes()`, or null when it did not answer. */
export interface Seen {
  t: number;
  node: string;
  peers: string[] | null;
}

const POLL_MS = 100;

const OBSERVER = `
begin
  ok = inet_db:set_lookup([file]),
  Now = fun() -> erlang:system_time(millisecond) end,
  Poll = fun P(N, Col, Last) ->
    T0 = Now(),
    R = try lists:sort(erpc:call(N, erlang, nodes, [], 1000)) catch _:_ -> down end,
    case R of
      Last -> ok;
      _ -> Col ! {seen, Now(), N, R}
    end,
    timer:sleep(max(0, T0 + ${POLL_MS} - Now())),
    P(N, Col, R)
  end,
  Col = spawn(fun() ->
    Loop = fun L(Acc, Watched) ->
      receive
        {seen, T, N, R} -> L([{T, N, R} | Acc], Watched);
        {watch, N} ->
          case lists:member(N, Watched) of
            true -> L(Acc, Watched);
            false -> Self = self(), spawn(fun() -> Poll(N, Self, undefined) end), L(Acc, [N | Watched])
          end;
        {get, From, Ref} -> From ! {Ref, lists:reverse(Acc)}, L(Acc, Watched)
      end
    end,
    Loop([], [])
  end),
  register(bench_obs, Col),
  ok
end.`;

const READ = `
begin
  R = make_ref(),
  bench_obs ! {get, self(), R},
  receive
    {R, L} ->
      lists:flatten([io_lib:format("~b ~s ~s;", [T, N, case S of
        down -> "down";
        [] -> "-";
        _ -> lists:join(",", [atom_to_list(X) || X <- S])
      end]) || {T, N, S} <- L])
  after 5000 -> timeout
  end
end.`;

/** The first time at or after `from` when every node of `expected` answered with all the others among its `nodes()`. */
export function fullAt(seen: Seen[], expected: string[], from: number): number | undefined {
  const sorted = [...seen].sort((a, b) => a.t - b.t);
  const want = new Set(expected);
  const cur = new Map<string, string[] | null>();
  const full = () =>
    expected.every((n) => {
      const peers = cur.get(n);
      if (!peers) return false;
      let k = 0;
      for (const p of peers) if (p !== n && want.has(p)) k++;
      return k === expected.length - 1;
    });
  let i = 0;
  while (i < sorted.length && sorted[i].t <= from) cur.set(sorted[i].node, sorted[i++].peers);
  if (full()) return from;
  while (i < sorted.length) {
    const t = sorted[i].t;
    while (i < sorted.length && sorted[i].t === t) cur.set(sorted[i].node, sorted[i++].peers);
    if (full()) return t;
  }
  return undefined;
}

/** The last state of each node. */
export function latest(seen: Seen[]): Map<string, string[] | null> {
  const cur = new Map<string, string[] | null>();
  for (const s of [...seen].sort((a, b) => a.t - b.t)) cur.set(s.node, s.peers);
  return cur;
}

/** Parses what {@link READ} returns. */
export function parseSeen(text: string): Seen[] {
  const body = text.replace(/^"|"$/g, "");
  if (body === "[]" || body === "") return [];
  return body.split(";").filter((x) => x).map((e) => {
    const [t, node, peers] = e.split(" ");
    return { t: Number(t), node, peers: peers === "down" ? null : peers === "-" ? [] : peers.split(",") };
  });
}

/** The observer node; see the module comment. */
export class Observer implements AsyncDisposable {
  readonly node: OtpNode;
  constructor(node: OtpNode) {
    this.node = node;
  }

  /** Starts polling the pod's node (idempotent); its name is resolved from the observer's hosts table. */
  async watch(pod: ClusterPod): Promise<void> {
    const host = pod.nodeName.slice(pod.nodeName.indexOf("@") + 1);
    const r = await this.node.eval(
      `{ok, A} = inet:parse_address("${pod.ip}"), inet_db:add_host(A, ["${host}"]), ` +
        `bench_obs ! {watch, '${pod.nodeName}'}, ok.`,
      5000,
    );
    if (r !== "ok") throw new Error(`Cannot watch '${pod.nodeName}' from the observer: ${r}`);
  }

  /** Everything seen so far. */
  async seen(): Promise<Seen[]> {
    const r = await this.node.eval(READ, 10_000);
    if (r === "timeout") throw new Error("Cannot read the observer's timeline: no answer within 5 s");
    return parseSeen(r);
  }

  /**
   * Waits until the nodes of `pods` are fully meshed as seen from here; ms from `from` (0 when already
   * meshed then), or null when not within `deadlineMs` of now.
   */
  async waitFull(pods: ClusterPod[], from: number, deadlineMs = 30_000): Promise<number | null> {
    const expected = pods.map((p) => p.nodeName);
    const end = Date.now() + deadlineMs;
    for (;;) {
      const t = fullAt(await this.seen(), expected, from);
      if (t !== undefined) return t - from;
      if (Date.now() > end) return null;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Waits until `pod` is cut off as seen from here: none of `others` lists it and it lists none of
   * them (or does not answer). Whether it happened within `deadlineMs`.
   */
  async waitDropped(pod: ClusterPod, others: ClusterPod[], deadlineMs = 30_000): Promise<boolean> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const cur = latest(await this.seen());
      const own = cur.get(pod.nodeName);
      const ok = others.every((o) => !(cur.get(o.nodeName) ?? []).includes(pod.nodeName)) &&
        (!own || others.every((o) => !own.includes(o.nodeName)));
      if (ok) return true;
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  stop(): Promise<void> {
    return this.node.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Starts the observer in the cluster's node namespace, named `obs@<gateway>`, hidden (`inet6_tcp` in an
 * IPv6-only cluster).
 */
export async function startObserver(cluster: Cluster, args: string[] = []): Promise<Observer> {
  const node = await startNode({
    name: `obs@${cluster.network.gateway}`,
    nameKind: "long",
    cookie: cluster.cookie,
    netns: cluster.network.nodeNetns,
    args: [
      "-hidden",
      ...(cluster.ipFamily === 6 && !args.includes("-proto_dist") ? ["-proto_dist", "inet6_tcp"] : []),
      ...args,
    ],
  });
  const obs = new Observer(node);
  try {
    const r = await node.eval(OBSERVER, 5000);
    if (r !== "ok") throw new Error(`Cannot start the observer's poller: ${r}`);
  } catch (e) {
    await node.stop();
    throw e;
  }
  return obs;
}
