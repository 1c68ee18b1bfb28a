/**
 * The Dockerfile, read as Docker would read it (no Docker engine here, and `deno compile` needs a download
 * server these machines cannot reach, so the images are not built): its stages, a numeric non-root USER,
 * exec-form ENTRYPOINTs, and that it builds with the same commands and versions as CI, the README and the
 * tests' own release build, from paths that exist.
 */
import assert from "node:assert/strict";
import { DOCKERFILE, parseDockerfile, stageConfig } from "./_compose.ts";
import { ERLANG_RELEASE_NAME } from "./_releases.ts";
import { DEPLOY_K8S } from "./_kubelet.ts";
import { parse } from "yaml";

const ROOT = new URL("../", import.meta.url).pathname;
const stages = parseDockerfile(await Deno.readTextFile(DOCKERFILE));
const stage = (name: string) => {
  const s = stages.find((x) => x.name === name);
  assert.ok(s, `a stage '${name}'`);
  return s;
};
const runs = (name: string) => stage(name).instructions.filter((i) => i.op === "RUN").map((i) => i.args);

Deno.test("Dockerfile: the stages, in order, the example last (the default target)", () => {
  assert.deepEqual(stages.map((s) => s.name), ["build", "release", "erlmesh-binary", "erlmesh", "example"]);
});

Deno.test("Dockerfile: erlmesh is compiled with 'deno task compile' on the Deno that CI and the README use", async () => {
  const ci = await Deno.readTextFile(`${ROOT}.ci/run`);
  const version = /^DENO_VERSION=(\S+)$/m.exec(ci)?.[1];
  assert.ok(version, ".ci/run names its Deno version");
  assert.equal(stage("build").from, `denoland/deno:debian-${version}`);
  assert.ok(runs("build").some((r) => r.split("&&").map((x) => x.trim()).includes("deno task compile")));
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  assert.match(
    tasks.compile,
    /^deno task bundle && deno compile .* --output dist\/erlmesh dist\/bundle\/bundle_main\.js$/,
  );
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  assert.ok(readme.includes(`deno@${version}`), "the README installs the same Deno");
  assert.ok(readme.includes("deno task compile"), "the README builds the binary the same way");
  for (const s of stages) {
    for (const i of s.instructions.filter((i) => i.op === "COPY" && !i.args.startsWith("--from"))) {
      const paths = i.args.split(/\s+/).slice(0, -1);
      for (const p of paths) await Deno.stat(`${ROOT}${p}`); // every source is in the build context
    }
  }
});

Deno.test("Dockerfile: the example release is built as the tests build it (rebar3 release of the fixture)", async () => {
  const copy = stage("release").instructions.find((i) => i.op === "COPY")!;
  assert.match(copy.args, /^tests\/fixtures\/erlang_app\s/);
  assert.ok(runs("release").some((r) => r.includes("rebar3 release")));
  const releases = await Deno.readTextFile(`${ROOT}tests/_releases.ts`);
  assert.ok(releases.includes('["rebar3", "release"]'), "tests/_releases.ts runs the same command");
  const example = stage("example");
  const fromRelease = example.instructions.find((i) =>
    i.op === "COPY" && i.args.startsWith("--from=release")
  );
  assert.equal(fromRelease?.args, `--from=release /build/_build/default/rel/${ERLANG_RELEASE_NAME} /opt/app`);
  // include_erts false (the fixture's rebar.config): the image needs Debian's OTP.
  const rebar = await Deno.readTextFile(`${ROOT}tests/fixtures/erlang_app/rebar.config`);
  assert.match(rebar, /\{include_erts, false\}/);
  assert.ok(runs("example").some((r) => r.includes("erlang-base")));
});

Deno.test("Dockerfile: binary-only image, and runnable images on a small glibc base, numeric non-root USER, exec-form ENTRYPOINT", () => {
  const bin = stage("erlmesh-binary");
  assert.equal(bin.from, "scratch");
  assert.deepEqual(bin.instructions, [{
    op: "COPY",
    args: "--from=build /src/dist/erlmesh /usr/local/bin/erlmesh",
  }]);
  for (const name of ["erlmesh", "example"]) {
    const s = stage(name);
    assert.match(s.from, /^debian:[a-z]+-slim$/, `${name}: a small glibc image (deno compile links glibc)`);
    const c = stageConfig(s);
    assert.match(c.user ?? "", /^[1-9][0-9]*:[1-9][0-9]*$/, `${name}: numeric non-root USER`);
    assert.equal(c.entrypoint?.[0], "/usr/local/bin/erlmesh", name);
    assert.ok(
      s.instructions.some((i) =>
        i.op === "COPY" && i.args === "--from=build /src/dist/erlmesh /usr/local/bin/erlmesh"
      ),
    );
  }
  assert.deepEqual(stageConfig(stage("example")).entrypoint, [
    "/usr/local/bin/erlmesh",
    "run",
    "--",
    "/opt/app/bin/demo_app",
    "foreground",
  ]);
});

Deno.test("Dockerfile and manifests agree: the StatefulSet runs the example image's entrypoint as its USER", async () => {
  const example = stageConfig(stage("example"));
  const sts = parse(await Deno.readTextFile(`${DEPLOY_K8S}/base/statefulset.yaml`));
  const app = sts.spec.template.spec.containers.find((c: { name: string }) => c.name === "app");
  assert.deepEqual([...app.command, ...app.args], example.entrypoint);
  assert.equal(String(sts.spec.template.spec.securityContext.runAsUser), example.user!.split(":")[0]);
  assert.equal(String(sts.spec.template.spec.securityContext.runAsGroup), example.user!.split(":")[1]);
  for (const [k, v] of Object.entries(example.env)) {
    const e = app.env.find((e: { name: string }) => e.name === k);
    assert.equal(e?.value, v, `the manifest sets ${k} as the image does`);
  }
});
