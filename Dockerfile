# erlmesh images (multi-stage). Targets:
#
#   docker build --target erlmesh-binary -t erlmesh-binary:0.1.0 .  # only /usr/local/bin/erlmesh, for COPY --from
#   docker build --target erlmesh -t erlmesh:0.1.0 .                # erlmesh on a small glibc image (the sidecar)
#   docker build -t erlmesh-example:0.1.0 .                          # the example release with erlmesh as entrypoint
#
# In your own release image, two lines are enough:
#
#   COPY --from=erlmesh-binary:0.1.0 /usr/local/bin/erlmesh /usr/local/bin/erlmesh
#   ENTRYPOINT ["/usr/local/bin/erlmesh", "run", "--", "/opt/app/bin/app", "foreground"]
#
# The stages build with the same commands as the README and CI: `deno task compile` for erlmesh (Deno
# 2.9.1, as .ci/run installs), `rebar3 release` for the example release (tests/_releases.ts).

# ---- erlmesh, compiled to one file ------------------------------------------------------------------
FROM denoland/deno:debian-2.9.1 AS build
WORKDIR /src
# Dependency manifests first, so the dependency layer is cached across source changes.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY deploy/compile.json ./deploy/
COPY main.ts mod.ts ./
COPY lib ./lib
# `deno task compile` bundles first (`deno task bundle`: one chunk per command, lib/cli/bundle_main.ts) and
# compiles the bundle; every command's --help loads its chunk once in the real binary.
RUN deno task compile && ./dist/erlmesh --version \
 && for c in run agent wait probe names ping nodes discover status mesh; do ./dist/erlmesh "$c" --help >/dev/null; done

# ---- the example release: the tests' rebar3 release, built as the tests build it ----------------------
FROM debian:bookworm-slim AS release
RUN apt-get update \
 && apt-get install -y --no-install-recommends erlang-base rebar3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY tests/fixtures/erlang_app ./
RUN rebar3 release && test -x _build/default/rel/demo_app/bin/demo_app

# ---- only the binary, for `COPY --from` into any release image --------------------------------------------
FROM scratch AS erlmesh-binary
COPY --from=build /src/dist/erlmesh /usr/local/bin/erlmesh

# ---- erlmesh on a small glibc image: the sidecar (`erlmesh agent`) and the init container's `wait` ------
FROM debian:bookworm-slim AS erlmesh
COPY --from=build /src/dist/erlmesh /usr/local/bin/erlmesh
# Numeric user: Kubernetes can check runAsNonRoot without a passwd entry.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/erlmesh"]
CMD ["--help"]

# ---- the example: the release (its OTP from Debian, include_erts false) with erlmesh as entrypoint -----
FROM debian:bookworm-slim AS example
RUN apt-get update \
 && apt-get install -y --no-install-recommends erlang-base \
 && rm -rf /var/lib/apt/lists/*
COPY --from=release /build/_build/default/rel/demo_app /opt/app
COPY --from=build /src/dist/erlmesh /usr/local/bin/erlmesh
ENV HOME=/home/app RELX_OUT_FILE_PATH=/tmp ERL_CRASH_DUMP=/tmp/erl_crash.dump
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/erlmesh", "run", "--", "/opt/app/bin/demo_app", "foreground"]
