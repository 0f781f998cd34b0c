#!/usr/bin/env bash
# Data-parallel GRPO step time on this machine: algorithm/grpo on a small
# tiny_vlm, the same global batch as 1 rank (1 and 2 threads) and as 2 ranks
# (1 thread each). Prints the median time/step of each (steps after the
# first) and the median of the phases that change with the ranks.
# HIDDEN, LAYERS, PROMPTS (rollout_batch_size), N, LENGTH, STEPS size it.
set -euo pipefail
BUILD=${BUILD:-build}
STEPS=${STEPS:-10}
HIDDEN=${HIDDEN:-128}  # the language model's width
LAYERS=${LAYERS:-2}
PROMPTS=${PROMPTS:-8}
N=${N:-4}
LENGTH=${LENGTH:-16}  # max_response_length
BALANCE=${BALANCE:-true}
MSTAR=$(realpath "$BUILD/mstar")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {  # name world_size cpus (a home each: cpus is not in the cache key)
  export MSTAR_HOME="$work/$1"
  cat > "$work/$1.yaml" <<YAML
name: $1
seed: 1
include: [$ROOT/tests/fixtures/experiments/tiny_world_base.yaml]
nodes:
  init:
    params: {hidden: $HIDDEN, layers: $LAYERS, heads: 4, kv_heads: 2, vision_hidden: 64, vocab_max_size: 256}
  grpo:
    plugin: algorithm/grpo
    resources: {cpus: $3}
    inputs: {model: init, data: world.train}
    params: {file: tfq_lite.jsonl, n: $N, rollout_batch_size: $PROMPTS, global_batch_size: $PROMPTS,
             micro_batch_size_update: 8, micro_batch_size_experience: 8, max_response_length: $LENGTH,
             temperature: 1.0, top_p: 1.0, lr: 1.0e-4, kl_coef: 0.01, sample_freq: 0, save_freq: 0,
             max_steps: $STEPS, intra_op_threads: 1, balance_batch: $BALANCE, world_size: $2,
             reward: {plugin: reward/length, max_length: $LENGTH, buffer: 8}}
YAML
  "$MSTAR" run "$work/$1.yaml" -j 2 --no-live >/dev/null || { cat "$MSTAR_HOME"/logs/*.log >&2; exit 1; }
  local metrics
  metrics=$(find "$MSTAR_HOME/store" -name metrics.jsonl -newer "$work/$1.yaml" | xargs grep -l '"time/step"' | head -1)
  python3 - "$metrics" "$1" <<'PY'
import collections, json, statistics, sys
series = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = json.loads(line)
    if p.get("t") == "m":
        series[p["k"]].append(p["v"])
med = lambda k: 1000 * statistics.median(series[k][1:]) if len(series[k]) > 1 else float("nan")
phases = ", ".join(f"{k[5:]} {med(k):.0f}" for k in sorted(series) if k.startswith("time/") and k != "time/step")
print(f"{sys.argv[2]}: median time/step {med('time/step'):.1f} ms over {len(series['time/step']) - 1} steps ({phases} ms)")
PY
}

run one_rank_1_thread 1 1
run one_rank_2_threads 1 2
run two_ranks_1_thread_each 2 2
