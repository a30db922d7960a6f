#!/usr/bin/env bash
# Builds the Go add-ons `make e2e` runs in the cluster (Traefik, KEDA, Prometheus, Alertmanager,
# kube-state-metrics)
# from source fetched through the Go module proxy, into $HERALD_E2E_CACHE/bin/<tool>-<version>/.
# Static (CGO_ENABLED=0), -trimpath, with the local Go toolchain only; a binary already in the
# cache is never rebuilt. These are the long pole of a cold run (see README.md).
#
#   bash test/e2e/addons/go-build.sh                 every tool
#   bash test/e2e/addons/go-build.sh traefik keda    only these
#   bash test/e2e/addons/go-build.sh --dir TOOL      print the cache directory of TOOL's binaries
#   bash test/e2e/addons/go-build.sh --release TOOL  print TOOL's upstream release (3.16.0 for
#                                                    Prometheus' Go module v0.316.0)
#
# Versions come from go/<tool>/go.mod (one module per tool, so each builds with the dependency
# set its own release was tested with; replace/exclude lines are copied from upstream's go.mod,
# since Go ignores them in a dependency).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export CGO_ENABLED=0
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# tool -> the module whose version names the cache directory
declare -A module=(
  [traefik]=github.com/traefik/traefik/v3
  [keda]=github.com/kedacore/keda/v2
  [prometheus]=github.com/prometheus/prometheus
  [alertmanager]=github.com/prometheus/alertmanager
  [kube-state-metrics]=k8s.io/kube-state-metrics/v2
)

modver() { (cd "$addons_dir/go/$1" && go list -m -f '{{.Version}}' "${module[$1]}"); }

# Prometheus' Go module is tagged v0.3XX.Y for release v3.XX.Y.
prometheus_release() { local v="${1#v0.}"; echo "3.$((10#${v%%.*} - 300)).${v#*.}"; }

bin_dir() { echo "$cache/bin/$1-$(modver "$1")"; }

# Name=package pairs and ldflags of each tool, stamped the way upstream's release builds are.
specs() {
  local v common
  v="$(modver "$1")"
  common="github.com/prometheus/common/version"
  case $1 in
    traefik)
      echo "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$v -X github.com/traefik/traefik/v3/pkg/version.BuildDate=1970-01-01T00:00:00Z"
      echo "traefik=github.com/traefik/traefik/v3/cmd/traefik"
      ;;
    keda)
      echo "-s -w -X github.com/kedacore/keda/v2/version.Version=${v#v} -X github.com/kedacore/keda/v2/version.GitCommit=$v"
      echo "keda=github.com/kedacore/keda/v2/cmd/operator"
      echo "keda-adapter=github.com/kedacore/keda/v2/cmd/adapter"
      ;;
    prometheus)
      echo "-s -w -X $common.Version=$(prometheus_release "$v") -X $common.Revision=$v -X $common.Branch=module -X $common.BuildUser=herald-e2e -X $common.BuildDate=19700101-00:00:00"
      echo "prometheus=github.com/prometheus/prometheus/cmd/prometheus"
      echo "promtool=github.com/prometheus/prometheus/cmd/promtool"
      ;;
    alertmanager)
      echo "-s -w -X $common.Version=${v#v} -X $common.Revision=$v -X $common.Branch=module -X $common.BuildUser=herald-e2e -X $common.BuildDate=19700101-00:00:00"
      echo "alertmanager=github.com/prometheus/alertmanager/cmd/alertmanager"
      echo "amtool=github.com/prometheus/alertmanager/cmd/amtool"
      ;;
    kube-state-metrics)
      echo "-s -w -X $common.Version=$v -X $common.Revision=$v -X $common.Branch=module -X $common.BuildUser=herald-e2e -X $common.BuildDate=19700101-00:00:00"
      echo "kube-state-metrics=k8s.io/kube-state-metrics/v2"
      ;;
    *) die "unknown tool '$1' (expected: ${!module[*]})" ;;
  esac
}

build_tool() {
  local tool="$1" out ldflags spec
  out="$(bin_dir "$tool")"
  local -a all names=() pkgs=() tags=()
  mapfile -t all < <(specs "$tool")
  # Prometheus: Kubernetes service discovery only. Its other SD plugins (AWS, Azure, GCE, ...)
  # are most of its compile time, and upstream's build tags drop them.
  [[ $tool == prometheus ]] && tags=(-tags remove_all_sd,enable_kubernetes_sd)
  ldflags="${all[0]}"
  for spec in "${all[@]:1}"; do
    [[ -x "$out/${spec%%=*}" ]] && continue
    names+=("${spec%%=*}")
    pkgs+=("${spec#*=}")
  done
  if [[ ${#names[@]} -eq 0 ]]; then
    log "cached: $out"
    return
  fi
  mkdir -p "$out"
  # Several callers (images.sh, a warm-up in the background) may build at once; one per tool.
  exec 8>"$cache/bin/.lock-$tool"
  if ! flock -n 8; then
    log "another go-build.sh is building $tool; waiting"
    flock 8
    exec 8>&-
    build_tool "$tool"
    return
  fi
  local tmp start=$SECONDS
  tmp="$(mktemp -d "$out/.build.XXXXXX")"
  log "building ${names[*]} -> $out (many minutes on a cold Go build cache)"
  # One go build per tool: its main packages share most of the compile work. Binaries land in a
  # temp dir first, so an interrupted build never leaves a truncated binary that looks cached.
  local i
  for i in "${!pkgs[@]}"; do
    if ! (cd "$addons_dir/go/$tool" && go build -trimpath "${tags[@]}" -ldflags "$ldflags" -o "$tmp/${names[$i]}" "${pkgs[$i]}"); then
      rm -rf "$tmp"
      die "go build of ${pkgs[$i]} failed"
    fi
  done
  for i in "${names[@]}"; do mv -f "$tmp/$i" "$out/$i"; done
  rmdir "$tmp"
  exec 8>&-
  log "built $tool (${names[*]}) in $((SECONDS - start))s"
}

main() {
  if [[ ${1:-} == --dir ]]; then
    [[ -n ${2:-} ]] || die "usage: go-build.sh --dir TOOL"
    bin_dir "$2"
    return
  fi
  if [[ ${1:-} == --release ]]; then
    [[ -n ${2:-} ]] || die "usage: go-build.sh --release TOOL"
    if [[ $2 == prometheus ]]; then prometheus_release "$(modver prometheus)"; else modver "$2" | sed 's/^v//'; fi
    return
  fi
  command -v go >/dev/null 2>&1 || die "no 'go' on PATH or in /usr/local/go/bin; install Go >= 1.26"
  mkdir -p "$cache/bin"
  local tool
  local -a tools=("$@")
  [[ ${#tools[@]} -gt 0 ]] || tools=("${GO_TOOLS[@]}")
  for tool in "${tools[@]}"; do build_tool "$tool"; done
}

main "$@"
