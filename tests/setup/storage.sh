#!/bin/bash
# Test environment of the fs and disk.vg drivers (run as root, idempotent): the system tools
# they run (mkfs/fsck for ext* and xfs, LVM, fuser, wipefs/blkid/losetup).
set -euo pipefail
# shellcheck source=tests/setup/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"

# command → the Debian package that ships it
declare -A tools=(
	[mkfs.ext4]=e2fsprogs
	[e2fsck]=e2fsprogs
	[mkfs.xfs]=xfsprogs
	[vgcreate]=lvm2
	[fuser]=psmisc
	[losetup]=mount
	[wipefs]=util-linux
	[blkid]=util-linux
)
missing=()
for tool in "${!tools[@]}"; do
	PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null || missing+=("${tools[$tool]}")
done
[ ${#missing[@]} -eq 0 ] || apt_install --no-install-recommends "${missing[@]}"
