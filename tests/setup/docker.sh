#!/bin/bash
# Test environment of the container.docker driver (run as root, idempotent):
# a running docker engine and the local images svcmgr-test/busybox:1 and :2.
# No registry is reachable: the images are built FROM scratch around the host's static busybox.
set -euo pipefail
# shellcheck source=tests/setup/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"

here=$(cd "$(dirname "$0")" && pwd)
images=$(cd "$here/../images" && pwd)
log=${DOCKERD_LOG:-/var/log/svcmgr-test-dockerd.log}

engine_up() { docker info >/dev/null 2>&1; }

if ! engine_up; then
	command -v dockerd >/dev/null || apt_install docker.io
	if ! engine_up; then
		echo "starting dockerd (log: $log)"
		setsid dockerd >>"$log" 2>&1 </dev/null &
		for _ in $(seq 1 60); do
			engine_up && break
			sleep 0.5
		done
		engine_up || { echo "dockerd did not answer within 30s, see $log" >&2; exit 1; }
	fi
fi

# busybox for the images; iproute2 for the bridge of a service's private daemon.
missing=()
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v ip >/dev/null || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

build() {
	local tag=$1 variant=$2
	if docker image inspect "$tag" >/dev/null 2>&1; then
		return
	fi
	local ctx
	ctx=$(mktemp -d)
	trap 'rm -rf "$ctx"' RETURN
	cp "$images/busybox/Dockerfile" "$ctx/"
	mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp"
	cp /bin/busybox "$ctx/rootfs/bin/busybox"
	for applet in sh sleep cat echo ls ps hostname ip true false; do
		ln -s busybox "$ctx/rootfs/bin/$applet"
	done
	# The variant label gives :1 and :2 different image ids.
	DOCKER_BUILDKIT=0 docker build -q --build-arg "VARIANT=$variant" -t "$tag" "$ctx" >/dev/null
	echo "built $tag"
}

build svcmgr-test/busybox:1 1
build svcmgr-test/busybox:2 2
