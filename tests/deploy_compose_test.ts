/**
 * deploy/compose/compose.yaml as written: its services, names, environment, static host list, cookie secret
 * and healthchecks, run in the simulated network with the example image as the Dockerfile defines it
 * (tests/_compose.ts; there is no Docker engine here). Checked from a container on the same network.
 *
 * Heavy (network namespaces, 3 release nodes): by hand, run it under the shared lock,
 * `flock /tmp/erlmesh-heavy.lock deno test -A tests/deploy_compose_test.ts`.
 */
import assert from "node:assert/strict";
import { randomCookie } from "./_harness/otp.ts";
import { tempPrefix } from "./_harness/prefix.ts";
import { waitUntil } from "./_harness/wait.ts";
import { buildErlangRelease, releaseToolsReason } from "./_releases.ts";
import { kubeletUnavailableReason } from "./_kubelet.ts";
import {
  COMPOSE_FILE,
  composeUp,
  DOCKERFILE,
  parseCompose,
  parseDockerfile,
  stageConfig,
} from "./_compose.ts";

const composeText = await Deno.readTextFile(COMPOSE_FILE);
const compose = parseCompose(composeText);
const NODES = ["app1", "app2", "app3"];

Deno.test("compose file: three nodes on one network, static hosts, node names, hardened, cookie only from a file", () => {
  const services = compose.services;
  assert.deepEqual(Object.keys(services).sort(), ["app1", "app2", "app3", "cookie"]);
  assert.ok(!/setcookie/i.test(composeText), "no -setcookie anywhere");
  for (const name of NODES) {
    const s = services[name];
    assert.deepEqual(Object.keys(s.networks), ["mesh"], name);
    // A long name's host part needs a dot: the node's alias on the network.
    assert.deepEqual(s.networks.mesh.aliases, [`${name}.mesh.internal`]);
    assert.equal(s.hostname, name);
    assert.equal(s.environment.NODE_NAME, `app@${name}.mesh.internal`);
    assert.equal(s.environment.ERLANG_NODENAME, s.environment.NODE_NAME);
    assert.deepEqual(String(s.environment.ERLMESH_HOSTS).split(","), NODES.map((n) => `${n}.mesh.internal`));
    assert.equal(s.entrypoint, undefined, "the image's entrypoint: erlmesh run -- the release");
    assert.match(String(s.user), /^[1-9][0-9]*:[1-9][0-9]*$/, "numeric non-root user");
    assert.equal(s.read_only, true);
    assert.deepEqual(s.cap_drop, ["ALL"]);
    assert.ok(s.security_opt.includes("no-new-privileges:true"));
    assert.ok(s.tmpfs.includes("/tmp"));
    assert.deepEqual(s.healthcheck.test, ["CMD", "/usr/local/bin/erlmesh", "probe", "readiness"]);
    assert.equal(s.depends_on.cookie.condition, "service_completed_successfully");
    for (const [k, v] of Object.entries(s.environment)) {
      assert.ok(!/COOKIE/i.test(k), `${name}: cookie variable ${k}=${v}`);
    }
  }
  const cookie = services.cookie;
  assert.deepEqual(cookie.entrypoint.slice(0, 3), ["install", "-m", "0400"]);
  assert.deepEqual(cookie.secrets, ["erlang_cookie"]);
  assert.equal(compose.secrets.erlang_cookie.file, "./erlang.cookie");
  assert.equal(compose.secrets.erlang_cookie.environment, undefined);
});

const why = kubeletUnavailableReason() ?? releaseToolsReason("erlang");
if (why) console.warn(`SKIP running the compose file in the simulated network: ${why}`);

Deno.test({
  name: `compose file as written: the three nodes mesh, one stops cleanly and rejoins${
    why ? ` (SKIPPED: ${why})` : ""
  }`,
  ignore: why !== undefined,
  async fn(t) {
    const example = stageConfig(
      parseDockerfile(await Deno.readTextFile(DOCKERFILE)).find((s) => s.name === "example")!,
    );
    const project = await Deno.makeTempDir({ prefix: tempPrefix("compose-project") });
    const cookie = randomCookie();
    try {
      // What a user does once: the secret file, owner-only.
      await Deno.writeTextFile(`${project}/erlang.cookie`, cookie, { mode: 0o400 });
      await Deno.writeTextFile(`${project}/watch.cookie`, cookie, { mode: 0o400 });
      await using p = await composeUp({
        compose,
        projectDir: project,
        releaseRoot: await buildErlangRelease(),
        images: {
          "erlmesh-example": {
            erlmesh: true,
            releasePath: "/opt/app",
            user: Number(example.user?.split(":")[0]),
            env: example.env,
            entrypoint: example.entrypoint,
            cmd: example.cmd,
          },
        },
      });
      const meshed = async (nodes: string[]) => {
        let last: unknown;
        try {
          return await waitUntil(async () => {
            const m = await p.mesh(`${project}/watch.cookie`, nodes);
            last = m;
            return m.code === 0 && m.json?.fullMesh && m.json.nodes.length === nodes.length && m.json;
          }, { timeoutMs: 60_000, intervalMs: 250, what: `a full mesh of ${nodes}` });
        } catch (e) {
          const logs = [...p.containers.values()].map((c) => `--- ${c.name}\n${c.log()}`).join("\n");
          throw new Error(`${(e as Error).message}\nlast: ${JSON.stringify(last)}\n${logs.slice(-15000)}`);
        }
      };

      await t.step(
        "up: the cookie is copied owner-only for the nodes' user, the nodes mesh, all healthy",
        async () => {
          await p.up();
          const st = await Deno.stat(`${p.dir}/volume-cookie/.erlang.cookie`);
          assert.equal(st.mode! & 0o777, 0o400);
          assert.equal(st.uid, 65532);
          await meshed(NODES.map((n) => `app@${n}.mesh.internal`));
          await waitUntil(() => NODES.every((n) => p.containers.get(n)!.health === "healthy"), {
            timeoutMs: 30_000,
            what: "every node healthy",
          });
          for (const n of NODES) {
            assert.ok(!p.containers.get(n)!.log().includes(cookie), `${n}: no cookie in logs`);
          }
        },
      );

      await t.step(
        "the README's check: 'docker compose exec app1 erlmesh mesh' shows the full mesh",
        async () => {
          const r = await p.exec("app1", ["/usr/local/bin/erlmesh", "mesh"]);
          assert.equal(r.code, 0, r.output);
          assert.match(r.output, /Full mesh: all 3 nodes are connected to each other/);
          assert.ok(!r.output.includes(cookie));
        },
      );

      await t.step("stop app3: SIGTERM stops it cleanly (exit 0); app1 and app2 stay meshed", async () => {
        const s = await p.stop("app3");
        assert.deepEqual([s?.code, s?.signal], [0, null], p.containers.get("app3")!.log());
        await meshed(["app@app1.mesh.internal", "app@app2.mesh.internal"]);
      });

      await t.step("start app3 again: it rejoins", async () => {
        p.start("app3");
        await meshed(NODES.map((n) => `app@${n}.mesh.internal`));
      });
    } finally {
      await Deno.remove(project, { recursive: true }).catch(() => {});
    }
  },
});
