#!/usr/bin/env bash
# Speed figures of issue 13 (OCF), each printed next to its target. Not run by CI: the figures
# depend on the machine. Usage: bench/ocf.sh  (after tests/setup/pacemaker.sh; honours
# CARGO_TARGET_DIR). Medians measured by hyperfine on a release build in a throwaway root.
#
# 1. `print status` of a service with 20 app.ocf heartbeat:Dummy resources, against the same
#    20 `monitor` calls run directly with the concurrency svcmgr uses (16): <= 1.3x.
# 2. `monitor` of ocf:svcmgr:service on a 10-resource service, against
#    `svcmgr -s <name> status` alone: <= 1.3x.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
[ -x /usr/lib/ocf/resource.d/heartbeat/Dummy ] || { echo "run tests/setup/pacemaker.sh first" >&2; exit 1; }
need hyperfine jq
build
warmup=3

root=$(mktemp -d /tmp/svcmgr-bench-ocf-XXXXXX)
mkdir -p "$root/etc/opensvc" "$root/state"
# Installed drivers, as the OCF agent (run without our environment) finds them.
for lib in app ocf; do
  "$svcmgr" driver package "$build_dir/libsvcmgr_driver_$lib.so" --output "$root/packages" >/dev/null
done
SVCMGR_ROOT=$root "$svcmgr" driver install "$root"/packages/*.tar.gz >/dev/null 2>&1
export SVCMGR_ROOT=$root SVCMGR_NODENAME=bench
trap '"$svcmgr" -s dummies stop >/dev/null 2>&1; "$svcmgr" -s apps stop >/dev/null 2>&1; rm -rf "$root"' EXIT

echo "== app.ocf: print status of 20 heartbeat:Dummy resources"
{
    echo "[DEFAULT]"
    echo "id = bench-dummies"
    for i in $(seq 1 20); do
        printf '\n[app#%d]\ntype = ocf\nagent = heartbeat:Dummy\nparams = state=%s/state/d%d\n' \
            "$i" "$root" "$i"
    done
} >"$root/etc/opensvc/dummies.conf"
"$svcmgr" -s dummies start >/dev/null 2>&1
"$svcmgr" -s dummies status || { "$svcmgr" -s dummies print status; echo "dummies is not up" >&2; exit 1; }
# The same monitors, same instance names and parameters, 16 at a time (eval.rs WORKERS).
cat >"$root/monitors.sh" <<EOF
seq 1 20 | xargs -P16 -I{} env OCF_ROOT=/usr/lib/ocf OCF_RA_VERSION_MAJOR=1 \
    OCF_RA_VERSION_MINOR=1 OCF_RESOURCE_INSTANCE=dummies.app#{} OCF_RESKEY_CRM_meta_interval=0 \
    OCF_RESKEY_state=$root/state/d{} /usr/lib/ocf/resource.d/heartbeat/Dummy monitor
EOF
status=$(median_ms 20 "$svcmgr -s dummies print status")
direct=$(median_ms 20 "bash $root/monitors.sh")
echo "   (print status ${status} ms; 20 direct monitors ${direct} ms)"
report "print status / direct monitors (meta-data cached)" "$(ratio "$status" "$direct")" 1.3 x

echo "== ocf:svcmgr:service: monitor of a 10-resource service"
{
    echo "[DEFAULT]"
    echo "id = bench-apps"
    for i in $(seq 1 10); do
        printf '\n[app#%d]\nstart = touch %s/state/a%d\nstop = rm -f %s/state/a%d\ncheck = test -f %s/state/a%d\n' \
            "$i" "$root" "$i" "$root" "$i" "$root" "$i"
    done
} >"$root/etc/opensvc/apps.conf"
"$svcmgr" -s apps start >/dev/null 2>&1
"$svcmgr" -s apps status || { "$svcmgr" -s apps print status; echo "apps is not up" >&2; exit 1; }
alone=$(median_ms 40 "$svcmgr -s apps status")
# The agent run directly, as pacemaker-execd runs it: parameters in the environment.
agent=$(
    export OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=apps OCF_RESKEY_name=apps \
        OCF_RESKEY_root=$root OCF_RESKEY_binary=$svcmgr
    median_ms 40 "$repo/packaging/ocf/service monitor"
)
echo "   (agent monitor ${agent} ms; svcmgr status ${alone} ms)"
report "agent monitor / svcmgr status" "$(ratio "$agent" "$alone")" 1.3 x
