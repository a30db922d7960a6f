#!/usr/bin/env bash
# Installs what `make bench` needs besides Node, when missing: wrk (the load generator),
# redis-server and redis-benchmark, rsvg-convert (renders the chart) and a font for it.
set -euo pipefail

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
command -v rsvg-convert >/dev/null 2>&1 || need+=(librsvg2-bin)
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || need+=(fonts-dejavu-core)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
[[ ${#need[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "missing: ${need[*]}; install them (apt-get install ${need[*]}) and rerun" >&2; exit 1; }
  sudo="sudo"
fi
echo "[bench-deps] installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
