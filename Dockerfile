# syntax=docker/dockerfile:1
# Furrow container image: one binary, every role (`furrow up|collector|enrich|load|micro|...`).
#
#   docker build -t furrow:0.1.0 .
#   docker run --read-only --tmpfs /tmp -v furrow-data:/var/lib/furrow -p 8080:8080 furrow:0.1.0 up
#
# Build stage: full npm install + TypeScript compile, done by scripts/build-runtime-tree.sh, which also
# assembles the runtime tree (production dependencies only) in /runtime. The same script runs without
# Docker in test/runtime-tree.test.ts, so what the tests start is what the image ships.
# Runtime stage: distroless Node 20 (glibc + libstdc++ for DuckDB's native binding, no shell, no package
# manager), numeric non-root user 10001, tini as PID 1, read-only root filesystem friendly (all writes go
# to /var/lib/furrow and /tmp, which are volumes).
# Pin the base images by digest at release time (`docker buildx imagetools inspect <image>` gives it).

ARG NODE_VERSION=20.20.2

FROM docker.io/library/node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY scripts/build-runtime-tree.sh ./scripts/
COPY LICENSE README.md ./
RUN bash scripts/build-runtime-tree.sh /runtime \
 && mkdir -p /rootfs/var/lib/furrow /rootfs/tmp \
 && chown -R 10001:10001 /rootfs/var/lib/furrow \
 && chmod 1777 /rootfs/tmp

FROM gcr.io/distroless/nodejs20-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="furrow" \
      org.opencontainers.image.description="Snowplow-compatible behavioural-data pipeline" \
      org.opencontainers.image.licenses="Apache-2.0"
# tini-static: no shared libraries needed, so it runs in distroless as-is
COPY --from=build /usr/bin/tini-static /usr/bin/tini
COPY --from=build --chown=0:0 /runtime /app
COPY --from=build /rootfs/ /
ENV NODE_ENV=production \
    FURROW_DATA_DIR=/var/lib/furrow \
    FURROW_HOST=0.0.0.0 \
    FURROW_PORT=8080
WORKDIR /var/lib/furrow
USER 10001:10001
VOLUME ["/var/lib/furrow", "/tmp"]
EXPOSE 8080
# `furrow` is /app/bin/furrow.js run by the image's node; tini reaps children and forwards SIGTERM, so the
# graceful drain (src/runtime/lifecycle.ts) runs on `docker stop` and on pod termination.
ENTRYPOINT ["/usr/bin/tini", "--", "/nodejs/bin/node", "--single-threaded-gc", "/app/bin/furrow.js"]
CMD ["up"]
