#!/usr/bin/env bash
# Builds, from the Go module proxy and Debian packages only, everything an offline kind cluster
# needs, and caches it outside the clone (HERALD_E2E_CACHE, default ~/.cache/herald/e2e; the
# Kubernetes binaries go to HERALD_TOOLS_DIR, default ~/.cache/herald/tools). Only what is missing
# or out of date is built; a warm run takes seconds.
#
#   bash test/e2e/cluster/images.sh      build what is missing; prints the node image's name last
#
# Outputs: the kind binary ($HERALD_E2E_CACHE/bin/kind), the node image herald.dev/kind-node:<k8s>-<key>
# in Docker (its name also in $HERALD_E2E_CACHE/node-image). See README.md for what is inside.
# Needs root (debootstrap, chroot), Docker (started here if installed; installed on Debian if not),
# gcc, and network access to the Go module proxy and a Debian mirror on a cold run.
#   HERALD_E2E_DEBIAN_MIRROR   Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   HERALD_E2E_DEBIAN_SUITE    Debian release of the node (default trixie: containerd 1.7)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# build.sh's build/modver/k8s_ldflags: Go binaries are built and cached the same way as the
# integration tests' ones. It defines its own log/die, so lib.sh is read again after it.
source "$repo_dir/test/tools/build.sh"
source "$cluster_dir/lib.sh"

export DOCKER_BUILDKIT=0 # the classic builder: FROM a local image never reaches for a registry
kind_version=v0.33.0
suite="${HERALD_E2E_DEBIAN_SUITE:-trixie}"
mirror="${HERALD_E2E_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# Packages of the node: kind's images/base Dockerfile list, with Debian's containerd, runc and CNI
# plugins instead of kind's own builds of them (nfs/iscsi/e2fsprogs/curl left out: no storage
# drivers or downloads in these tests).
node_packages=(systemd dbus conntrack iptables nftables iproute2 ethtool util-linux mount kmod
  libseccomp2 pigz fuse-overlayfs bash ca-certificates jq procps socat containerd runc
  containernetworking-plugins)
# Packages of the image kube-proxy and the local-path helper run on (iptables/nft; a shell).
tools_packages=(iptables nftables conntrack kmod)

summary=()
cpu_children() { # CPU seconds used by finished child processes so far
  local t
  t="$(times | sed -n 2p)"
  awk -v t="$t" 'BEGIN { n = split(t, f, " "); s = 0; for (i = 1; i <= n; i++) { split(f[i], p, "m"); s += p[1] * 60 + p[2] } printf "%d", s }'
}
# stage NAME FUNCTION ARGS...: runs one stage, records cached/built, wall and CPU time. A stage
# function returns 0 when it built something and 10 when its output was cached already. It runs
# in a subshell with errexit on (a function called from `||` would run with errexit off), so any
# failing command ends the stage, and its EXIT trap cleans up.
stage() {
  local name="$1" start=$SECONDS cpu0 rc
  shift
  cpu0="$(cpu_children)"
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  case $rc in
    0) summary+=("$(printf '%-26s built   %5ss wall %5ss cpu' "$name" $((SECONDS - start)) $(($(cpu_children) - cpu0)))") ;;
    10) summary+=("$(printf '%-26s cached' "$name")") ;;
    *) die "stage $name failed" ;;
  esac
}

default_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
short_hash() { sha256sum | cut -c1-12; }
# quiet CMD...: run CMD, showing its output only when it fails (docker build's legacy-builder
# deprecation notice is noise on every run).
quiet() {
  local out rc=0
  out="$("$@" 2>&1)" || rc=$?
  [[ $rc == 0 ]] || printf '%s\n' "$out" >&2
  return "$rc"
}
image_label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

# --- Go binaries -------------------------------------------------------------------------------

build_kind() {
  local dir="$e2e_cache/kind-$kind_version"
  mkdir -p "$e2e_cache/bin"
  ln -sfn "../kind-$kind_version/kind" "$e2e_cache/bin/kind"
  [[ -x $dir/kind ]] && return 10
  log "building kind $kind_version"
  mkdir -p "$dir"
  GOBIN="$dir/.tmp" go install -trimpath -ldflags=-s "sigs.k8s.io/kind@$kind_version"
  mv "$dir/.tmp/kind" "$dir/kind" && rmdir "$dir/.tmp"
}

