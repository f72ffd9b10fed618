# Shared by the bench scripts (sourced): a release build, a throwaway SVCMGR_ROOT with the
# first-party drivers, and the helpers that measure and report. Figures depend on the machine;
# CI does not run the benches.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
rel=$target/release
cd "$repo"

if ! command -v hyperfine >/dev/null; then
    echo "hyperfine missing: installing it" >&2
    apt-get update -qq && apt-get install -y hyperfine >&2
fi

cargo build --release --workspace >&2

root=$(mktemp -d /tmp/svcmgr-bench-XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/drivers" "$root/etc/opensvc" "$root/empty-drivers"
ln -s "$rel"/libsvcmgr_driver_*.so "$root/drivers/"
export SVCMGR_ROOT=$root SVCMGR_DRIVER_PATH=$root/drivers SVCMGR_NODENAME=bench
svcmgr=$rel/svcmgr

# Median wall time in ms of a command (hyperfine, no intermediate shell).
median_ms() {
    local runs=$1
    shift
    hyperfine -N --style none --warmup 2 --runs "$runs" --export-json "$root/h.json" "$@" >/dev/null
    jq '.results[0].median * 1000 * 100 | round / 100' "$root/h.json"
}

# report NAME VALUE TARGET [UNIT]: the figure, its target and whether it is met.
report() {
    local verdict unit=${4:-ms}
    verdict=$(awk -v v="$2" -v t="$3" 'BEGIN { print (v <= t) ? "ok" : "OVER TARGET" }')
    printf '%-62s %9.2f %-2s  target <= %5s %-2s  %s\n' "$1" "$2" "$unit" "$3" "$unit" "$verdict"
}

# conf NAME COUNT "KEY = VALUE lines of each app#i" [extra sections]
conf() {
    local name=$1 count=$2 body=$3 extra=${4:-}
    {
        echo "[DEFAULT]"
        for i in $(seq 1 "$count"); do
            printf '[app#%d]\n%b\n' "$i" "$body"
        done
        printf '%b' "$extra"
    } >"$root/etc/opensvc/$name.conf"
}
