#!/bin/sh
# The entrypoint of the ib-sriov CNI image (deploy/cni/Containerfile): installs the plugin on
# the node, then stays running so the DaemonSet's pod stays Running (the pattern of the Go
# ib-sriov-cni and sriov-cni images). The kubelet's container runtime finds CNI plugins in the
# host's /opt/cni/bin, which deploy/cni/k8s/daemonset.yaml mounts at /host/opt/cni/bin.
#
# The copy is atomic: the binary is written under a temporary name in the target directory and
# renamed over the plugin. A runtime running the plugin at that moment keeps executing the old
# file (an in-place copy would fail with "Text file busy" or hand it a half-written binary),
# and one starting it sees either the old or the new plugin, never a partial one.
#
# Environment (defaults in brackets):
#   CNI_BIN_DIR    the directory to install into [/host/opt/cni/bin]
#   IB_SRIOV_BIN   the plugin to install [/usr/local/bin/ib-sriov, where the image has it]
#   INSTALL_ONLY   1: exit 0 after installing instead of sleeping (tests, one-off installs
#                  such as `podman run --rm -e INSTALL_ONLY=1 -v /opt/cni/bin:/host/opt/cni/bin`)
#
# Exit status: 1 when the plugin or the directory is missing or the copy fails; the message
# names which.
set -eu

cni_bin_dir=${CNI_BIN_DIR:-/host/opt/cni/bin}
src=${IB_SRIOV_BIN:-/usr/local/bin/ib-sriov}
# The plugin's file name is its CNI "type": the name the network configs use.
dest=$cni_bin_dir/ib-sriov

if [ ! -f "$src" ] || [ ! -x "$src" ]; then
  echo "install-cni: $src is not an executable file" >&2
  exit 1
fi
if [ ! -d "$cni_bin_dir" ]; then
  echo "install-cni: $cni_bin_dir is not a directory (is the host's CNI bin directory mounted there?)" >&2
  exit 1
fi

# A dot name no runtime looks up; removed again if the copy fails half-way.
tmp=$cni_bin_dir/.ib-sriov.install.$$
trap 'rm -f "$tmp"' EXIT
cp "$src" "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$dest"
trap - EXIT
echo "install-cni: installed $src as $dest"

if [ "${INSTALL_ONLY:-0}" = 1 ]; then
  exit 0
fi

# Sleep until the pod is deleted. PID 1 gets no default signal handling, so SIGTERM is trapped
# to end at once instead of after the termination grace period (`wait` returns on the signal).
sleep infinity &
sleeper=$!
trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM INT
wait "$sleeper"
