#!/usr/bin/env bash
# scripts/results_export.sh on a registry made here: it keeps the finished
# runs of the studies' sweeps and nothing else, honours --since and
# --exclude, keeps every summary, thins the training series to every 10th
# step and the last, and the export answers `mstar results` as the source.
#   tests/results_export_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
mstar=$build/mstar
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MSTAR_HOME=$work/home
fail() { echo "FAIL: $*" >&2; exit 1; }
runs_in() { "$mstar" runs --registry "$1" --format json --limit 1000 | grep -c '"run"' || true; }
export_to() { bash "$src/scripts/results_export.sh" --output "$work/$1" "${@:2}" "$MSTAR_HOME/registry.db" "$mstar" >/dev/null; }

cat > "$work/main.yaml" <<YAML
name: main
nodes:
  train: {plugin: test/metrics, params: {steps: 25}}
sweep: {seeds: [1, 2]}
YAML
sed 's/^name: main/name: scratch/' "$work/main.yaml" > "$work/scratch.yaml"
"$mstar" run "$work/main.yaml" -j 2 >/dev/null
"$mstar" run "$work/scratch.yaml" >/dev/null

export_to all.db
[ "$(runs_in "$work/all.db")" = 2 ] || fail "expected the 2 runs of sweep main, got $(runs_in "$work/all.db")"
"$mstar" runs --registry "$work/all.db" | grep -q scratch && fail "a sweep that is not a study was exported"
"$mstar" registry check --registry "$work/all.db" >/dev/null || fail "the export fails the integrity check"

# Every summary as in the source.
want=$("$mstar" results main --format csv)
got=$("$mstar" results main --format csv --registry "$work/all.db")
[ "$want" = "$got" ] || fail "summaries differ:\n$want\n---\n$got"

# The loss series: steps 0, 10, 20 and the last, of 25.
run=$("$mstar" runs main --format json --limit 1 | sed -n 's/.*"run": "\([0-9a-f]*\)".*/\1/p' | head -n 1)
steps=$("$mstar" metrics "$run" train --key loss --registry "$work/all.db" | tail -n +2 | cut -d, -f3 | paste -sd' ')
last=$("$mstar" metrics "$run" train --key loss | tail -n 1 | cut -d, -f3)
[ "$steps" = "0 10 20 $last" ] || [ "$steps" = "10 20 $last" ] || fail "thinned steps: '$steps' (last $last)"

export_to one.db --exclude "$run"
[ "$(runs_in "$work/one.db")" = 1 ] || fail "--exclude $run left $(runs_in "$work/one.db") runs"
export_to none.db --since "2999-01-01 00:00"
[ "$(runs_in "$work/none.db")" = 0 ] || fail "--since in the future left runs"
echo "results_export: ok"
