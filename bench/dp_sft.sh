#!/usr/bin/env bash
# Data-parallel SFT step time on this machine: algorithm/sft on a small
# tiny_vlm, the same global batch as 1 rank (1 and 2 threads) and as 2 ranks
# (1 thread each), the ranks' gradients summed by Gloo and by the TCPStore
# (`backend`). Prints the median time/step of each (steps after the first).
# HIDDEN, LAYERS, BATCH, STEPS size the model and the run.
set -euo pipefail
BUILD=${BUILD:-build}
STEPS=${STEPS:-30}
HIDDEN=${HIDDEN:-128}  # the language model's width
LAYERS=${LAYERS:-2}
BATCH=${BATCH:-16}
MSTAR=$(realpath "$BUILD/mstar")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {  # name world_size cpus [backend] (a home each: cpus is not in the cache key)
  export MSTAR_HOME="$work/$1"
  cat > "$work/$1.yaml" <<YAML
name: $1
seed: 1
include: [$ROOT/tests/fixtures/experiments/tiny_world_base.yaml]
nodes:
  init:
    params: {hidden: $HIDDEN, layers: $LAYERS, heads: 4, kv_heads: 2, vision_hidden: 64, vocab_max_size: 256}
  sft:
    plugin: algorithm/sft
    resources: {cpus: $3}
    inputs: {model: init, data: world.train}
    params: {file: pretrain.jsonl, max_steps: $STEPS, batch_size: $BATCH, micro_batch_size: $BATCH, lr: 1.0e-3,
             sample_freq: 0, intra_op_threads: 1, world_size: $2, backend: ${4:-auto}}
YAML
  "$MSTAR" run "$work/$1.yaml" -j 2 --no-live >/dev/null || { cat "$MSTAR_HOME"/logs/*.log >&2; exit 1; }
  local metrics
  metrics=$(find "$MSTAR_HOME/store" -name metrics.jsonl -newer "$work/$1.yaml" -path '*' | xargs grep -l '"time/step"' | head -1)
  python3 - "$metrics" "$1" <<'PY'
import json, statistics, sys
t = [json.loads(l)["v"] for l in open(sys.argv[1]) if '"time/step"' in l]
print(f"{sys.argv[2]}: median time/step {1000 * statistics.median(t[1:]):.1f} ms over {len(t) - 1} steps")
PY
}

run one_rank_1_thread 1 1
run one_rank_2_threads 1 2
run two_ranks_1_thread_each_gloo 2 2 gloo
run two_ranks_1_thread_each_store 2 2 store
