# Sourced by images.sh, up.sh and down.sh: cache location, logging, Docker start-up and the
# capability list that stands in for `--privileged` on hosts that cannot grant it.

cluster_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$cluster_dir/../../.." && pwd)"
# Everything built lives outside the clone, so a fresh clone reuses it and `git clean` keeps it.
e2e_cache="${HERALD_E2E_CACHE:-$HOME/.cache/herald/e2e}"
# The Kubernetes binaries sit beside the integration tests' kube-apiserver (test/tools/build.sh).
export HERALD_TOOLS_DIR="${HERALD_TOOLS_DIR:-$HOME/.cache/herald/tools}"
# The file images.sh writes the node image's name into; up.sh reads it.
node_image_ref="$e2e_cache/node-image"

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  PATH="/usr/local/go/bin:$PATH"
fi

log() { printf '[e2e-cluster %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '[e2e-cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# Docker 20.10's daemon answers a newer CLI; this only checks that something answers.
docker_up() { docker info >/dev/null 2>&1; }

# ensure_docker: install docker.io on Debian when there is no Docker engine (a docker CLI alone, as
# some machines ship, cannot run anything), start dockerd when it is not running (as root, in the
# background, logging beside the cache), and wait until it answers.
ensure_docker() {
  if ! command -v dockerd >/dev/null 2>&1 && ! docker_up; then
    [[ -f /etc/debian_version ]] || die "no docker here; install Docker and rerun"
    # shellcheck source=../../tools/apt.sh
    source "$repo_dir/test/tools/apt.sh"
    apt_install e2e-cluster docker.io
  fi
  docker_up && return 0
  command -v dockerd >/dev/null 2>&1 || die "docker does not answer and there is no dockerd to start"
  [[ $(id -u) -eq 0 ]] || die "the Docker daemon is not running; start it (e.g. sudo systemctl start docker) and rerun"
  mkdir -p "$e2e_cache/logs"
  log "starting dockerd (log: $e2e_cache/logs/dockerd.log)"
  # setsid: the daemon outlives this script and the caller's process group. Descriptors 3-9 are
  # closed, or the daemon would hold images.sh's lock (fd 8) for as long as it runs.
  setsid dockerd --storage-driver=overlay2 >>"$e2e_cache/logs/dockerd.log" 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  local deadline=$((SECONDS + 60))
  until docker_up; do
    ((SECONDS < deadline)) || die "dockerd did not answer within 60s; see $e2e_cache/logs/dockerd.log"
    sleep 1
  done
}

# needs_shim: true when `docker run --privileged` cannot work here because the bounding set lacks
# a capability the kernel has (seen: no CAP_SYS_RESOURCE), since Docker grants them all or fails.
needs_shim() {
  [[ ${HERALD_E2E_SHIM:-auto} == 1 ]] && return 0
  [[ ${HERALD_E2E_SHIM:-auto} == 0 ]] && return 1
  local last bnd
  last="$(cat /proc/sys/kernel/cap_last_cap)"
  bnd="$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)"
  (((16#$bnd) != (1 << (last + 1)) - 1))
}

# docker_knows_cap CAP: whether this Docker daemon can grant CAP at all. Older daemons (Debian's
# 20.10) refuse the newest capabilities (CAP_BPF, CAP_PERFMON, CAP_CHECKPOINT_RESTORE) by name,
# and `--privileged` there never included them either. Probed once per daemon version, by creating
# (never starting) a container of any local image.
docker_knows_cap() {
  local version probe_image file id
  version="$(docker version -f '{{.Server.Version}}' 2>/dev/null | tr -c 'A-Za-z0-9.\n' _)"
  file="$e2e_cache/docker-caps-$version"
  if [[ ! -f $file ]]; then
    mkdir -p "$e2e_cache"
    probe_image="$(docker image ls -q | sed -n 1p)"
    [[ -n $probe_image ]] || { echo "*" >"$file.tmp" && mv "$file.tmp" "$file"; }
  fi
  if [[ ! -f $file ]]; then
    local c
    for c in $(capsh --decode="$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)" | sed 's/.*=//; s/,/ /g'); do
      # A command of its own: images made by `docker import` have none, and create refuses them.
      if id="$(docker create --cap-add "${c^^}" "$probe_image" /probe 2>/dev/null)"; then
        docker rm "$id" >/dev/null
        echo "${c^^}"
      fi
    done >"$file.tmp"
    # Every host grants some capabilities; none means the probe itself failed, so nothing is cached.
    [[ -s $file.tmp ]] || die "could not probe which capabilities Docker $version grants (docker create failed for all)"
    mv "$file.tmp" "$file"
  fi
  grep -qx -e "$1" -e '\*' "$file"
}

# privileged_args: what `--privileged` gives a kind node, spelled out so it works without the
# capabilities this host lacks: every capability of the bounding set, /proc unmasked, all device
# access, the devices a node uses. /sys and the cgroup mounts stay read-only; the node image's
# entrypoint remounts them (node/herald-entrypoint).
privileged_args() {
  local bnd cap
  bnd="$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)"
  for cap in $(capsh --decode="$bnd" | sed 's/.*=//; s/,/ /g'); do
    docker_knows_cap "${cap^^}" && printf '%s\n' --cap-add "${cap^^}"
  done
  printf '%s\n' --security-opt systempaths=unconfined --security-opt seccomp=unconfined \
    --security-opt apparmor=unconfined --device-cgroup-rule 'a *:* rwm'
  local dev
  for dev in /dev/kmsg /dev/fuse /dev/loop-control; do
    [[ -e $dev ]] && printf '%s\n' --device "$dev"
  done
  return 0
}

# kind_env: makes kind (run from this shell) reach Docker through shim/docker when this host needs
# it; every kind command that starts or enters a node (create, load, export logs) must run so.
kind_env() {
  needs_shim || return 0
  [[ -z ${HERALD_E2E_REAL_DOCKER:-} ]] || return 0
  command -v capsh >/dev/null 2>&1 || {
    source "$repo_dir/test/tools/apt.sh"
    apt_install e2e-cluster libcap2-bin
  }
  export HERALD_E2E_REAL_DOCKER
  HERALD_E2E_REAL_DOCKER="$(command -v docker)"
  export PATH="$cluster_dir/shim:$PATH"
}

# The kind binary images.sh built (HERALD_E2E_KIND overrides).
kind_bin() {
  local kind="${HERALD_E2E_KIND:-$e2e_cache/bin/kind}"
  [[ -x $kind ]] || die "no kind at $kind; run: bash test/e2e/cluster/images.sh"
  printf '%s\n' "$kind"
}
