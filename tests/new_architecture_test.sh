#!/usr/bin/env bash
# docs/new-architecture.md, done the way a user does it: install mstar into a
# temporary prefix, build docs/examples/tiny_fuyu (backbone/tiny_fuyu) out of
# tree against the installed CMake package, then take it through
# MSTAR_PLUGIN_PATH into a tiny graph run by the installed `mstar`:
#   dataset/implication_world -> backbone/tiny_fuyu -> algorithm/grpo (1 step) -> benchmark/tfq_bench
# Same install-then-build approach as external_plugin_test.sh. Usage:
#   new_architecture_test.sh BUILD_DIR SOURCE_DIR    (KEEP=1 keeps the temporary directory)
set -euo pipefail
BUILD_DIR=$1
SRC_DIR=$2
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
say() { echo "new_architecture: $*"; }
fail() { echo "new_architecture: FAILED: $*" >&2; exit 1; }
unset MSTAR_PLUGIN_PATH  # only what this script puts there

start=$SECONDS
cmake --install "$BUILD_DIR" --prefix "$work/prefix" >/dev/null

# ccache, keyed so that every fresh temporary directory hits the same entries:
# paths below $work are hashed relative to it, and the sloppiness precompiled
# headers need (as the top-level CMakeLists.txt sets for the main build).
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$work" CCACHE_NOHASHDIR=true
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S "$SRC_DIR/docs/examples/tiny_fuyu" -B "$work/build" "${generator[@]}" "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.txt" 2>&1 || { cat "$work/configure.txt"; fail "configure"; }
cmake --build "$work/build" >"$work/build.txt" 2>&1 || { cat "$work/build.txt"; fail "build"; }
say "installed and built out of tree in $((SECONDS - start)) s"

export MSTAR_HOME="$work/home"
mstar="$work/prefix/bin/mstar"
plugin_path="$work/build"
# The built-in plugins (world, tiny_vlm, algorithms, benchmarks) come from the
# installed prefix: a missing install() rule shows up here.
"$mstar" plugins list | awk '{print $1 "/" $2}' >"$work/plugins.txt"
for p in dataset/implication_world algorithm/grpo benchmark/tfq_bench backbone/tiny_vlm; do
  grep -qx "$p" "$work/plugins.txt" || fail "$p is not installed by cmake --install"
done
export MSTAR_PLUGIN_PATH="$plugin_path"
"$mstar" plugins info backbone/tiny_fuyu >"$work/info.txt" 2>&1 || { cat "$work/info.txt"; fail "plugins info"; }
grep -qF "$work/build/libmstar_tiny_fuyu.so" "$work/info.txt" || fail "backbone/tiny_fuyu not found through MSTAR_PLUGIN_PATH"

# The tiny world of tests/algorithms_node_test.cpp. reward/tfq is the real
# task; a random model never writes its answer format, so every group's
# rewards tie and the policy gradient is 0: entropy_coef keeps the step's
# gradient non-zero, so the weights really move through tiny_fuyu's score().
cat >"$work/graph.yaml" <<'YAML'
name: new-architecture
seed: 1
nodes:
  world:
    plugin: dataset/implication_world
    params: {image_size: 32, glyphs: 6, concepts: 3, colours: 3, relations: 4, train_images: 12, bench_images: 4,
             lite_train_images: 6, lite_bench_images: 4, statements_min: 3, statements_max: 3}
  init:
    plugin: backbone/tiny_fuyu
    inputs: {data: world.train}
    params: {hidden: 32, layers: 1, heads: 2, image_size: 32, patch_size: 8, max_positions: 256}
  grpo:
    plugin: algorithm/grpo
    inputs: {model: init, data: world.train}
    params: {file: tfq_lite.jsonl, max_steps: 1, n: 4, rollout_batch_size: 4, global_batch_size: 4,
             micro_batch_size_update: 16, micro_batch_size_experience: 16, max_response_length: 8,
             top_p: 1.0, lr: 1.0e-3, entropy_coef: 0.01, save_freq: 0, val_before_train: false}
  bench:
    plugin: benchmark/tfq_bench
    inputs: {model: grpo, data: world.bench}
    params: {limit: 8, max_new_tokens: 8}
YAML
t0=$SECONDS
"$mstar" run "$work/graph.yaml" >"$work/out.txt" 2>&1 || { cat "$work/out.txt"; fail "mstar run"; }
say "graph ran in $((SECONDS - t0)) s"

run=$("$mstar" runs --format json | grep -m1 '"run"' | sed 's/.*: "\(.*\)".*/\1/')
"$mstar" show "$run" >"$work/show.txt"
# `mstar show` lists summaries as "  node.key = value".
summary() { awk -v k="$1" '$1 == k && $2 == "=" {print $3; exit}' "$work/show.txt"; }
expect() { [ "$(summary "$1")" = "$2" ] || { cat "$work/show.txt"; fail "expected $1 = $2, got '$(summary "$1")'"; }; }
expect grpo.steps 1
expect bench.rows 9  # limit 8, rounded up to whole images of 3 statements
for key in bench.accuracy bench.balanced_accuracy bench.majority_baseline; do
  [ -n "$(summary "$key")" ] || { cat "$work/show.txt"; fail "the benchmark did not report $key"; }
done
# One real update: a finite, non-zero gradient norm, no skipped update.
"$mstar" metrics "$run" grpo --key grad_norm,skipped_updates >"$work/metrics.txt"
awk -F, '$2 == "grad_norm" && $4 + 0 > 0 && $4 != "nan" && $4 != "inf" {ok = 1} END {exit !ok}' "$work/metrics.txt" ||
  { cat "$work/metrics.txt"; fail "grpo did not update tiny_fuyu"; }
grep -q "^grpo,skipped_updates,1,0," "$work/metrics.txt" || { cat "$work/metrics.txt"; fail "grpo skipped its update"; }
# Every checkpoint names the code that reads it; the benchmark wrote its files.
grep -q '"architecture": "tiny_fuyu"' "$("$mstar" artifact "$run" grpo)/config.json" || fail "grpo checkpoint is not tiny_fuyu"
grep -q "\"plugin_library\": \"$work/build/libmstar_tiny_fuyu.so\"" "$("$mstar" artifact "$run" grpo)/config.json" ||
  fail "grpo checkpoint does not name the out-of-tree library"
bench_dir=$("$mstar" artifact "$run" bench)
[ "$(wc -l <"$bench_dir/predictions.jsonl")" -eq 9 ] || fail "predictions.jsonl does not hold 9 rows"
[ -s "$bench_dir/eval_result.json" ] || fail "no eval_result.json"
say "backbone/tiny_fuyu built out of tree, trained one GRPO step and benchmarked ($((SECONDS - start)) s in all)"
