# shellcheck shell=bash
# The Debian packages each job needs, in one place; sourced by the user-facing scripts:
#
#   . scripts/lib/packages.sh                                   # from the repository root, or
#   . "$(dirname "$(readlink -f "$0")")/lib/packages.sh"        # from any directory (rxe-vm)
#   ensure_packages build vm peers                              # the sets the caller needs
#
# ensure_packages SET... checks with dpkg-query that every package of the sets is installed.
# When some are missing:
#   - as root: one `apt-get update` (once per process), then
#     `apt-get install -y --no-install-recommends MISSING...`, with no prompt
#     (DEBIAN_FRONTEND=noninteractive, stdin /dev/null) and apt's output in a log file whose
#     tail is shown if it fails; then checks again;
#   - otherwise: says which are missing, prints the one line
#         sudo apt-get install --no-install-recommends MISSING...
#     and exits with status $PACKAGES_EXIT (1 unless the caller sets it; rxe-vm's is 125).
# Set `build` also needs a Rust toolchain: cargo on PATH, or ~/.cargo/bin/cargo (then added to
# PATH); without one it stops with how to install it (rustup), after the packages' message.
#
# Messages start with ${PACKAGES_PROG:-the script's name}. dpkg-query and apt-get are taken from
# PATH (scripts/test-packages puts fakes first); root is $EUID 0.

declare -A PACKAGE_SETS=(
  # Building the workspace: bindgen reads the verbs headers (libclang); the static release
  # links the archives of libibverbs (with its drivers), librdmacm and libnl. python3 reads
  # cargo's JSON messages in scripts/test-device and scripts/bench-device.
  [build]="libibverbs-dev librdmacm-dev libnl-3-dev libnl-route-3-dev libclang-dev clang pkg-config gcc python3"
  # The Soft-RoCE VM (scripts/rxe-vm): QEMU, the initramfs (busybox, cpio, the kernel modules'
  # zstd/xz), and in the guest (the host's root, read-only) `ip` and `rdma` to make rxe0 and
  # the user-space verbs with the rxe provider.
  [vm]="qemu-system-x86 busybox-static cpio zstd xz-utils iproute2 rdma-core ibverbs-providers libibverbs1"
  # The C side of the interop tests and comparisons: ibv_rc_pingpong, perftest, rping.
  [peers]="ibverbs-utils perftest rdmacm-utils"
  # The device tests: host-local IPAM for the CNI plugin, strace for the crash tests.
  [tests]="containernetworking-plugins strace"
  # The instruction counts of the safe data path (scripts/count-instructions).
  [counts]="valgrind"
  # The container images (scripts/build-images, scripts/test-images).
  [images]="podman"
)
# Every set, in the order above: what scripts/test-all ensures.
PACKAGE_SET_NAMES="build vm peers tests counts images"

packages_prog() { printf '%s' "${PACKAGES_PROG:-${0##*/}}"; }
packages_note() { echo "$(packages_prog): $*" >&2; }
packages_die() {
  echo "$(packages_prog): error: $*" >&2
  exit "${PACKAGES_EXIT:-1}"
}

# The packages of SET..., each once, space-separated.
packages_of() {
  local set p out=" "
  for set in "$@"; do
    [ -n "${PACKAGE_SETS[$set]+x}" ] ||
      packages_die "unknown package set '$set' (known: $PACKAGE_SET_NAMES)"
    for p in ${PACKAGE_SETS[$set]}; do
      [[ $out == *" $p "* ]] || out+="$p "
    done
  done
  out=${out# }
  printf '%s' "${out% }"
}

# The packages of SET... that are not installed, space-separated (one dpkg-query call).
missing_packages() {
  local want p line missing=()
  want=$(packages_of "$@") || exit
  declare -A installed=()
  # dpkg-query exits 1 when it knows a package not at all; it still lists the others.
  # shellcheck disable=SC2086 # one word per package
  while read -r p line; do
    [ "$line" != installed ] || installed[$p]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $want 2>/dev/null || true)
  for p in $want; do
    [ -n "${installed[$p]+x}" ] || missing+=("$p")
  done
  printf '%s' "${missing[*]}"
}

PACKAGES_UPDATED=
# `apt-get update`, at most once per process; as root only (returns 1 otherwise).
packages_apt_update() {
  [ "$EUID" = 0 ] || return 1
  [ -z "$PACKAGES_UPDATED" ] || return 0
  PACKAGES_UPDATED=1
  packages_note "running apt-get update"
  packages_apt update
}

# apt-get ARGS..., non-interactive, output to a log shown (its tail) only on failure.
packages_apt() {
  local log rc=0
  log=$(mktemp "${TMPDIR:-/tmp}/apt-get.XXXXXX.log") || packages_die "cannot create a temporary file"
  # A bounded wait for the dpkg lock (another apt, unattended-upgrades) instead of failing.
  DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300 "$@" \
    </dev/null >"$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 20 "$log" | sed 's/^/  | /' >&2
    packages_die "apt-get $1 failed (exit $rc; full output in $log)"
  fi
  rm -f "$log"
}

# The Rust toolchain: cargo on PATH, else ~/.cargo/bin (rustup's place) put on PATH. Returns 1
# when there is none.
packages_find_cargo() {
  command -v cargo >/dev/null 2>&1 && return 0
  if [ -n "${HOME:-}" ] && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH=$HOME/.cargo/bin:$PATH
    export PATH
    return 0
  fi
  return 1
}
packages_no_cargo() {
  packages_note "no Rust toolchain: cargo is neither on PATH nor in ~/.cargo/bin. Install Rust" \
    "(1.95 or newer; Debian's own cargo package is too old) with rustup, as the user who builds:"
  echo "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy" >&2
  packages_note "then open a new shell (or run '. ~/.cargo/env') and run this again"
}

ensure_packages() {
  [ $# -gt 0 ] || packages_die "ensure_packages: no package set named (known: $PACKAGE_SET_NAMES)"
  packages_of "$@" >/dev/null || exit
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    packages_die "needs a Debian or Ubuntu machine: dpkg-query and apt-get are not on PATH" \
      "(packages needed: $(packages_of "$@"))"
  fi
  local missing cargo=1 set t0
  missing=$(missing_packages "$@") || exit
  for set in "$@"; do
    [ "$set" != build ] || packages_find_cargo || cargo=0
  done
  if [ -n "$missing" ] && [ "$EUID" != 0 ]; then
    packages_note "missing Debian packages (sets: $*): $missing. Run this as root to install" \
      "them, or install them first with:"
    echo "sudo apt-get install --no-install-recommends $missing" >&2
    [ "$cargo" = 1 ] || packages_no_cargo
    exit "${PACKAGES_EXIT:-1}"
  fi
  if [ -n "$missing" ]; then
    t0=$SECONDS
    packages_apt_update
    packages_note "installing $missing"
    # shellcheck disable=SC2086 # one word per package
    packages_apt install -y --no-install-recommends $missing
    missing=$(missing_packages "$@") || exit
    [ -z "$missing" ] || packages_die "apt-get install succeeded, yet dpkg-query still finds these" \
      "not installed: $missing"
    packages_note "installed in $((SECONDS - t0))s"
  fi
  if [ "$cargo" = 0 ]; then
    packages_no_cargo
    exit "${PACKAGES_EXIT:-1}"
  fi
}
