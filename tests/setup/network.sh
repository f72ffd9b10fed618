#!/bin/bash
# Test environment of the ip drivers (run as root, idempotent): iproute2 (`ip`), util-linux
# (`nsenter`) and iputils-ping (the availability checks); the tests also use procps (`sysctl`,
# so that their "other host" learns neighbours from the drivers' gratuitous ARP announces).
# The tests build their own bridges, veth pairs and namespaces (and, when docker's firewall
# rules are there, an iptables rule letting their bridge forward): nothing is configured here.
set -euo pipefail
# shellcheck source=tests/setup/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"

missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)
command -v ping >/dev/null || missing+=(iputils-ping)
command -v sysctl >/dev/null || missing+=(procps)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
