# Debian packages each job needs, in one place; sourced by the user-facing scripts.
#
#   . scripts/lib/packages.sh
#   ensure_packages build vm peers     # the sets the caller needs
#
# As root, missing packages are installed (one apt-get update, then apt-get install, with no
# prompt and no recommended packages). Otherwise the caller stops with the one command that
# installs them. `ensure_toolchain` stops with a hint when cargo is missing.

# shellcheck shell=bash
declare -A PACKAGE_SETS=(
  # Building the workspace: bindgen reads the verbs headers; the static release links the
  # archives of libibverbs (with its drivers), librdmacm and libnl. python3 reads cargo's JSON
  # messages in the scripts.
  [build]="libibverbs-dev librdmacm-dev libnl-3-dev libnl-route-3-dev libclang-dev clang pkg-config gcc python3"
  # The Soft-RoCE VM (scripts/rxe-vm: the same list it ensures itself).
  [vm]="qemu-system-x86 busybox-static cpio zstd xz-utils rdma-core ibverbs-providers libibverbs1 iproute2 strace"
  # The C side of the interop tests and comparisons, in the VM.
  [peers]="ibverbs-utils perftest rdmacm-utils"
  # The CNI device tests' IPAM (host-local) and the instruction counts (valgrind).
  [tests]="containernetworking-plugins valgrind"
)

packages_die() {
  echo "${0##*/}: $*" >&2
  exit 1
}

# The packages of the named sets that are not installed, one line.
missing_packages() {
  local set p missing=()
  for set in "$@"; do
    [ -n "${PACKAGE_SETS[$set]+x}" ] || packages_die "unknown package set '$set'"
    for p in ${PACKAGE_SETS[$set]}; do
      [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
        [[ " ${missing[*]} " == *" $p "* ]] || missing+=("$p")
    done
  done
  echo "${missing[*]}"
}

ensure_packages() {
  command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 ||
    packages_die "needs a Debian or Ubuntu machine (dpkg-query and apt-get not found)"
  local set missing out
  for set in "$@"; do
    [ -n "${PACKAGE_SETS[$set]+x}" ] || packages_die "unknown package set '$set'"
  done
  missing=$(missing_packages "$@")
  [ -n "$missing" ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "${0##*/}: missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install --no-install-recommends $missing" >&2
    exit 1
  fi
  echo "${0##*/}: installing $missing" >&2
  # shellcheck disable=SC2086 # one word per package
  if ! out=$(export DEBIAN_FRONTEND=noninteractive
    apt-get update -q 2>&1 </dev/null &&
      apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends $missing 2>&1 </dev/null); then
    printf '%s\n' "$out" | tail -n 20 >&2
    packages_die "apt-get could not install: $missing"
  fi
}

ensure_toolchain() {
  command -v cargo >/dev/null 2>&1 ||
    packages_die "no Rust toolchain (cargo) on PATH: install one with rustup (https://rustup.rs), then run this again"
}
