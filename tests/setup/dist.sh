#!/usr/bin/env bash
# What tests/tests/dist.rs needs: openssl (the vendor's signing keys), tar, dpkg-deb (the .deb
# of packaging/build) and man (the .deb's man page is read back).
set -euo pipefail
# shellcheck source=tests/setup/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v tar >/dev/null || need+=(tar)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v man >/dev/null || need+=(man-db)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
