#!/usr/bin/env bash
# Speed figures of issue 15: what the SDK costs a vendor. Clean release builds (fresh target
# dir) of svcmgr-plugin-api alone and of a minimal driver built on it (plugin-api's
# examples/marker-driver), each from a copy of plugin-api/ outside the workspace, as a vendor
# builds; their dependency counts; and a check that the SDK pulls in no tokio and no bollard.
# Not run by CI: the figures depend on the machine. Usage: bash bench/sdk.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/svcmgr-bench-sdk-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$repo/plugin-api" "$work/plugin-api"
rm -rf "$work/plugin-api/target" "$work/plugin-api/examples/marker-driver/target"
# The workspace's dependency versions, so the figures match what the tests build.
cp "$repo/Cargo.lock" "$work/plugin-api/Cargo.lock"
cp "$repo/Cargo.lock" "$work/plugin-api/examples/marker-driver/Cargo.lock"

# deps MANIFEST: the number of distinct packages it builds (normal and build deps, itself excluded)
deps() {
    cargo tree --manifest-path "$1" -e normal,build --prefix none 2>/dev/null |
        sed 's/ (\*)$//; s/ (proc-macro)$//' | sort -u | tail -n +2 | wc -l
}

# clean_build NAME MANIFEST: seconds of a release build in a fresh target dir
clean_build() {
    local start end
    start=$(date +%s.%N)
    CARGO_TARGET_DIR="$work/target-$1" cargo build --release --quiet --manifest-path "$2" >&2
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }'
}

sdk=$work/plugin-api/Cargo.toml
driver=$work/plugin-api/examples/marker-driver/Cargo.toml
# Cargo wants the copied crate to stand alone; fetch once so builds time compiling only.
cargo fetch --quiet --manifest-path "$sdk"
cargo fetch --quiet --manifest-path "$driver"

for heavy in tokio bollard hyper; do
    if cargo tree --manifest-path "$sdk" -e normal -i "$heavy" >/dev/null 2>&1; then
        echo "svcmgr-plugin-api depends on $heavy: it should not" >&2
        exit 1
    fi
done

printf '%-44s %8s %10s\n' "crate (clean release build, $(nproc) cores)" "deps" "seconds"
printf '%-44s %8s %10s\n' "svcmgr-plugin-api alone" "$(deps "$sdk")" "$(clean_build sdk "$sdk")"
printf '%-44s %8s %10s\n' "minimal driver (marker-driver)" "$(deps "$driver")" "$(clean_build driver "$driver")"
printf '%-44s %8s %10s\n' "for scale: container.docker (workspace)" \
    "$(deps "$repo/plugins/docker/Cargo.toml")" "-"
echo "tokio, bollard, hyper: not in svcmgr-plugin-api's tree"
