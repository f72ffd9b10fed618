#!/usr/bin/env bash
# What tests/tests/dist.rs needs: openssl (the vendor's signing keys), tar, dpkg-deb (the .deb
# of packaging/build) and man (the .deb's man page is read back).
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v tar >/dev/null || need+=(tar)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v man >/dev/null || need+=(man-db)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
