#!/bin/bash
# Benchmarks of the container.docker driver through the svcmgr binary (run as root, after
# tests/setup/docker.sh):
#  1. `print status` of the 7-container "Complex Orchestration" service, all up
#     (target: median <= 40 ms);
#  2. `start` of a 4-container parallel subset vs `start` of a single container, each from
#     no instance (create + start), then from stopped instances (docker start), the case of
#     every start after the first (target: parallel <= 1.3 x single).
# Figures are printed and written to $OUT (default: a temp dir) as hyperfine JSON.
# PROFILE=debug benchmarks the debug build; CARGO_TARGET_DIR is honoured.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
out_dir
need hyperfine
build docker
need_image
new_root docker docker
cleanup() {
	for name in bench-status bench-parallel bench-single; do
		svc "$name" unprovision >/dev/null 2>&1 || true
	done
	rm -rf "$root"
}
trap cleanup EXIT

containers_conf() { # name, then "rid subset" pairs
	local name=$1; shift
	{
		printf '[DEFAULT]\nid = %s\n\n' "$(cat /proc/sys/kernel/random/uuid)"
		for pair in "$@"; do
			set -- $pair
			printf '[container#%s]\ntype = docker\nimage = %s\n' "$1" "$image"
			[ -n "${2:-}" ] && printf 'subset = %s\n' "$2"
			echo
		done
		printf '[subset#container.docker:01appservers]\nparallel = true\n'
	} >"$root/etc/opensvc/$name.conf"
}

containers_conf bench-status "1 00database" "2 01appservers" "3 01appservers" "4 01appservers" \
	"5 01appservers" "6 02webservers" "7 02webservers"
svc bench-status start >/dev/null 2>&1
hyperfine -N --warmup 3 --runs 50 --export-json "$out/print-status.json" \
	-n "print status (7 containers)" "$svcmgr -s bench-status print status"

containers_conf bench-parallel "1 01appservers" "2 01appservers" "3 01appservers" "4 01appservers"
containers_conf bench-single "1"
hyperfine -N --warmup 1 --runs 10 --export-json "$out/start.json" \
	--prepare "$svcmgr -s bench-single unprovision" -n "start 1 container" \
	"$svcmgr -s bench-single start" \
	--prepare "$svcmgr -s bench-parallel unprovision" -n "start 4 containers in parallel" \
	"$svcmgr -s bench-parallel start"
hyperfine -N --warmup 1 --runs 10 --export-json "$out/restart.json" \
	--prepare "$svcmgr -s bench-single stop" -n "start 1 stopped container" \
	"$svcmgr -s bench-single start" \
	--prepare "$svcmgr -s bench-parallel stop" -n "start 4 stopped containers in parallel" \
	"$svcmgr -s bench-parallel start"

python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
status = json.load(open(f"{out}/print-status.json"))["results"][0]
print(f"print status, 7 containers: median {status['median']*1000:.1f} ms (target <= 40 ms)")
for name, what in (("start", "new"), ("restart", "stopped")):
    single, parallel = json.load(open(f"{out}/{name}.json"))["results"]
    print(f"start 1 {what} container: median {single['median']*1000:.0f} ms; "
          f"4 in parallel: median {parallel['median']*1000:.0f} ms; "
          f"ratio {parallel['median']/single['median']:.2f} (target <= 1.3)")
EOF
echo "hyperfine JSON in $out"
