#!/usr/bin/env bash
# End-to-end test on a kind cluster (make e2e), and its clean-up (make e2e-down).
#
#   bash test/e2e/run.sh          create cluster, build + load image, install, verify, delete cluster
#   bash test/e2e/run.sh down     delete the cluster and local state
#
# Needs docker (with a running daemon), kind, kubectl, node, and helm (on PATH, or the one
# test/tools/build.sh builds). Environment:
#   E2E_KEEP=1           keep the cluster after the run (pass or fail) to poke at it; `make e2e-down` removes it
#   E2E_REUSE=1          reuse an existing cluster of the same name (its test namespace is recreated)
#   E2E_HTTP_PORT=80     host port of the Ingress (must match hostPort in test/e2e/kind.yaml)
#   E2E_INGRESS_NGINX_MANIFEST=<url>   ingress-nginx manifest for kind (pinned default below)
#
# It never touches your ~/.kube/config: the cluster's kubeconfig lives in .cache/e2e/kubeconfig.
# On failure, logs, events and descriptions of everything are saved under .cache/e2e/ and the
# path is printed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

CLUSTER=herald-e2e
NS=herald-e2e
RELEASE=herald
IMAGE=herald:e2e # test/e2e/values.yaml and manifests/receiver.yaml use this name
HTTP_PORT="${E2E_HTTP_PORT:-80}"
INGRESS_NGINX_MANIFEST="${E2E_INGRESS_NGINX_MANIFEST:-https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.12.1/deploy/static/provider/kind/deploy.yaml}"
STATE="$repo/.cache/e2e"
export KUBECONFIG="$STATE/kubeconfig"

log() { printf '\n[e2e] %s\n' "$*"; }
die() { printf '\n[e2e] ERROR: %s\n' "$*" >&2; exit 1; }

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; }

down() {
  if command -v kind >/dev/null 2>&1 && cluster_exists; then
    log "deleting kind cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG"
  else
    log "no kind cluster $CLUSTER to delete"
  fi
  rm -f "$KUBECONFIG"
}

preflight() {
  local missing=() tool
  for tool in docker kind kubectl node; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if command -v helm >/dev/null 2>&1; then
    HELM=helm
  elif [[ -x "${HERALD_TOOLS_DIR:-$repo/.tools}/bin/helm" ]]; then
    HELM="${HERALD_TOOLS_DIR:-$repo/.tools}/bin/helm"
  else
    missing+=("helm (or run: bash test/tools/build.sh)")
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    die "make e2e needs: ${missing[*]}. Install Docker (https://docs.docker.com/get-docker/), kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation) and kubectl; this machine lacks them, so nothing was started."
  fi
  if ! docker info >/dev/null 2>&1; then
    die "the Docker daemon does not answer ('docker info' failed). Start Docker (or check DOCKER_HOST / permissions on the socket) and retry."
  fi
}

# Everything needed to understand a failure, saved before the cluster goes away.
collect_diagnostics() {
  local dir
  dir="$STATE/diagnostics-$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$dir"
  log "collecting diagnostics into $dir"
  {
    kubectl get nodes -o wide
    kubectl get all,ingress,destinations,pvc,networkpolicy -A -o wide
  } >"$dir/overview.txt" 2>&1 || true
  kubectl -n "$NS" get destinations -o yaml >"$dir/destinations.yaml" 2>&1 || true
  kubectl -n "$NS" describe destinations,deployments,statefulsets,pods,ingress >"$dir/describe.txt" 2>&1 || true
  kubectl get events -A --sort-by=.lastTimestamp >"$dir/events.txt" 2>&1 || true
  "$HELM" -n "$NS" status "$RELEASE" >"$dir/helm-status.txt" 2>&1 || true
  local pod
  for pod in $(kubectl -n "$NS" get pods -o name 2>/dev/null); do
    kubectl -n "$NS" logs "$pod" --all-containers --prefix --tail=2000 >"$dir/logs-${pod#pod/}.txt" 2>&1 || true
    kubectl -n "$NS" logs "$pod" --all-containers --prefix --previous --tail=2000 >"$dir/logs-${pod#pod/}.previous.txt" 2>/dev/null || rm -f "$dir/logs-${pod#pod/}.previous.txt"
  done
  kubectl -n ingress-nginx logs -l app.kubernetes.io/component=controller --tail=500 >"$dir/logs-ingress-nginx.txt" 2>&1 || true
  cat <<EOF

[e2e] FAILED. Where to look:
  $dir/overview.txt       every object, its state and node placement
  $dir/describe.txt       conditions and events of Destinations, Deployments, pods, Ingress
  $dir/destinations.yaml  Destination status (conditions, delivery figures, last error)
  $dir/logs-*.txt         logs of every pod in $NS (herald-ingest, herald-controller, herald-worker-*, receiver, mailpit)
  $dir/events.txt         cluster events (image pulls, scheduling, probes)
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
    down || true
  fi
  exit "$rc"
}

up() {
  preflight
  mkdir -p "$STATE"
  trap on_exit EXIT

  if cluster_exists; then
    [[ ${E2E_REUSE:-0} == 1 ]] || die "a kind cluster named $CLUSTER already exists (an earlier run?). Delete it with 'make e2e-down', or set E2E_REUSE=1 to reuse it."
    log "reusing kind cluster $CLUSTER"
    kind get kubeconfig --name "$CLUSTER" >"$KUBECONFIG"
    kubectl delete namespace "$NS" --ignore-not-found --wait=true
  else
    log "creating kind cluster $CLUSTER (test/e2e/kind.yaml)"
    CREATED_CLUSTER=1
    kind create cluster --name "$CLUSTER" --config "$here/kind.yaml" --kubeconfig "$KUBECONFIG" --wait 120s
  fi

  log "installing ingress-nginx ($INGRESS_NGINX_MANIFEST)"
  kubectl apply -f "$INGRESS_NGINX_MANIFEST"

  log "building $IMAGE (Dockerfile) and loading it into kind"
  docker build -t "$IMAGE" "$repo"
  docker image ls "$IMAGE" --format '[e2e] image {{.Repository}}:{{.Tag}} is {{.Size}}'
  kind load docker-image "$IMAGE" --name "$CLUSTER"

  # The admission webhook must be serving before the chart creates its Ingress.
  kubectl -n ingress-nginx rollout status deployment/ingress-nginx-controller --timeout=300s
  kubectl -n ingress-nginx wait --for=condition=complete job --all --timeout=180s

  log "namespace $NS (Pod Security: restricted), receiver and SMTP sink"
  kubectl create namespace "$NS"
  kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
  kubectl -n "$NS" apply -f "$here/manifests/receiver.yaml" -f "$here/manifests/mailpit.yaml"
  kubectl -n "$NS" rollout status deployment/e2e-receiver --timeout=180s
  kubectl -n "$NS" rollout status deployment/e2e-mailpit --timeout=300s

  log "helm install $RELEASE charts/herald (test/e2e/values.yaml)"
  "$HELM" install "$RELEASE" "$repo/charts/herald" --namespace "$NS" --values "$here/values.yaml" --wait --timeout 5m

  log "applying Destinations (test/e2e/manifests/destinations.yaml)"
  kubectl -n "$NS" apply -f "$here/manifests/destinations.yaml"

  E2E_NAMESPACE="$NS" E2E_INGEST_URL="http://127.0.0.1:$HTTP_PORT/ingest" node "$here/verify.mjs"
  log "PASS"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) die "unknown command '$1' (expected: up | down)" ;;
esac