build_k8s() {
  local b missing=0
  for b in kubelet kubeadm kubectl kube-scheduler kube-proxy kube-apiserver kube-controller-manager; do
    [[ -x $kbin/$b ]] || missing=1
  done
  [[ $missing == 1 ]] || return 10
  [[ $(bash "$repo_dir/test/tools/build.sh" node) == "$kbin" ]] || die "build.sh node built elsewhere than $kbin"
}

# go_bin NAME MODULE_DIR PKG: one binary of a helper module under test/e2e/cluster/go, cached by
# the version of the module it comes from.
go_bin() {
  local name="$1" moddir="$cluster_dir/go/$2" pkg="$3" mod="$4" version dir
  version="$(modver "$moddir" "$mod")"
  dir="$e2e_cache/bin/$name-$version"
  [[ -x $dir/$name ]] && return 10
  build "$dir" "$moddir" "-s -w" "$name=$pkg"
}

build_pause() {
  local dir="$e2e_cache/bin/pause-$pause_version" src
  [[ -x $dir/pause ]] && return 10
  command -v gcc >/dev/null 2>&1 || die "gcc is needed for the pause binary (apt-get install gcc libc6-dev)"
  src="$(go mod download -json "k8s.io/kubernetes@$k8s" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c"
  [[ -f $src ]] || die "no pause.c in the k8s.io/kubernetes@$k8s module ($src)"
  mkdir -p "$dir"
  # The flags of build/pause/Makefile; static, so it runs on an empty image.
  gcc -Os -Wall -Werror -static -DVERSION="v$pause_version-herald" -o "$dir/pause.tmp" "$src"
  mv "$dir/pause.tmp" "$dir/pause"
}

# --- Debian root filesystems -------------------------------------------------------------------

ensure_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return 0
  source "$repo_dir/test/tools/apt.sh"
  apt_install e2e-cluster debootstrap
}

# debootstrap_tar OUT PACKAGES...: a minbase Debian with PACKAGES, pruned of docs, locales and apt
# caches, packed into OUT.
debootstrap_tar() {
  local out="$1" tree
  shift
  ensure_debootstrap
  mkdir -p "$e2e_cache/debs" "$(dirname "$out")"
  tree="$(mktemp -d "$e2e_cache/tmp/cluster-rootfs.XXXXXX")"
  local pkgs="$*"
  log "debootstrap $suite (${pkgs// /,}) from $mirror"
  debootstrap --variant=minbase --cache-dir="$e2e_cache/debs" --include="${pkgs// /,}" \
    "$suite" "$tree" "$mirror" >"$e2e_cache/logs/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $e2e_cache/logs/debootstrap.log"
  rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/* "$tree"/usr/share/doc/* \
    "$tree"/usr/share/man/* "$tree"/usr/share/locale/* "$tree"/var/log/*.log
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$tree" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$tree"
}

# debian_image REF PACKAGES...: the debootstrapped tree as a Docker image. The tar is cached by
# what debootstrap is given only, so changing the import reuses it.
debian_image() {
  local ref="$1"
  shift
  local repo="${ref%:*}" tar
  tar="$e2e_cache/rootfs/${repo##*/}-$( (echo "$suite $*"; declare -f debootstrap_tar) | short_hash).tar"
  [[ -f $tar ]] || debootstrap_tar "$tar" "$@"
  # A root filesystem tar carries no environment; programs that exec others need a PATH.
  docker import --change "ENV PATH=$default_path" "$tar" "$ref" >/dev/null
}

build_node_debian() {
  docker image inspect "$node_debian" >/dev/null 2>&1 && return 10
  debian_image "$node_debian" "${node_packages[@]}"
}

build_tools_base() {
  docker image inspect "$tools_base" >/dev/null 2>&1 && return 10
  debian_image "$tools_base" "${tools_packages[@]}"
}

