#!/bin/bash
# Test environment of the fs and disk.vg drivers (run as root, idempotent): the system tools
# they run (mkfs/fsck for ext* and xfs, LVM, fuser, wipefs/blkid/losetup).
set -euo pipefail

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
if [ ${#missing[@]} -gt 0 ]; then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
fi
