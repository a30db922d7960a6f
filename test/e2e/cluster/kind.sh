#!/usr/bin/env bash
# Runs the kind images.sh built, through shim/docker on hosts that need it (see README.md). Use it
# for every kind command after up.sh, e.g.
#   bash test/e2e/cluster/kind.sh load docker-image herald:e2e --name herald-e2e
#   bash test/e2e/cluster/kind.sh export logs DIR --name herald-e2e
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kind="$(kind_bin)"
kind_env
exec "$kind" "$@"
