#!/bin/bash
# Benchmarks of the fs and disk.vg drivers through the svcmgr binary (run as root, after
# tests/setup/storage.sh and tests/setup/docker.sh), on loop devices:
#  1. `print status` of the v1 tutorial's service, all up: vg#1 on a loop PV, fs#1 and fs#2
#     (inside fs#1) on two other loops, three containers on the private docker daemon whose
#     data is on fs#2 (target: median <= 60 ms). The fs status forks nothing (mountinfo); the
#     vg status runs one `lvm fullreport`, whose own cost (to its exit) is shown next to it;
#  2. start + stop of one ext4 fs on a loop device, e2fsck included, and the share of it spent
#     in e2fsck, mount and umount themselves (target: svcmgr's own part <= 5 ms), with only
#     the fs driver in the driver folder, as an installed layout loads only the drivers a
#     service uses.
# Figures are printed and written to $OUT (default: a temp dir) as hyperfine JSON.
# PROFILE=debug benchmarks the debug build; CARGO_TARGET_DIR is honoured.
set -euo pipefail

export LVM_SUPPRESS_FD_WARNINGS=1

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
out_dir
need hyperfine jq gcc
build fs disk docker
need_image
new_root storage fs disk docker
mkdir -p "$root/drivers-fs"
ln -s "$build_dir/libsvcmgr_driver_fs.so" "$root/drivers-fs/"
vg=benchvg$$
id=$(cat /proc/sys/kernel/random/uuid)
cleanup() {
	export SVCMGR_DRIVER_PATH=$root/drivers
	svc bench-v1 stop >/dev/null 2>&1 || true
	svc bench-fs stop >/dev/null 2>&1 || true
	awk -v r="$root" '$5 ~ "^" r { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l
	vgs "$vg" >/dev/null 2>&1 && vgremove -qq -ff "$vg"
	for img in "$root"/*.img; do
		for dev in $(losetup -n -O NAME -j "$img"); do
			pvremove -qq -y "$dev" >/dev/null 2>&1 || true
			losetup -d "$dev"
		done
	done
	rm -rf "/var/run/svcmgr-docker/${id:0:8}" "$root"
}
trap cleanup EXIT

loop() { # name → a loop device on a blank sparse 64 MiB image <name>.img (cleanup finds it)
	truncate -s 64M "$root/$1.img"
	losetup -f --show "$root/$1.img"
}
pv=$(loop pv); approot=$(loop approot); appdata=$(loop appdata); one=$(loop one)
app=$root/opt/app

cat >"$root/etc/opensvc/bench-v1.conf" <<EOF
[DEFAULT]
id = $id
docker_data_dir = $app/appdata

[container#1]
type = docker
run_image = $image
run_command = /bin/sh
tty = true
interactive = true
stop_timeout = 3s

[container#2]
type = docker
run_image = $image

[container#3]
type = docker
run_image = $image
run_args = -v $app/vol1:/vol1:rw

[vg#1]
vgname = $vg
pvs = $pv

[fs#1]
mnt_opt = rw
mnt = $app
dev = $approot
type = ext4

[fs#2]
mnt_opts = rw
mnt = $app/appdata
dev = $appdata
type = ext4
EOF

svc bench-v1 provision --rid vg,fs >/dev/null 2>&1
docker save -o "$root/image.tar" "$image"
svc bench-v1 docker load -i "$root/image.tar" >/dev/null 2>&1
svc bench-v1 start >/dev/null 2>&1
svc bench-v1 print status
# The driver's report, run to its exit (the driver reads it to its end and leaves LVM's
# ~30 ms aio teardown to the background).
hyperfine -N --warmup 3 --runs 40 --export-json "$out/print-status.json" \
	-n "print status (v1: vg + 2 fs + 3 containers)" "$svcmgr -s bench-v1 print status" \
	-n "lvm fullreport" "lvm fullreport --reportformat json --configreport vg -o vg_name,vg_tags \
--configreport pv -o pv_name --configreport lv -o lv_name,lv_attr --configreport pvseg \
-o pvseg_start --configreport seg -o segtype $vg"
svc bench-v1 stop >/dev/null 2>&1
export SVCMGR_DRIVER_PATH=$root/drivers-fs

# One ext4 fs: start (e2fsck + mount) and stop (umount), and the same tools run by hand, each
# in the state svcmgr runs it in: e2fsck on the unmounted device, mount right after e2fsck,
# umount of a filesystem mounted right after e2fsck (an umount after a check takes longer
# than one after a bare mount).
mnt=$root/one
mkdir -p "$mnt"
mkfs.ext4 -q "$one"
printf '[DEFAULT]\nid = %s\n\n[fs#1]\ntype = ext4\ndev = %s\nmnt = %s\n' \
	"$(cat /proc/sys/kernel/random/uuid)" "$one" "$mnt" >"$root/etc/opensvc/bench-fs.conf"
down="umount -q $mnt || true"
checked="$down; e2fsck -p $one >/dev/null"
hyperfine -N --warmup 3 --runs 30 --export-json "$out/fs.json" \
	-n "svcmgr start (e2fsck + mount)" --prepare "$svcmgr -s bench-fs stop" "$svcmgr -s bench-fs start" \
	-n "svcmgr stop (umount)" --prepare "$svcmgr -s bench-fs start" "$svcmgr -s bench-fs stop" \
	-n "e2fsck -p" --prepare "sh -c '$down'" "e2fsck -p $one" \
	-n "mount" --prepare "sh -c '$checked'" "mount -t ext4 $one $mnt" \
	-n "umount" --prepare "sh -c '$checked; mount -t ext4 $one $mnt'" "umount $mnt"
umount -q "$mnt" || true
# What any svcmgr command costs before acting (process, config, drivers, the fs status), what
# starting any process costs on this machine, and the floor of a state-changing command: the
# least a program can do that loads the driver library and keeps its state durably (a C
# program: dlopen, then one file replaced as svcmgr replaces monitor.json: write, fsync,
# rename, fsync of the folder). No command of any design can cost less here.
cat >"$root/floor.c" <<'EOF_C'
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char tmp[4096], dst[4096];
    if (argc != 3 || !dlopen(argv[1], RTLD_NOW)) return 1;
    snprintf(tmp, sizeof tmp, "%s/.floor.tmp", argv[2]);
    snprintf(dst, sizeof dst, "%s/floor.json", argv[2]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, "{}\n", 3) != 3 || fsync(fd) || close(fd) || rename(tmp, dst))
        return 1;
    int dir = open(argv[2], O_RDONLY | O_CLOEXEC);
    return dir < 0 || fsync(dir) || close(dir);
}
EOF_C
gcc -O2 -o "$root/floor" "$root/floor.c"
mkdir -p "$root/var/floor"
hyperfine -N --warmup 3 --runs 30 --export-json "$out/baseline.json" \
	-n "svcmgr print status (fs down)" "$svcmgr -s bench-fs print status" \
	-n "/bin/true" "/bin/true" \
	-n "floor (dlopen the driver, one durable write)" \
	"$root/floor $build_dir/libsvcmgr_driver_fs.so $root/var/floor"

python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
ms = lambda r: r["median"] * 1000
status, lvm = json.load(open(f"{out}/print-status.json"))["results"]
print(f"print status, v1 service: median {ms(status):.1f} ms (target <= 60 ms); "
      f"an lvm fullreport to its exit: {ms(lvm):.1f} ms")
runs = json.load(open(f"{out}/fs.json"))["results"]
start, stop, fsck, mount, umount = (ms(r) for r in runs)
tools = fsck + mount + umount
print(f"start + stop of one ext4 fs: {start + stop:.1f} ms (start {start:.1f}, stop {stop:.1f}); "
      f"e2fsck {fsck:.1f} + mount {mount:.1f} + umount {umount:.1f} = {tools:.1f} ms "
      f"({100 * tools / (start + stop):.0f} %); svcmgr's own part {start + stop - tools:.1f} ms "
      f"for the two commands (target <= 5 ms)")
base, true, floor = (ms(r) for r in json.load(open(f"{out}/baseline.json"))["results"])
own = start + stop - tools
print(f"  of which starting two processes (/bin/true: {true:.1f} ms each) {2 * true:.1f} ms, "
      f"svcmgr's work beyond that {own - 2 * true:.1f} ms; the fixed cost of running svcmgr "
      f"twice (process, config, drivers, status: {base:.1f} ms each) {2 * base:.1f} ms, "
      f"the actions themselves {own - 2 * base:.1f} ms")
print(f"  floor of two state-changing commands on this machine (a C program that loads the "
      f"driver and writes one file durably: {floor:.1f} ms each): {2 * floor:.1f} ms; "
      f"svcmgr beyond the floor {own - 2 * floor:.1f} ms")
# Wall time on a shared machine is noisy; CPU time (mean, children included) is steadier.
cpu = [(r["user"] + r["system"]) * 1000 for r in runs]
print(f"  CPU: start + stop {cpu[0] + cpu[1]:.1f} ms, the three tools {sum(cpu[2:]):.1f} ms, "
      f"svcmgr's own {cpu[0] + cpu[1] - sum(cpu[2:]):.1f} ms")
EOF
echo "hyperfine JSON in $out"
