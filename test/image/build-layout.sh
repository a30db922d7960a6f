#!/usr/bin/env bash
# Builds the image's /app layout without Docker, stage by stage as the Dockerfile does, so a broken
# COPY path or build step fails here (test/image/layout.test.ts) and not only in `docker build`.
#
#   bash test/image/build-layout.sh OUTDIR     OUTDIR becomes what the image has under /app
#
# Mirrors, and is checked against, the Dockerfile: the *_context arrays are its COPY sources per
# stage, and each npm/find command below appears there verbatim. The differences are only where
# Docker is needed: no base image (the machine's node and npm run the commands), npm reads its cache
# first (npm_config_prefer_offline), and tini and the /usr/local/bin/herald link are not made.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:?usage: build-layout.sh OUTDIR}"

# COPY sources (relative to the build context) of each stage; the test compares them with the Dockerfile.
deps_context=(package.json package-lock.json)
build_context=(package.json package-lock.json tsconfig.json tsconfig.build.json cmd src)
runtime_context=(package.json)

log() { printf '[build-layout] %s\n' "$*" >&2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Same results as a fresh download (npm ci verifies every tarball against package-lock.json's
# integrity hashes), without the network when the cache already has them.
export npm_config_prefer_offline=true
export npm_config_update_notifier=false

# stage_copy DIR PATH...: COPY PATH... DIR/
stage_copy() {
  local dir="$1"
  shift
  mkdir -p "$dir"
  local p
  for p in "$@"; do cp -R "$repo/$p" "$dir/$p"; done
}

# The image runs its base image's node; here the one on PATH (make test puts test/tools/node.sh's first).
log "building with node $(node --version), npm $(npm --version)"

log "stage deps: production dependencies"
stage_copy "$work/deps" "${deps_context[@]}"
(
  cd "$work/deps"
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund
  find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete
) >&2

log "stage build: compile"
stage_copy "$work/build" "${build_context[@]}"
(
  cd "$work/build"
  npm ci --ignore-scripts --no-audit --no-fund
  npm run build
) >&2

log "stage runtime: assemble $out"
rm -rf "$out"
mkdir -p "$out"
cp -R "$work/deps/node_modules" "$out/node_modules"
cp -R "$work/build/dist" "$out/dist"
stage_copy "$out" "${runtime_context[@]}"
log "done: $(du -sh "$out" | cut -f1) in $out"
