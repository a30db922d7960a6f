#!/usr/bin/env bash
# Installs the add-ons `make e2e` needs into a cluster, in order, waiting until each is ready:
#   1. Gateway API CRDs (standard channel, from the sigs.k8s.io/gateway-api module Traefik uses)
#   2. KEDA: operator + metrics API server (external.metrics.k8s.io), rendered from the manifests
#      in the KEDA module (config/minimal: CRDs, RBAC, APIService; the operator makes and rotates
#      its own certificates); the admission webhooks are left out (optional, not needed here)
#   3. Traefik (manifests/traefik.yaml): IngressClass traefik, GatewayClass traefik, Gateway
#      traefik/herald-e2e; NodePorts 30080 (Ingress) and 30081 (Gateway)
#   4. Prometheus, Alertmanager and kube-state-metrics (manifests/monitoring.yaml) in namespace
#      monitoring
#
#   bash test/e2e/addons/install.sh KUBECONFIG              all four, in that order
#   bash test/e2e/addons/install.sh KUBECONFIG monitoring   only the named steps (gateway-api,
#                                                          keda, traefik, monitoring), e.g. a re-run
#
# The images must already be in the cluster (images.sh --list names them; they are never
# pulled). Environment:
#   E2E_RULES_FILE       Prometheus rule file to load (default: the chart's files/herald-rules.yaml)
#   E2E_SMTP_SMARTHOST   where Alertmanager sends mail (default e2e-smtp-sink.herald-e2e.svc:2525)
#   E2E_ADDONS_TIMEOUT   how long to wait for each add-on to be ready (default 300s)
# Needs kubectl (with kustomize, built in since 1.14) and Go (to locate the modules' manifests in
# the module cache; go-build.sh has put them there).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 1 && -f $1 ]] || die "usage: install.sh KUBECONFIG [gateway-api|keda|traefik|monitoring ...] (KUBECONFIG: an existing kubeconfig file)"
export KUBECONFIG="$1"
shift
steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(gateway-api keda traefik monitoring)
timeout="${E2E_ADDONS_TIMEOUT:-300s}"
rules="${E2E_RULES_FILE:-$repo/charts/herald/files/herald-rules.yaml}"
[[ -f $rules ]] || die "no rule file at $rules"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# module_dir GO_MODULE_DIR MODULE -> the module's directory in the module cache, at the version
# that helper module selects (downloaded from the proxy if missing).
module_dir() {
  local dir
  dir="$(cd "$addons_dir/go/$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -d $dir ]] || die "could not find module $2 (of go/$1) in the module cache"
  echo "$dir"
}

# apply FILE...: server-side, because CRDs such as KEDA's ScaledJob are too big for the
# last-applied annotation of a client-side apply.
apply() { kubectl apply --server-side --force-conflicts --field-manager=herald-e2e "$@" >/dev/null; }

step() {
  local name="$1" start=$SECONDS
  shift
  log "installing $name"
  "$@"
  log "$name ready in $((SECONDS - start))s"
}

gateway_api() {
  local dir
  dir="$(module_dir traefik sigs.k8s.io/gateway-api)"
  apply -f "$dir/config/crd/standard/"
  kubectl wait --for=condition=Established --timeout="$timeout" -f "$dir/config/crd/standard/" >/dev/null
}

