#!/usr/bin/env bash
# Creates a kind cluster from the node image images.sh built, with no registry, and waits until it
# can run pods: the node Ready, CoreDNS and the default StorageClass's provisioner rolled out.
#
#   bash test/e2e/cluster/up.sh NAME KUBECONFIG [KIND_CONFIG]
#
# NAME is the kind cluster name; KUBECONFIG the file its context is written to (never your
# ~/.kube/config unless you pass it). KIND_CONFIG is an ordinary kind config; its port mappings must
# listen on 127.0.0.1. An existing cluster of that name is reused (its kubeconfig rewritten).
# Starts dockerd when it is installed but not running; on hosts whose capability bounding set
# cannot grant `docker run --privileged`, kind runs through shim/docker (see README.md).
#   HERALD_E2E_NODE_IMAGE    node image to use (default: the one images.sh built last)
#   HERALD_E2E_UP_TIMEOUT    seconds to wait for the cluster to be usable (default 300)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 2 && $# -le 3 ]] || die "usage: up.sh NAME KUBECONFIG [KIND_CONFIG]"
name="$1"
kubeconfig="$(realpath -m "$2")"
config="${3:-}"
timeout="${HERALD_E2E_UP_TIMEOUT:-300}"

kind="$(kind_bin)"
image="${HERALD_E2E_NODE_IMAGE:-$(cat "$node_image_ref" 2>/dev/null || true)}"
[[ -n $image ]] || die "no node image recorded in $node_image_ref; run: bash test/e2e/cluster/images.sh"

if [[ -n $config ]]; then
  [[ -f $config ]] || die "no kind config at $config"
  # Traffic stays on this machine: every host port must be bound to 127.0.0.1.
  ports="$(grep -cE '^[[:space:]]*hostPort:' "$config" || true)"
  local_ports="$(grep -cE '^[[:space:]]*listenAddress:[[:space:]]*"?127\.0\.0\.1"?' "$config" || true)"
  [[ $ports == "$local_ports" ]] || die "$config maps $ports host port(s) but only $local_ports listen on 127.0.0.1; set listenAddress: 127.0.0.1 on each"
fi

t0=$SECONDS
ensure_docker
docker image inspect "$image" >/dev/null 2>&1 || die "node image $image is not in Docker; run: bash test/e2e/cluster/images.sh"
# The kubectl built with the node's Kubernetes (images.sh labels the image with its version).
k8s="$(docker image inspect -f '{{index .Config.Labels "herald.e2e.k8s"}}' "$image")"
kubectl="$HERALD_TOOLS_DIR/k8s-$k8s/kubectl"
[[ -n $k8s && -x $kubectl ]] || kubectl="$(command -v kubectl)" || die "no kubectl (run images.sh, or put one on PATH)"
log "docker ready after $((SECONDS - t0))s"

if needs_shim; then
  log "this host cannot grant docker run --privileged (capability bounding set $(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)); kind runs through $cluster_dir/shim/docker"
fi
kind_env

mkdir -p "$(dirname "$kubeconfig")"
t1=$SECONDS
if "$kind" get clusters 2>/dev/null | grep -qx "$name"; then
  log "kind cluster $name exists; reusing it"
  "$kind" export kubeconfig --name "$name" --kubeconfig "$kubeconfig"
else
  log "creating kind cluster $name from $image"
  args=(create cluster --name "$name" --image "$image" --kubeconfig "$kubeconfig" --wait 0s)
  [[ -z $config ]] || args+=(--config "$config")
  [[ ${HERALD_E2E_RETAIN:-0} != 1 ]] || args+=(--retain)
  if ! "$kind" "${args[@]}"; then
    log "kind create cluster failed; the node's last words:"
    docker logs --tail 30 "$name-control-plane" 2>&1 | sed 's/^/  /' >&2 || true
    die "could not create cluster $name (HERALD_E2E_RETAIN=1 keeps the node container to inspect)"
  fi
fi
log "kind done after $((SECONDS - t1))s"

# Usable means: the node Ready (CNI configured), DNS answering, PVCs bindable.
t2=$SECONDS
deadline=$((SECONDS + timeout))
remaining() { local r=$((deadline - SECONDS)); ((r > 0)) || r=1; echo "${r}s"; }
k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }
k wait --for=condition=Ready node --all --timeout="$(remaining)" >/dev/null ||
  die "nodes not Ready within ${timeout}s: $(k get nodes -o wide 2>&1)"
log "node Ready after $((SECONDS - t2))s"
k -n kube-system rollout status deployment/coredns --timeout="$(remaining)" >/dev/null ||
  die "CoreDNS did not roll out: $(k -n kube-system get pods -o wide 2>&1)"
if k -n local-path-storage get deployment local-path-provisioner >/dev/null 2>&1; then
  k -n local-path-storage rollout status deployment/local-path-provisioner --timeout="$(remaining)" >/dev/null ||
    die "local-path-provisioner did not roll out: $(k -n local-path-storage get pods -o wide 2>&1)"
fi
log "CoreDNS and the storage provisioner running after $((SECONDS - t2))s"
log "cluster $name is up in $((SECONDS - t0))s (kubeconfig $kubeconfig, kubectl $kubectl)"
