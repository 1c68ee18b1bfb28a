# erlmesh: one static-ish binary to copy into an Erlang/Elixir release image.
#
#   docker build -t erlmesh .
#   # in your release's Dockerfile:
#   COPY --from=erlmesh /usr/local/bin/erlmesh /usr/local/bin/erlmesh
#   ENTRYPOINT ["/usr/local/bin/erlmesh", "run", "--", "/app/bin/app", "foreground"]

FROM denoland/deno:debian-2.9.1 AS build
WORKDIR /src
# Dependency manifests first, so the dependency layer is cached across source changes.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts mod.ts ./
COPY lib ./lib
RUN deno task compile && ./dist/erlmesh --version

FROM debian:bookworm-slim
COPY --from=build /src/dist/erlmesh /usr/local/bin/erlmesh
# Numeric user: Kubernetes can check runAsNonRoot without a passwd entry.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/erlmesh"]
CMD ["--help"]
