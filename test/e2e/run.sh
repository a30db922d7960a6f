#!/usr/bin/env bash
# End-to-end test on a kind cluster (make e2e), its images (make e2e-images) and its clean-up
# (make e2e-down).
#
#   bash test/e2e/run.sh          images, cluster, add-ons, Herald, Destinations, verify, delete cluster
#   bash test/e2e/run.sh images   only build (or find cached) every image
#   bash test/e2e/run.sh down     delete the cluster and local state
#
# Two worlds, one script:
#   offline (no container registry: CI here, air-gapped machines) - every image is built locally from
#     package registries only (Debian, npm, the Go module proxy) by test/e2e/cluster/images.sh (the
#     kind node) and test/e2e/addons/images.sh (the Herald base image, Redis, Traefik, KEDA,
#     Prometheus, Alertmanager, the SMTP sink), cached under ~/.cache/herald/e2e; only what is
#     missing is built. Herald itself is built by `docker build` of the real Dockerfile.
#   online (a laptop with registry access) - kind's published node image and the Dockerfile's
#     published Node base; the add-on images are still built by test/e2e/addons/images.sh.
# E2E_OFFLINE=auto (default) never reaches for a registry, building what is missing: the offline
# world. E2E_OFFLINE=0 chooses the online one.
#
# Environment:
#   E2E_KEEP=1           keep the cluster after the run (pass or fail); `make e2e-down` removes it
#   E2E_REUSE=1          reuse an existing cluster of the same name (its test namespace is recreated)
#   E2E_HTTP_PORT=18080  127.0.0.1 port of the Ingress (Traefik); E2E_GATEWAY_PORT=18081 the Gateway's
#   E2E_STEPS=1,2,...    run only some scenario steps (test/e2e/verify.mjs)
#   E2E_STATE=DIR        kubeconfig and diagnostics (default .cache/e2e in the clone)
#
# It never touches your ~/.kube/config. On failure, logs of every pod in every namespace, events,
# descriptions and Helm status are saved under $E2E_STATE/diagnostics-* and the path is printed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

CLUSTER=herald-e2e
NS=herald-e2e
RELEASE=herald
IMAGE=herald:e2e # test/e2e/values.yaml and manifests/receiver.yaml use this name
HTTP_PORT="${E2E_HTTP_PORT:-18080}"
GATEWAY_PORT="${E2E_GATEWAY_PORT:-18081}"
OFFLINE="${E2E_OFFLINE:-auto}"
STATE="${E2E_STATE:-$repo/.cache/e2e}"
export HERALD_TOOLS_DIR="${HERALD_TOOLS_DIR:-$HOME/.cache/herald/tools}"
export HERALD_E2E_CACHE="${HERALD_E2E_CACHE:-$HOME/.cache/herald/e2e}"
export KUBECONFIG="$STATE/kubeconfig"
# kind (test/e2e/cluster/images.sh), kubectl and helm (test/tools/build.sh) where they are built.
export PATH="$HERALD_E2E_CACHE/bin:$HERALD_TOOLS_DIR/bin:/usr/local/go/bin:$PATH"
HELM="$HERALD_TOOLS_DIR/bin/helm"

t_start=$SECONDS
timings=()
log() { printf '[e2e %s %4ss] %s\n' "$(date -u +%H:%M:%S)" "$((SECONDS - t_start))" "$*"; }
die() { printf '\n[e2e] ERROR: %s\n' "$*" >&2; exit 1; }

# phase NAME CMD...: runs one phase with a progress line and its duration.
phase() {
  local name=$1 t0=$SECONDS
  shift
  log "> $name"
  "$@"
  timings+=("$name $((SECONDS - t0))s")
  log "< $name ($((SECONDS - t0))s)"
}

offline() { [[ $OFFLINE != 0 ]]; }

# kind itself, or offline the one test/e2e/cluster/images.sh built, through its docker shim where
# this host needs it (test/e2e/cluster/README.md).
kind_() {
  if offline; then
    bash "$here/cluster/kind.sh" "$@"
  else
    kind "$@"
  fi
}

cluster_exists() { kind_ get clusters 2>/dev/null | grep -qx "$CLUSTER"; }

down() {
  if offline; then
    bash "$here/cluster/down.sh" "$CLUSTER"
  elif cluster_exists; then
    kind_ delete cluster --name "$CLUSTER"
  fi
  rm -f "$KUBECONFIG"
}