# node_setup: the RUN step of kind's images/base Dockerfile, adapted to Debian's packages, then
# what this host needs (see README.md). Printed here, run inside the image being built.
node_setup() {
  cat <<EOF
set -eu
# kind's own containerd build lives in /usr/local/bin, Debian's in /usr/bin. CNI plugins: Debian
# puts them in /usr/lib/cni, containerd looks in /opt/cni/bin.
ln -sfn /usr/bin/containerd /usr/local/bin/containerd
mkdir -p /opt/cni && ln -sfn /usr/lib/cni /opt/cni/bin
# No services but the ones kind enables; no kmsg in journald.
find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
  /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
  /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>/etc/systemd/journald.conf
ln -sfn /usr/lib/systemd/systemd /sbin/init
systemctl enable kubelet.service containerd.service undo-mount-hacks.service
systemctl mask systemd-binfmt.service
mkdir -p /etc/kubernetes/manifests
ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \\
  | jq 'del(.process.rlimits)' >/etc/containerd/cri-base.json
# Without CAP_SYS_RESOURCE containerd may not lower a container's oom_score_adj, so it keeps it
# within what it may set (kind does the same in a user namespace). The sandbox image is the
# pause version kubeadm names, the one this image carries.
sed -i -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \\
  -e 's#sandbox_image = .*#sandbox_image = "registry.k8s.io/pause:$pause_version"#' /etc/containerd/config.toml
grep -q 'restrict_oom_score_adj = true' /etc/containerd/config.toml
grep -q 'pause:$pause_version' /etc/containerd/config.toml
# kubelet reads node/99-herald-cgroupv1.conf from this drop-in directory.
sed -i 's#^KUBELET_EXTRA_ARGS=.*#& --config-dir=/etc/kubernetes/kubelet.conf.d#' /etc/default/kubelet
grep -q config-dir /etc/default/kubelet
EOF
}

