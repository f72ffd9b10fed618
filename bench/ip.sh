#!/bin/bash
# Benchmarks of the ip drivers through the svcmgr binary (run as root, after
# tests/setup/network.sh and tests/setup/docker.sh):
#  1. `print status` of the v2 tutorial's svc2 (3 containers + ip.netns, all up) against the
#     same service without ip#1 (target: ratio <= 1.2);
#  2. ip.host start and stop of an address on a test bridge, excluding the availability
#     wait (the resource is tagged nonrouted, which skips the pings) (target: <= 50 ms each).
# Figures are printed and written to $OUT (default: a temp dir) as hyperfine JSON.
# PROFILE=debug benchmarks the debug build; CARGO_TARGET_DIR is honoured. The bench builds
# its own bridge (198.19.X.0/24, a range no test uses) and removes it on exit.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
out_dir
need hyperfine
build docker ip
need_image
new_root ip docker ip

bridge=sbb$$
range=198.19.$(($$ % 254 + 1))
cleanup() {
	for name in bench-svc2 bench-noip; do
		svc "$name" unprovision >/dev/null 2>&1 || true
	done
	svc bench-host stop >/dev/null 2>&1 || true
	ip link del "$bridge" 2>/dev/null || true
	rm -rf "$root"
}
trap cleanup EXIT
ip link add "$bridge" type bridge
ip addr add "$range.1/24" dev "$bridge"
ip link set "$bridge" up

svc2_conf() { # name, then whether to add ip#1
	local name=$1 with_ip=$2
	{
		printf '[DEFAULT]\nid = %s\n\n' "$(cat /proc/sys/kernel/random/uuid)"
		printf '[container#1]\ntype = docker\nimage = %s\n\n' "$image"
		for n in 2 3; do
			printf '[container#%s]\ntype = docker\nimage = %s\nnetns = container#1\n\n' "$n" "$image"
		done
		if [ "$with_ip" = yes ]; then
			printf '[ip#1]\ntype = netns\nmode = bridge\nnetns = container#1\nipdev = %s\n' "$bridge"
			printf 'ipname = %s.20\nnetmask = 255.255.255.0\ngateway = %s.1\n' "$range" "$range"
		fi
	} >"$root/etc/opensvc/$name.conf"
}

svc2_conf bench-svc2 yes
svc2_conf bench-noip no
svc bench-svc2 start >/dev/null 2>&1
svc bench-noip start >/dev/null 2>&1
svc bench-svc2 print status | grep -q 'ip#1 .* up ' || { echo "svc2's ip#1 is not up" >&2; exit 1; }
hyperfine -N --warmup 3 --runs 40 --export-json "$out/print-status.json" \
	-n "print status, svc2 without ip#1" "$svcmgr -s bench-noip print status" \
	-n "print status, svc2 (3 containers + ip.netns)" "$svcmgr -s bench-svc2 print status"

printf '[DEFAULT]\nid = %s\n\n[ip#1]\nipdev = %s\nipname = %s.10\ntags = nonrouted\n' \
	"$(cat /proc/sys/kernel/random/uuid)" "$bridge" "$range" >"$root/etc/opensvc/bench-host.conf"
hyperfine -N --warmup 2 --runs 30 --export-json "$out/host.json" \
	--prepare "$svcmgr -s bench-host stop" -n "ip.host start" "$svcmgr -s bench-host start" \
	--prepare "$svcmgr -s bench-host start" -n "ip.host stop" "$svcmgr -s bench-host stop"

python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
noip, svc2 = json.load(open(f"{out}/print-status.json"))["results"]
print(f"print status of svc2: median {svc2['median']*1000:.1f} ms, without ip#1 "
      f"{noip['median']*1000:.1f} ms; ratio {svc2['median']/noip['median']:.2f} (target <= 1.2)")
for r in json.load(open(f"{out}/host.json"))["results"]:
    print(f"{r['command']}: median {r['median']*1000:.1f} ms (target <= 50 ms)")
EOF
echo "hyperfine JSON in $out"
