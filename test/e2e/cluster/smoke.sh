#!/usr/bin/env bash
# Proves an offline cluster from up.sh can run a workload: a locally built image loaded with
# `kind load`, never pulled, in a pod that resolves a Service name through CoreDNS and writes to a
# PersistentVolumeClaim of the default StorageClass. Each step prints its duration.
#
#   bash test/e2e/cluster/smoke.sh [NAME]     (default herald-e2e-smoke; deleted at the end
#                                              unless HERALD_E2E_KEEP=1)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="${1:-herald-e2e-smoke}"
state="$e2e_cache/smoke-$name"
mkdir -p "$state"
kubeconfig="$state/kubeconfig"
image=herald.dev/e2e-smoke:latest

t0=$SECONDS
bash "$cluster_dir/up.sh" "$name" "$kubeconfig"
t_up=$((SECONDS - t0))
if [[ ${HERALD_E2E_KEEP:-0} != 1 ]]; then
  trap 'bash "$cluster_dir/down.sh" "$name" "$kubeconfig"' EXIT
fi

node_image="$(cat "$node_image_ref")"
k8s="$(docker image inspect -f '{{index .Config.Labels "herald.e2e.k8s"}}' "$node_image")"
kubectl="$HERALD_TOOLS_DIR/k8s-$k8s/kubectl"
k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }

# Any local image with a shell will do: the Debian one kube-proxy runs on.
base="$(docker image ls herald.dev/e2e-tools-base --format '{{.Repository}}:{{.Tag}}' | sed -n 1p)"
[[ -n $base ]] || die "no herald.dev/e2e-tools-base image; run images.sh"
docker tag "$base" "$image"
t1=$SECONDS
bash "$cluster_dir/kind.sh" load docker-image "$image" --name "$name"
log "kind load docker-image took $((SECONDS - t1))s"

t2=$SECONDS
k delete pod smoke --ignore-not-found --wait >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: smoke
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 16Mi
---
apiVersion: v1
kind: Pod
metadata:
  name: smoke
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: smoke
      image: $image
      imagePullPolicy: Never
      command: [sh, -c, "echo written > /data/proof && sleep 3600"]
      volumeMounts:
        - name: data
          mountPath: /data
  volumes:
    - name: data
      persistentVolumeClaim:
        claimName: smoke
EOF
k wait --for=condition=Ready pod/smoke --timeout=180s >/dev/null || {
  k describe pod smoke >&2
  die "the smoke pod did not become Ready"
}
log "pod with a loaded image and a PVC Ready in $((SECONDS - t2))s"
[[ $(k get pvc smoke -o jsonpath='{.status.phase}') == Bound ]] || die "the PVC is not Bound"
[[ $(k exec smoke -- cat /data/proof) == written ]] || die "the pod could not write to its volume"
ip="$(k exec smoke -- getent hosts kubernetes.default.svc.cluster.local | awk '{ print $1 }')"
[[ $ip == "$(k get svc kubernetes -o jsonpath='{.spec.clusterIP}')" ]] ||
  die "kubernetes.default.svc.cluster.local resolved to '$ip' in the pod"
log "smoke passed: image loaded offline, PVC bound and written, service DNS answers ($ip); up ${t_up}s, total $((SECONDS - t0))s"