# The node base: kind's images/base files (read from the kind module in the Go module cache) and
# steps on the Debian tree, plus this repository's node/ files.
build_node_base() {
  docker image inspect "$node_base" >/dev/null 2>&1 && return 10
  local ctx files
  files="$(go mod download -json "sigs.k8s.io/kind@$kind_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/images/base/files"
  [[ -d $files ]] || die "no images/base/files in sigs.k8s.io/kind@$kind_version"
  ctx="$(mktemp -d "$e2e_cache/tmp/cluster-nodebase.XXXXXX")"
  cp -r "$files" "$ctx/files"
  cp -r "$cluster_dir/node" "$ctx/herald"
  # The modes kind's Dockerfile gives: scripts 0755, everything else 0644 (the module cache is read-only).
  find "$ctx" -type d -exec chmod 0755 {} +
  find "$ctx" -type f -exec chmod 0644 {} +
  chmod 0755 "$ctx"/files/usr/local/bin/* "$ctx"/files/kind/bin/* "$ctx/herald/herald-entrypoint"
  node_setup >"$ctx/setup.sh"
  cat >"$ctx/Dockerfile" <<EOF
FROM $node_debian
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/LICENSES/ /LICENSES/
COPY files/etc/ /etc/
COPY herald/herald-entrypoint /usr/local/bin/
COPY herald/10-herald-bridge.conflist /etc/cni/net.d/
COPY herald/99-herald-cgroupv1.conf /etc/kubernetes/kubelet.conf.d/
COPY setup.sh /kind/herald-setup.sh
RUN sh /kind/herald-setup.sh && rm /kind/herald-setup.sh
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/herald-entrypoint", "/sbin/init"]
EOF
  quiet docker build -q -t "$node_base" "$ctx"
  rm -rf "$ctx"
}

# The base of the static binaries' images: users, CA certificates and /tmp, as distroless has.
build_static_base() {
  docker image inspect "$static_base" >/dev/null 2>&1 && return 10
  local t
  t="$(mktemp -d "$e2e_cache/tmp/cluster-static.XXXXXX")"
  install -d "$t/etc/ssl/certs" "$t/tmp" "$t/var/run" "$t/home/nonroot"
  chmod 1777 "$t/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$t/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$t/etc/group"
  printf 'hosts: files dns\n' >"$t/etc/nsswitch.conf"
  docker run --rm --entrypoint cat "$node_base" /etc/ssl/certs/ca-certificates.crt >"$t/etc/ssl/certs/ca-certificates.crt"
  tar --numeric-owner -C "$t" -c . | docker import --change "ENV PATH=$default_path" - "$static_base" >/dev/null
  rm -rf "$t"
}

# --- Images inside the node --------------------------------------------------------------------

# component REF BASE BINARY DEST [DOCKERFILE_LINES...]: an image of one binary on a base, rebuilt
# when the binary or the base changes (their digest is a label of the image).
component() {
  local ref="$1" base="$2" bin="$3" dest="$4"
  shift 4
  local key
  key="$( (sha256sum <"$bin"; docker image inspect -f '{{.Id}}' "$base"; printf '%s\n' "$dest" "$@") | short_hash)"
  [[ $(image_label "$ref" herald.e2e.key) == "$key" ]] && return 10
  local ctx
  ctx="$(mktemp -d "$e2e_cache/tmp/cluster-image.XXXXXX")"
  cp "$bin" "$ctx/$(basename "$dest")"
  {
    echo "FROM $base"
    echo "COPY $(basename "$dest") $dest"
    printf '%s\n' "$@"
    echo "LABEL herald.e2e.key=$key"
  } >"$ctx/Dockerfile"
  quiet docker build -q -t "$ref" "$ctx"
  rm -rf "$ctx"
}

build_components() {
  local built=10 ref rc
  for ref in "${kubeadm_images[@]}" "$localpath_image" "$helper_image"; do
    rc=0
    case $ref in
      */kube-apiserver:* | */kube-controller-manager:* | */kube-scheduler:*)
        local b="${ref##*/}"
        b="${b%%:*}"
        component "$ref" "$static_base" "$kbin/$b" "/usr/local/bin/$b" || rc=$?
        ;;
      */kube-proxy:*) component "$ref" "$tools_base" "$kbin/kube-proxy" /usr/local/bin/kube-proxy || rc=$? ;;
      */etcd:*) component "$ref" "$static_base" "$e2e_cache/bin/etcd-$etcd_version/etcd" /usr/local/bin/etcd || rc=$? ;;
      */coredns:*)
        component "$ref" "$static_base" "$e2e_cache/bin/coredns-$coredns_version/coredns" /coredns \
          'ENTRYPOINT ["/coredns"]' || rc=$?
        ;;
      */pause:*)
        component "$ref" "$static_base" "$e2e_cache/bin/pause-$pause_version/pause" /pause \
          'USER 65535:65535' 'ENTRYPOINT ["/pause"]' || rc=$?
        ;;
      "$localpath_image")
        component "$ref" "$static_base" "$e2e_cache/bin/local-path-provisioner-$localpath_version/local-path-provisioner" \
          /usr/local/bin/local-path-provisioner || rc=$?
        ;;
      "$helper_image")
        # The helper only runs `sh -c 'mkdir -m 0777 -p ...'` and `rm -rf`: any shell will do.
        if docker image inspect "$ref" >/dev/null 2>&1; then rc=10; else docker tag "$tools_base" "$ref"; fi
        ;;
      *) die "kubeadm wants $ref, which this script does not know how to build" ;;
    esac
    case $rc in
      0) log "built image $ref"; built=0 ;;
      10) ;;
      *) return "$rc" ;;
    esac
  done
  return "$built"
}

# kind's default StorageClass manifest (local-path-provisioner), from the kind module's source,
# pointing at the images built here.
storage_manifest() {
  local src
  src="$(go mod download -json "sigs.k8s.io/kind@$kind_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/pkg/build/nodeimage/const_storage.go"
  awk '/^const defaultStorageManifest = `/ { on = 1; next } on && /^`$/ { exit } on { print }' "$src" |
    sed -e "s#\` + storageProvisionerImage + \`#$localpath_image#g" -e "s#\` + storageHelperImage + \`#$helper_image#g" >"$1"
  grep -q 'provisioner: rancher.io/local-path' "$1" || die "could not read the storage manifest from $src"
  ! grep -q '` +' "$1" || die "unexpected template left in the storage manifest from $src"
}

