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

source "$(dirname "$0")/../test/tools/apt.sh"
apt_install bench-deps "${need[@]}"
