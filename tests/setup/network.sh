#!/bin/bash
# Test environment of the ip drivers (run as root, idempotent): iproute2 (`ip`), util-linux
# (`nsenter`), iputils-ping (the availability checks) and iputils-arping (the gratuitous ARP
# announce; the drivers only warn when it is missing, the tests check the announce is sent).
# The tests build their own bridges, veth pairs and namespaces (and, when docker's firewall
# rules are there, an iptables rule letting their bridge forward): nothing is configured here.
set -euo pipefail

missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)
command -v ping >/dev/null || missing+=(iputils-ping)
command -v arping >/dev/null || missing+=(iputils-arping)
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
	echo "installed ${missing[*]}"
fi