# helm (and the Kubernetes binaries) from test/tools/build.sh; run after images, which builds kind.
tools() {
  [[ -x $HELM ]] || bash "$repo/test/tools/build.sh"
  use_node_kubectl
  local missing=() tool
  for tool in docker kubectl node; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [[ ${#missing[@]} -eq 0 ]] || die "make e2e needs: ${missing[*]} (test/e2e/cluster/images.sh builds kind and kubectl; Docker comes from apt: docker.io)"
  log "$(kind_ version), $(kubectl version --client 2>/dev/null | head -1), helm $("$HELM" version --short)"
}

# The kind node (offline only), then the add-on images and herald:e2e, which test/e2e/addons/images.sh
# builds with `docker build` of this clone's Dockerfile (FROM the Node base it made, offline).
images() {
  if offline; then
    bash "$here/cluster/images.sh"
  fi
  HERALD_IMAGE="$IMAGE" bash "$here/addons/images.sh"
  docker image inspect "$IMAGE" >/dev/null || die "test/e2e/addons/images.sh did not leave $IMAGE in Docker"
}

# The kubectl built with the offline node's Kubernetes version (test/e2e/cluster/images.sh labels
# the node image with it), first on PATH for run.sh and verify.mjs.
use_node_kubectl() {
  local image k8s
  image="$(cat "$HERALD_E2E_CACHE/node-image" 2>/dev/null || true)"
  [[ -n $image ]] && offline || return 0
  k8s="$(docker image inspect -f '{{index .Config.Labels "herald.e2e.k8s"}}' "$image" 2>/dev/null || true)"
  if [[ -n $k8s && -x $HERALD_TOOLS_DIR/k8s-$k8s/kubectl ]]; then
    export PATH="$HERALD_TOOLS_DIR/k8s-$k8s:$PATH"
  fi
}

# The kind config with this run's host ports (test/e2e/kind.yaml says 18080/18081).
kind_config() {
  sed -e "s/hostPort: 18080/hostPort: $HTTP_PORT/" -e "s/hostPort: 18081/hostPort: $GATEWAY_PORT/" "$here/kind.yaml" >"$STATE/kind.yaml"
  echo "$STATE/kind.yaml"
}

cluster() {
  if cluster_exists; then
    [[ ${E2E_REUSE:-0} == 1 ]] || die "a kind cluster named $CLUSTER already exists (an earlier run?). Delete it with 'make e2e-down', or set E2E_REUSE=1 to reuse it."
    log "reusing kind cluster $CLUSTER"
    kind_ get kubeconfig --name "$CLUSTER" >"$KUBECONFIG"
    kubectl delete namespace "$NS" --ignore-not-found --wait=true
    "$HELM" uninstall "$RELEASE" --namespace "$NS" >/dev/null 2>&1 || true
    return
  fi
  CREATED_CLUSTER=1
  if offline; then
    bash "$here/cluster/up.sh" "$CLUSTER" "$KUBECONFIG" "$(kind_config)"
  else
    kind create cluster --name "$CLUSTER" --config "$(kind_config)" --kubeconfig "$KUBECONFIG" --wait 180s
  fi
}

load_images() {
  local list
  mapfile -t list < <(bash "$here/addons/images.sh" --list)
  kind_ load docker-image --name "$CLUSTER" "$IMAGE" "${list[@]}"
}

# Traefik, KEDA, Prometheus (with Herald's rules, see e2e_rules) and Alertmanager, each waited for.
addons() {
  e2e_rules >"$STATE/herald-rules.yaml"
  E2E_RULES_FILE="$STATE/herald-rules.yaml" bash "$here/addons/install.sh" "$KUBECONFIG"
}

# Herald's alert rules as the chart ships them, with the `for:` of HeraldDeadLettersIncreasing cut
# to 15s so the e2e sees it fire within minutes (the expression itself is unchanged).
e2e_rules() {
  awk '/- alert: /{alert=$3} alert=="HeraldDeadLettersIncreasing" && $1=="for:"{sub(/for: .*/, "for: 15s")} {print}' \
    "$repo/charts/herald/files/herald-rules.yaml"
}

herald() {
  kubectl create namespace "$NS"
  kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
  # The SMTP sink Herald and Alertmanager mail to (e2e-smtp-sink.herald-e2e.svc:2525).
  kubectl -n "$NS" apply -f "$here/manifests/receiver.yaml" -f "$here/addons/manifests/mail-sink.yaml"
  "$HELM" install "$RELEASE" "$repo/charts/herald" --namespace "$NS" --values "$here/values.yaml" --wait --timeout 5m
  kubectl -n "$NS" rollout status deployment/e2e-receiver --timeout=180s
  kubectl -n "$NS" rollout status deployment/e2e-smtp-sink --timeout=180s
  kubectl -n "$NS" apply -f "$here/manifests/destinations.yaml"
}

verify() {
  E2E_NAMESPACE="$NS" E2E_RELEASE="$RELEASE" E2E_HELM="$HELM" E2E_CHART="$repo/charts/herald" \
    E2E_INGEST_URL="http://127.0.0.1:$HTTP_PORT/ingest" E2E_GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT/ingest" \
    E2E_DASHBOARDS="$repo/charts/herald/files/dashboards/herald-overview.json:$repo/charts/herald/files/dashboards/herald-destination.json" \
    node "$here/verify.mjs"
}

# Everything needed to understand a failure, saved before the cluster goes away.
collect_diagnostics() {
  local dir ns pod
  dir="$STATE/diagnostics-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$dir/logs"
  log "collecting diagnostics into $dir"
  {
    kubectl get nodes -o wide
    kubectl get all,ingress,gateway,httproute,destinations,scaledobjects,hpa,lease,pvc,networkpolicy -A -o wide
  } >"$dir/overview.txt" 2>&1 || true
  kubectl -n "$NS" get destinations,scaledobjects -o yaml >"$dir/destinations.yaml" 2>&1 || true
  kubectl describe nodes >"$dir/describe-nodes.txt" 2>&1 || true
  kubectl describe pods,deployments,statefulsets,ingress,scaledobjects,hpa -A >"$dir/describe.txt" 2>&1 || true
  kubectl -n "$NS" describe destinations >>"$dir/describe.txt" 2>&1 || true
  kubectl get events -A --sort-by=.lastTimestamp >"$dir/events.txt" 2>&1 || true
  "$HELM" -n "$NS" status "$RELEASE" >"$dir/helm-status.txt" 2>&1 || true
  while read -r ns pod; do
    kubectl -n "$ns" logs "$pod" --all-containers --prefix --tail=5000 >"$dir/logs/$ns.$pod.txt" 2>&1 || true
    kubectl -n "$ns" logs "$pod" --all-containers --prefix --previous --tail=2000 >"$dir/logs/$ns.$pod.previous.txt" 2>/dev/null ||
      rm -f "$dir/logs/$ns.$pod.previous.txt"
  done < <(kubectl get pods -A --no-headers -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name 2>/dev/null)
  docker exec "$CLUSTER-control-plane" sh -c 'journalctl -u kubelet -u containerd --no-pager | tail -n 3000' >"$dir/node-journal.txt" 2>&1 || true
  cat <<EOF

[e2e] FAILED. Where to look:
  $dir/overview.txt       every object in every namespace, its state and placement
  $dir/describe.txt       conditions and events of pods, Deployments, Ingress, ScaledObjects, HPAs, Destinations
  $dir/destinations.yaml  Destination status (conditions, delivery figures, last error) and ScaledObjects
  $dir/logs/NS.POD.txt    logs of every pod (Herald, receiver, SMTP sink, Traefik, KEDA, Prometheus, Alertmanager, kube-system)
  $dir/events.txt         cluster events (scheduling, probes, scaling)
  $dir/node-journal.txt   kubelet and containerd on the kind node
Re-run with E2E_KEEP=1 to keep the cluster (KUBECONFIG=$KUBECONFIG), then: make e2e-down
EOF
}

on_exit() {
  local rc=$?
  trap - EXIT
  if [[ $rc -ne 0 ]] && [[ -f $KUBECONFIG ]] && cluster_exists; then
    collect_diagnostics || true
  fi
  if [[ ${E2E_KEEP:-0} == 1 ]]; then
    [[ -f $KUBECONFIG ]] && log "E2E_KEEP=1: cluster $CLUSTER kept; export KUBECONFIG=$KUBECONFIG; remove it with: make e2e-down"
  elif [[ ${CREATED_CLUSTER:-0} == 1 || ${E2E_REUSE:-0} == 1 ]]; then
    phase "delete cluster" down || true
  fi
  log "phases: ${timings[*]:-none}"
  log "$([[ $rc -eq 0 ]] && echo PASS || echo FAIL) in $((SECONDS - t_start))s"
  exit "$rc"
}

up() {
  mkdir -p "$STATE"
  trap on_exit EXIT
  # A signal ends the run as a failure (clean-up and diagnostics still run from the EXIT trap).
  trap 'exit 143' TERM
  trap 'exit 130' INT
  phase "images" images
  phase "tools" tools
  phase "cluster" cluster
  phase "load images" load_images
  phase "add-ons" addons
  phase "herald" herald
  phase "verify" verify
}

case "${1:-up}" in
  up) up ;;
  images) mkdir -p "$STATE" && images && tools ;;
  down) down ;;
  *) die "unknown command '$1' (expected: up | images | down)" ;;
esac
