# shellcheck shell=bash
# Shared by the bench scripts (sourced): the tools they need, the build, a throwaway
# SVCMGR_ROOT, and the helpers that measure and report. Figures depend on the machine; CI does
# not run the benches. PROFILE=debug benchmarks the debug build (default: release);
# CARGO_TARGET_DIR is honoured.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
profile=${PROFILE:-release}
build_dir=$target/$profile
svcmgr=$build_dir/svcmgr
# The image tests/setup/docker.sh builds.
image="svcmgr-test/busybox:1"
cd "$repo" || exit

# need TOOL...: install the Debian packages of these names where the command is missing.
need() {
    local missing=() tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return
    echo "${missing[*]} missing: installing" >&2
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >&2
}

# build [DRIVER...]: svcmgr and these first-party drivers, or the whole workspace when none is
# named, in the $PROFILE profile.
build() {
    local args=(-q) driver
    [ "$profile" = release ] && args+=(--release)
    if [ $# -eq 0 ]; then
        args+=(--workspace)
    else
        args+=(-p svcmgr)
        for driver in "$@"; do args+=(-p "svcmgr-driver-$driver"); done
    fi
    cargo build "${args[@]}" >&2
}

# new_root NAME [DRIVER...]: a throwaway SVCMGR_ROOT in $root (the caller removes it) whose
# driver folder links these first-party libraries, or all of them when none is named.
new_root() {
    local name=$1 driver
    shift
    root=$(mktemp -d "/tmp/svcmgr-bench-$name-XXXXXX")
    mkdir -p "$root/drivers" "$root/etc/opensvc"
    if [ $# -eq 0 ]; then
        ln -s "$build_dir"/libsvcmgr_driver_*.so "$root/drivers/"
    else
        for driver in "$@"; do ln -s "$build_dir/libsvcmgr_driver_$driver.so" "$root/drivers/"; done
    fi
    export SVCMGR_ROOT=$root SVCMGR_DRIVER_PATH=$root/drivers SVCMGR_NODENAME=bench
}

# need_image: the test image must be there (no registry is reachable).
need_image() {
    docker image inspect "$image" >/dev/null ||
        { echo "image $image missing: run tests/setup/docker.sh first" >&2; exit 1; }
}

# out_dir: $out, where hyperfine's JSON is kept for reading afterwards ($OUT, or a temp dir).
out_dir() {
    out=${OUT:-$(mktemp -d)}
    mkdir -p "$out"
}

svc() { "$svcmgr" -s "$@"; }

# median_ms RUNS HYPERFINE-ARGS...: median wall time in ms of a command (no intermediate
# shell), after $warmup warm-up runs (default 2).
median_ms() {
    local runs=$1 json
    shift
    json=$(mktemp)
    hyperfine -N --style none --warmup "${warmup:-2}" --runs "$runs" --export-json "$json" "$@" >/dev/null
    jq '.results[0].median * 1000 * 100 | round / 100' "$json"
    rm -f "$json"
}

# report NAME VALUE TARGET [UNIT]: the figure, its target and whether it is met.
report() {
    local verdict unit=${4:-ms}
    verdict=$(awk -v v="$2" -v t="$3" 'BEGIN { print (v <= t) ? "ok" : "OVER TARGET" }')
    printf '%-62s %9.2f %-2s  target <= %5s %-2s  %s\n' "$1" "$2" "$unit" "$3" "$unit" "$verdict"
}

# ratio A B: A / B.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

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
