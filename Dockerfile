# One image for every Herald component: `herald ingest`, `herald controller` and the
# `herald worker` pods the controller creates all run it.
#
#   docker build -t herald:dev .          (make image)
#   docker run --rm herald:dev --help
#
# Node 24 LTS, the Node the tests run on (test/tools/node-version pins the exact release they use;
# NODE_IMAGE=node:24.x.y-bookworm-slim builds on that same release).
#
# Expected size: about 285 MB uncompressed (`docker image ls`), about 95 MB compressed in a
# registry. Roughly 225 MB of that is the node:24 bookworm-slim base (Debian + Node + npm; Node 24's
# binary is 127 MB, Node 20's was 99 MB); Herald adds ~57 MB of production node_modules (most of
# it @kubernetes/client-node, after stripping type declarations and source maps; measured by
# test/image), ~1 MB of compiled JavaScript and tini (~30 KB).
# test/image/layout.test.ts builds the same /app layout without Docker and fails if Herald's
# part grows past its budget.
#
# Stages (keep test/image/build-layout.sh in step: the test checks every npm/find command here
# appears there verbatim):
#   deps     production dependencies only, no install scripts, no .d.ts/.map files
#   build    all dependencies + tsc -> /app/dist
#   tini     a tiny init as PID 1, so SIGTERM reaches node and zombies are reaped
#   runtime  base + node_modules from deps + dist from build; non-root, read-only-rootfs friendly

# No `# syntax=` line on purpose: the builder's built-in Dockerfile frontend supports everything
# used here (RUN --mount=type=cache), and without the line BuildKit does not pull the
# docker/dockerfile frontend image from a registry, so the image also builds offline.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script in the tree (msgpackr-extract) is optional and finds its
# prebuilt binary at run time without it.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund
RUN find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS tini
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Kubernetes-native event delivery: ingest, controller and webhook workers" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/herald-dev/herald"
ENV NODE_ENV=production
WORKDIR /app
# Everything is owned by root and only readable by the runtime user: the process cannot modify its
# own code, and nothing under / is written at run time (readOnlyRootFilesystem: true works; the
# chart still mounts an emptyDir at /tmp for libraries that want a scratch directory).
COPY --from=tini /usr/bin/tini /usr/bin/tini
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# `herald` on PATH, so `kubectl exec deploy/herald-ingest -- herald dlq list ...` works (docs/runbook.md).
RUN ln -s /app/dist/cmd/herald.js /usr/local/bin/herald
# Numeric so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
EXPOSE 8080
# tini as PID 1 forwards SIGTERM to node (Herald drains and exits on it) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cmd/herald.js"]
CMD ["--help"]
