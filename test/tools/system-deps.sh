#!/usr/bin/env bash
# Installs the system packages Herald's tests run against, when they are missing:
# redis-server (every integration test starts a private one), redis-cli (the Redis Cluster tests join
# their servers with `redis-cli --cluster create`) and promtool (Debian's
# prometheus package: alert rule tests and the dashboard check run a real Prometheus).
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[[ ${#need[@]} -eq 0 ]] && exit 0

source "$(dirname "$0")/apt.sh"
apt_install system-deps "${need[@]}"
# The prometheus package starts a system service we do not want running beside the tests.
if [[ " ${need[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
  as_root systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
fi