# The node image: the node base, the Kubernetes binaries, and every image above imported into the
# node's containerd (k8s.io namespace, pinned so the kubelet never garbage-collects them), the way
# `kind build node-image` lays it out.
build_node() {
  docker image inspect "$node_image" >/dev/null 2>&1 && return 10
  local work builder="herald-e2e-nodebuild-$$"
  work="$(mktemp -d "$e2e_cache/tmp/cluster-node.XXXXXX")"
  # stage runs this in a subshell: the trap fires when the stage ends, however it ends.
  trap "docker rm -f $builder herald-e2e-nodecommit-$$ >/dev/null 2>&1; rm -rf $work" EXIT
  mkdir -p "$work/images" "$work/overlay/var/lib/containerd" "$work/overlay/usr/bin" "$work/overlay/kind/manifests"
  local -a refs=("${kubeadm_images[@]}" "$localpath_image" "$helper_image")
  docker save -o "$work/images/all.tar" "${refs[@]}"
  local -a run_opts=(--privileged)
  if needs_shim; then mapfile -t run_opts < <(privileged_args); fi
  # containerd alone in a container of the node base, its state on a bind mount (overlayfs
  # snapshots cannot live on the container's own overlay filesystem).
  docker run -d --name "$builder" "${run_opts[@]}" --tmpfs /run --tmpfs /tmp --entrypoint /usr/bin/containerd \
    -v "$work/overlay/var/lib/containerd:/var/lib/containerd" -v "$work/images:/images:ro" "$node_base" >/dev/null
  local deadline=$((SECONDS + 60))
  until docker exec "$builder" ctr version >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { docker logs "$builder" >&2; die "containerd in $builder did not start"; }
    sleep 1
  done
  docker exec "$builder" ctr -n k8s.io images import --all-platforms --snapshotter overlayfs \
    --discard-unpacked-layers /images/all.tar >/dev/null
  local ref name
  for ref in "${refs[@]}"; do
    name="$ref"
    [[ ${ref%%/*} == *.* ]] || name="docker.io/$ref"
    docker exec "$builder" ctr -n k8s.io images label "$name" io.cri-containerd.pinned=pinned >/dev/null ||
      die "image $name is not in the node's containerd"
  done
  docker stop -t 30 "$builder" >/dev/null
  cp "$kbin/kubelet" "$kbin/kubeadm" "$kbin/kubectl" "$work/overlay/usr/bin/"
  printf '%s' "$k8s" >"$work/overlay/kind/version"
  install -m 0644 "$cluster_dir/node/default-cni.yaml" "$work/overlay/kind/manifests/default-cni.yaml"
  storage_manifest "$work/overlay/kind/manifests/default-storage.yaml"
  local n="herald-e2e-nodecommit-$$"
  docker create --name "$n" "$node_base" >/dev/null
  # -a keeps owners and modes (the image layers in containerd's snapshots have their own).
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$work/overlay" -c . | docker cp -a - "$n:/"
  docker commit --change "LABEL herald.e2e.k8s=$k8s" "$n" "$node_image" >/dev/null
}

main() {
  [[ $(id -u) -eq 0 ]] || die "images.sh needs root (debootstrap and chroot build the node's root filesystem)"
  mkdir -p "$e2e_cache/logs" "$e2e_cache/bin"
  exec 8>"$e2e_cache/.lock"
  flock -n 8 || { log "another images.sh holds $e2e_cache/.lock; waiting"; flock 8; }
  # Left-overs of an interrupted run (the lock says none is running now).
  rm -rf "$e2e_cache"/tmp/cluster-*
  mkdir -p "$e2e_cache/tmp"
  ensure_docker
  local t0=$SECONDS

  k8s="$(modver "$repo_dir/test/tools" k8s.io/kubernetes)"
  etcd_version="$(modver "$cluster_dir/go/etcd" go.etcd.io/etcd/server/v3)"
  coredns_version="$(modver "$cluster_dir/go/coredns" github.com/coredns/coredns)"
  localpath_version="$(modver "$cluster_dir/go/local-path" github.com/rancher/local-path-provisioner)"
  log "kind $kind_version, kubernetes $k8s, etcd $etcd_version, coredns $coredns_version, local-path-provisioner $localpath_version, Debian $suite; cache $e2e_cache"

  # The root filesystems first (network and disk bound), then the Go builds. kubeadm's image
  # versions come from its source here and are checked against the built kubeadm below.
  kbin="$HERALD_TOOLS_DIR/k8s-$k8s"
  local constants
  constants="$(go mod download -json "k8s.io/kubernetes@$k8s" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/cmd/kubeadm/app/constants/constants.go"
  pause_version="$(sed -n 's/^[[:space:]]*PauseVersion = "\(.*\)"/\1/p' "$constants")"
  [[ -n $pause_version ]] || die "no PauseVersion in $constants"

  # Keys: what each image is made from, so changing a package list or a step rebuilds it.
  node_debian="herald.dev/e2e-node-debian:$( (echo "$suite ${node_packages[*]}"; declare -f debootstrap_tar debian_image) | short_hash)"
  node_base_key="$( (echo "$node_debian $kind_version $pause_version"; declare -f node_setup build_node_base; cat "$cluster_dir"/node/*) | short_hash)"
  tools_base_key="$( (echo "$suite ${tools_packages[*]}"; declare -f debootstrap_tar debian_image) | short_hash)"
  node_base="herald.dev/e2e-node-base:$node_base_key"
  tools_base="herald.dev/e2e-tools-base:$tools_base_key"
  static_base="herald.dev/e2e-static-base:$( (echo "$node_base"; declare -f build_static_base) | short_hash)"
  localpath_image="herald.dev/local-path-provisioner:$localpath_version"
  helper_image="herald.dev/local-path-helper:$tools_base_key"
  stage "node Debian $suite" build_node_debian
  stage "node base" build_node_base
  stage "tools Debian $suite" build_tools_base
  stage "static base" build_static_base

  stage kind build_kind
  stage "etcd $etcd_version" go_bin etcd etcd go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3
  stage "coredns $coredns_version" go_bin coredns coredns herald.dev/e2e/coredns github.com/coredns/coredns
  stage "local-path $localpath_version" go_bin local-path-provisioner local-path github.com/rancher/local-path-provisioner github.com/rancher/local-path-provisioner
  stage "pause $pause_version" build_pause

  stage "kubernetes $k8s" build_k8s
  # kubeadm names the images it runs; the node must carry exactly those.
  mapfile -t kubeadm_images < <("$kbin/kubeadm" config images list --kubernetes-version "$k8s")
  local img
  for img in "${kubeadm_images[@]}"; do
    case $img in
      */pause:*) [[ ${img##*:} == "$pause_version" ]] || die "kubeadm wants $img, its source said pause $pause_version" ;;
      */etcd:*) [[ ${img##*:} == "${etcd_version#v}-"* ]] || die "kubeadm wants $img; pin go/etcd to that etcd" ;;
      */coredns:*) [[ ${img##*:} == "$coredns_version" ]] || die "kubeadm wants $img; pin go/coredns to that version" ;;
    esac
  done
  stage "images in the node" build_components

  local ids
  ids="$(for img in "${kubeadm_images[@]}" "$localpath_image" "$helper_image" "$node_base"; do docker image inspect -f '{{.Id}}' "$img"; done
    sha256sum "$kbin/kubelet" "$kbin/kubeadm" "$kbin/kubectl" "$cluster_dir/node/default-cni.yaml"; declare -f build_node storage_manifest)"
  node_image="herald.dev/kind-node:$k8s-$(short_hash <<<"$ids")"
  stage "node image" build_node
  printf '%s\n' "$node_image" >"$node_image_ref.tmp"
  mv "$node_image_ref.tmp" "$node_image_ref"

  log "summary ($((SECONDS - t0))s):"
  printf '  %s\n' "${summary[@]}" >&2
  log "kind: $e2e_cache/bin/kind; node image: $node_image ($(docker image inspect -f '{{.Size}}' "$node_image" | awk '{ printf "%.2f GB", $1 / 1e9 }'))"
  echo "$node_image"
}

# Sourced (to try one stage by hand): define only.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0
main "$@"
exit
