# Sourced by test/tools/system-deps.sh and bench/system-deps.sh: installs Debian packages as root, or
# through sudo when there is one, and says what to install by hand when there is not.

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# apt_install LABEL PACKAGE...
apt_install() {
  local label=$1
  shift
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
    echo "missing: $*; install them (apt-get install $*) and rerun" >&2
    exit 1
  fi
  echo "[$label] installing $*" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
