#!/usr/bin/env bash
# Deletes a kind cluster up.sh created (its node container, volume and kubeconfig context).
#
#   bash test/e2e/cluster/down.sh NAME [KUBECONFIG]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 1 && $# -le 2 ]] || die "usage: down.sh NAME [KUBECONFIG]"
name="$1"
kind="${HERALD_E2E_KIND:-$e2e_cache/bin/kind}"
[[ -x $kind ]] || kind="$(command -v kind)" || die "no kind at $e2e_cache/bin/kind or on PATH"
docker_up || die "the Docker daemon does not answer; nothing to delete"

t0=$SECONDS
if "$kind" get clusters 2>/dev/null | grep -qx "$name"; then
  args=(delete cluster --name "$name")
  [[ $# -lt 2 ]] || args+=(--kubeconfig "$2")
  "$kind" "${args[@]}"
  log "deleted kind cluster $name in $((SECONDS - t0))s"
else
  log "no kind cluster $name"
fi
