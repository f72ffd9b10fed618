#!/bin/bash
# Test environment of the OCF agent and the ocf driver (run as root, idempotent): Debian's
# resource-agents (the heartbeat:* agents, ocf-tester), pacemaker, its command-line tools and
# corosync. No daemon is started here: the cluster tests start and stop their own one-node
# cluster. The packages' own service starts are blocked by the image's policy, as wanted.
set -euo pipefail
# shellcheck source=tests/setup/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"

missing=()
for pkg in resource-agents pacemaker pacemaker-cli-utils corosync; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# xmllint (ocf-tester validates meta-data with it), losetup/mkfs.ext4 (Filesystem agent on a
# loop device) and ip (IPaddr2 on a bridge).
command -v xmllint >/dev/null || missing+=(libxml2-utils)
command -v losetup >/dev/null || missing+=(mount)
command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
command -v ip >/dev/null || missing+=(iproute2)
# heartbeat:Filesystem refuses to run without modprobe.
command -v modprobe >/dev/null || missing+=(kmod)

[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
