import type { Config } from "../config/mod.ts";
import { ConfigError } from "../config/mod.ts";
import { basenameOf } from "./cluster_setup.ts";

/** Which local node to work on: its full name, or its alive part to learn the name from EPMD and the handshake. */
export function localTarget(cfg: Config): { localNode?: string; localAlive?: string } {
  if (cfg.node) return { localNode: cfg.node };
  const alive = basenameOf(cfg);
  if (alive) return { localAlive: alive };
  throw new ConfigError(
    "INVALID",
    { key: "node", source: "default" },
    "Missing node: erlmesh cannot tell which local node to mesh; set --node (ERLMESH_NODE), RELEASE_NODE, ERLANG_NODENAME, or at least --basename",
  );
}
