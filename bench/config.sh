#!/usr/bin/env bash
# Speed figures of issue 11: loading a config is linear in its sections, and `print status`
# stays at the spawn limit. Each figure is printed next to its target. Not run by CI: the
# figures depend on the machine. Usage: bench/config.sh  (honours CARGO_TARGET_DIR)
#
#  1. `validate config` and `start --dry-run` of services of 1,000, 5,000 and 10,000 app
#     resources (target: <= 100 ms each at 10,000; the per-resource cost must not grow).
#  2. `print status` of 50 and 1,000 apps whose check is /bin/true, against `xargs -P16`
#     running the same 50 or 1,000 commands (print status probes 16 at a time): the ratio
#     must stay <= 1.3.
# Only the app driver is in the driver folder: an installed layout loads only the libraries a
# service uses, and loading the others is not config loading.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need hyperfine jq
build app
new_root config app
trap 'rm -rf "$root"' EXIT

echo "== config loading"
for n in 1000 5000 10000; do
    conf "c$n" "$n" 'start = /bin/true'
    v=$(median_ms 30 "$svcmgr -s c$n validate config")
    d=$(median_ms 30 "$svcmgr -s c$n start --dry-run")
    report "validate config, $n app sections" "$v" 100
    report "start --dry-run, $n app sections" "$d" 100
    printf '%-62s %9.2f us\n' "   per section (validate, dry run)" \
        "$(awk -v v="$v" -v d="$d" -v n="$n" 'BEGIN { print (v > d ? v : d) * 1000 / n }')"
done

echo "== print status at the spawn limit"
for n in 50 1000; do
    conf "st$n" "$n" 'check = /bin/true'
    s=$(median_ms 10 "$svcmgr -s st$n print status")
    seq "$n" >"$root/seq$n"
    x=$(median_ms 10 "xargs -P16 -n1 -a $root/seq$n /bin/true")
    echo "   (print status of $n checks: $s ms; xargs -P16 of $n /bin/true: $x ms)"
    report "print status / xargs -P16, $n checks" "$(ratio "$s" "$x")" 1.3 x
done
