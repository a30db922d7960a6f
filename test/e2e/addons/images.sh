#!/usr/bin/env bash
# Builds (or finds cached) every image `make e2e` needs besides the kind node, into the local
# Docker daemon, from package registries only: Debian (debootstrap/apt), npm and the Go module
# proxy. Prints each image, its size, and whether it was cached or built.
#
#   bash test/e2e/addons/images.sh              every image, Herald's included
#   bash test/e2e/addons/images.sh --list       the add-on images to load into the cluster, one a
#                                               line (not herald:e2e, nor the two bases)
#   bash test/e2e/addons/images.sh --no-go      skip the Go add-ons (Traefik, KEDA, Prometheus,
#                                               Alertmanager), e.g. while they build elsewhere
#
# HERALD_E2E_CACHE (default ~/.cache/herald/e2e) holds the expensive parts (rootfs tarball, npm
# tarballs, Go binaries); HERALD_IMAGE (default herald:e2e) names the Herald image. See README.md.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=base.sh
source "$addons_dir/base.sh"

# Names the manifests (manifests/*.yaml) and test/e2e/values.yaml use.
REDIS_IMAGE=redis:e2e
MAIL_SINK_IMAGE=herald-e2e/mail-sink:e2e

addon_images() {
  echo "$REDIS_IMAGE"
  echo "$MAIL_SINK_IMAGE"
  local t
  for t in "${GO_TOOLS[@]}"; do go_image "$t"; done
}

build_go_image() {
  local tool="$1" dir img
  bash "$addons_dir/go-build.sh" "$tool"
  dir="$(bash "$addons_dir/go-build.sh" --dir "$tool")"
  img="$(go_image "$tool")"
  build_context_image "$img" "$addons_dir/images/$tool" "$DEBIAN_IMAGE" "$dir"/*
  check_go_image "$tool" "$img"
}

# Each binary starts, and the configs install.sh mounts are valid for the binaries built.
check_go_image() {
  local tool="$1" img="$2" out
  case $tool in
    traefik) out="$(docker run --rm "$img" version | sed -n 's/^Version:[[:space:]]*//p')" ;;
    keda) out="$(docker run --rm --entrypoint /keda "$img" --help 2>&1 | grep -c -- '--metrics-bind-address' || true)"
      [[ $out -ge 1 ]] || die "$img: /keda --help does not list its flags"
      docker run --rm --entrypoint /keda-adapter "$img" --help >/dev/null 2>&1 || die "$img: /keda-adapter --help failed"
      out="operator and adapter start" ;;
    prometheus)
      out="$(docker run --rm -v "$addons_dir/config/prometheus.yml:/etc/prometheus/prometheus.yml:ro" \
        -v "$repo/charts/herald/files/herald-rules.yaml:/etc/prometheus/rules/herald-rules.yaml:ro" \
        --entrypoint promtool "$img" check config /etc/prometheus/prometheus.yml 2>&1)" ||
        die "$img: promtool check config failed: $out"
      out="$(docker run --rm "$img" --version 2>&1 | sed -n 1p); promtool check config: SUCCESS" ;;
    alertmanager)
      out="$(docker run --rm -v "$addons_dir/config/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" \
        --entrypoint amtool "$img" check-config /etc/alertmanager/alertmanager.yml 2>&1)" ||
        die "$img: amtool check-config failed: $out"
      out="$(docker run --rm "$img" --version 2>&1 | sed -n 1p); amtool check-config: SUCCESS" ;;
    kube-state-metrics) out="$(docker run --rm "$img" version 2>&1 | sed -n 1p)" ;;
  esac
  log "$img: $out"
}

main() {
  if [[ ${1:-} == --list ]]; then
    addon_images
    return
  fi
  local with_go=1
  [[ ${1:-} == --no-go ]] && with_go=0
  local start=$SECONDS
  docker info >/dev/null 2>&1 || die "the Docker daemon does not answer ('docker info' failed)"
  build_debian_image
  build_node_image
  build_herald_image
  build_context_image "$REDIS_IMAGE" "$addons_dir/images/redis" "$DEBIAN_IMAGE"
  build_context_image "$MAIL_SINK_IMAGE" "$addons_dir/images/mail-sink" "$(node_image)"
  if [[ $with_go == 1 ]]; then
    local t
    for t in "${GO_TOOLS[@]}"; do build_go_image "$t"; done
  fi
  log "done in $((SECONDS - start))s"
  printf '%-44s %-8s %8s  %s\n' IMAGE STATE SIZE NOTES
  printf '%s\n' "${summary[@]}"
}

main "$@"
