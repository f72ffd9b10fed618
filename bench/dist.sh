#!/usr/bin/env bash
# Speed figures of issue 10 (driver distribution), each printed next to its target. Not run by
# CI: the figures depend on the machine. Usage: bench/dist.sh (honours CARGO_TARGET_DIR).
# Medians measured by hyperfine on a release build in throwaway roots.
#
# 1. `driver install` of a package of a 5 MB library (the largest release library, padded to
#    5 MB): <= 100 ms.
# 2. What 20 installed versions of the driver a service uses add to its `print status`, the
#    digest check included, with the digest cache warm: <= 5 ms.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need hyperfine jq
build
work=$(mktemp -d /tmp/svcmgr-bench-dist-XXXXXX)
trap 'rm -rf "$work"' EXIT
unset SVCMGR_DRIVER_PATH
export SVCMGR_NODENAME=bench
warmup=3

echo "== driver install of a package of about 5 MB"
# The largest release library, grown to 5 MB with an ELF-neutral tail (bytes after the
# section table are never mapped), so the package is 5 MB whatever the build's size.
lib=$(ls -S "$build_dir"/libsvcmgr_driver_*.so | head -1)
big=$work/libbig_driver.so
cp "$lib" "$big"
size=$(stat -c %s "$big")
[ "$size" -lt 5242880 ] && head -c $((5242880 - size)) /dev/urandom >>"$big"
"$svcmgr" driver package "$big" --output "$work/pkg" >/dev/null
pkg=$(ls "$work"/pkg/*.tar.gz)
printf 'library %s: %d bytes, package %d bytes\n' "$(basename "$lib")" "$(stat -c %s "$big")" "$(stat -c %s "$pkg")"
ms=$(median_ms 20 --prepare "rm -rf $work/root1" \
    "env SVCMGR_ROOT=$work/root1 $svcmgr driver install $pkg")
report "driver install (5 MB library)" "$ms" 100

echo "== print status with 20 installed versions of the driver it uses"
"$svcmgr" driver package "$build_dir/libsvcmgr_driver_app.so" --output "$work/app" >/dev/null
app=$(ls "$work"/app/*.tar.gz)
# 20 installed versions: the real 1.0.0 (the one used and loaded) and 19 older ones, the same
# library whose driver.json says 0.1.0 … 0.19.0 (known from driver.json, never loaded: a
# library is loaded only at the version a resource uses, and checked to be what it says then).
mkdir -p "$work/x" "$work/versions"
tar xzf "$app" -C "$work/x"
file=$(jq -r .file "$work/x/driver.json")
cp "$app" "$work/versions/app-1.0.0.tar.gz"
for i in $(seq 1 19); do
    v="0.$i.0"
    jq --arg v "$v" '.version = $v | .drivers |= map(.version = $v)' "$work/x/driver.json" \
        >"$work/x/d.json"
    mkdir -p "$work/v$i"
    cp "$work/x/d.json" "$work/v$i/driver.json"
    cp "$work/x/$file" "$work/v$i/$file"
    tar czf "$work/versions/app-$v.tar.gz" -C "$work/v$i" driver.json "$file"
done
for root in one twenty; do
    mkdir -p "$work/$root/etc/opensvc"
    printf '[DEFAULT]\nid = bench\n\n[app#1]\nstart = /bin/true\ncheck = /bin/true\n' \
        >"$work/$root/etc/opensvc/s.conf"
done
SVCMGR_ROOT=$work/one "$svcmgr" driver install "$app" >/dev/null 2>&1
SVCMGR_ROOT=$work/twenty "$svcmgr" driver install "$work"/versions/*.tar.gz >/dev/null 2>&1
# Warm the digest caches (a library changed in the last second is not remembered).
sleep 1.2
for root in one twenty; do SVCMGR_ROOT=$work/$root "$svcmgr" -s s print status >/dev/null; done
one=$(median_ms 50 "env SVCMGR_ROOT=$work/one $svcmgr -s s print status")
twenty=$(median_ms 50 "env SVCMGR_ROOT=$work/twenty $svcmgr -s s print status")
printf 'print status: one installed version %s ms, twenty %s ms\n' "$one" "$twenty"
report "added by 19 more installed versions (warm digest cache)" \
    "$(awk -v a="$twenty" -v b="$one" 'BEGIN { print a - b }')" 5
cold=$(median_ms 10 --prepare "rm -f $work/twenty/var/cache/svcmgr/digests.json" \
    "env SVCMGR_ROOT=$work/twenty $svcmgr -s s print status")
printf 'for reference, with no digest cache (the library rehashed): %s ms\n' "$cold"