keda() {
  local dir image
  dir="$(module_dir keda github.com/kedacore/keda/v2)"
  image="$(go_image keda)"
  mkdir -p "$work/keda"
  cp -r "$dir/config" "$work/keda/upstream"
  chmod -R u+w "$work/keda/upstream"
  # Upstream's manifests as they are, with our image (it has the binaries where KEDA's images
  # have them) and never pulled.
  cat >"$work/keda/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - upstream/minimal
images:
  - name: ghcr.io/kedacore/keda
    newName: ${image%:*}
    newTag: ${image##*:}
  - name: ghcr.io/kedacore/keda-metrics-apiserver
    newName: ${image%:*}
    newTag: ${image##*:}
patches:
  - target:
      kind: Deployment
    patch: |
      - op: replace
        path: /spec/template/spec/containers/0/imagePullPolicy
        value: Never
EOF
  kubectl kustomize "$work/keda" >"$work/keda.yaml"
  apply -f "$work/keda.yaml"
  kubectl wait --for=condition=Established --timeout="$timeout" crd/scaledobjects.keda.sh crd/triggerauthentications.keda.sh >/dev/null
  kubectl -n keda rollout status deployment/keda-operator --timeout="$timeout"
  kubectl -n keda rollout status deployment/keda-metrics-apiserver --timeout="$timeout"
  kubectl wait --for=condition=Available --timeout="$timeout" apiservice/v1beta1.external.metrics.k8s.io >/dev/null
}

traefik() {
  sed "s#herald-e2e/traefik:TAG#$(go_image traefik)#" "$addons_dir/manifests/traefik.yaml" >"$work/traefik.yaml"
  apply -f "$work/traefik.yaml"
  kubectl -n traefik rollout status deployment/traefik --timeout="$timeout"
  kubectl -n traefik wait --for=condition=Programmed --timeout="$timeout" gateway/herald-e2e >/dev/null
}

monitoring() {
  sed -e "s#herald-e2e/prometheus:TAG#$(go_image prometheus)#" -e "s#herald-e2e/alertmanager:TAG#$(go_image alertmanager)#" \
    -e "s#herald-e2e/kube-state-metrics:TAG#$(go_image kube-state-metrics)#" \
    "$addons_dir/manifests/monitoring.yaml" >"$work/monitoring.yaml"
  cp "$addons_dir/config/alertmanager.yml" "$work/alertmanager.yml"
  if [[ -n ${E2E_SMTP_SMARTHOST:-} ]]; then
    sed -i "s#^\([[:space:]]*smtp_smarthost:\).*#\1 $E2E_SMTP_SMARTHOST#" "$work/alertmanager.yml"
  fi
  # The namespace first, so the ConfigMaps have somewhere to go.
  kubectl create namespace monitoring --dry-run=client -o yaml | apply -f -
  kubectl -n monitoring create configmap prometheus-config --from-file=prometheus.yml="$addons_dir/config/prometheus.yml" --dry-run=client -o yaml | apply -f -
  kubectl -n monitoring create configmap prometheus-rules --from-file=herald-rules.yaml="$rules" --dry-run=client -o yaml | apply -f -
  kubectl -n monitoring create configmap alertmanager-config --from-file=alertmanager.yml="$work/alertmanager.yml" --dry-run=client -o yaml | apply -f -
  apply -f "$work/monitoring.yaml"
  # Config comes from ConfigMaps mounted with subPath, which never update in a running pod: a
  # checksum in the pod template rolls the pods when a re-run changes the config or the rules.
  local sum
  sum="$(cat "$addons_dir/config/prometheus.yml" "$rules" "$work/alertmanager.yml" | sha256sum | cut -c1-16)"
  local d
  for d in prometheus alertmanager; do
    kubectl -n monitoring patch deployment "$d" --type=merge \
      -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"herald-e2e/config\":\"$sum\"}}}}}" >/dev/null
  done
  kubectl -n monitoring rollout status deployment/alertmanager --timeout="$timeout"
  kubectl -n monitoring rollout status deployment/prometheus --timeout="$timeout"
  kubectl -n monitoring rollout status deployment/kube-state-metrics --timeout="$timeout"
}

start=$SECONDS
for s in "${steps[@]}"; do
  case $s in
    gateway-api) step "Gateway API CRDs" gateway_api ;;
    keda) step "KEDA" keda ;;
    traefik) step "Traefik" traefik ;;
    monitoring) step "Prometheus, Alertmanager, kube-state-metrics" monitoring ;;
    *) die "unknown step '$s' (expected: gateway-api keda traefik monitoring)" ;;
  esac
done
log "add-ons installed in $((SECONDS - start))s"
