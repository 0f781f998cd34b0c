#!/usr/bin/env bash
# All benchmarks; each prints its figures as ratios against a baseline
# measured in the same run.
#   bash bench/run.sh            every benchmark
#   bash bench/run.sh backbone [backbone_compare.py flags]
#                                tiny_vlm in C++ against the same model in eager
#                                PyTorch: training step, sampling, GRPO iteration
#                                at S, M, L with 1 and 2 threads (bench/backbone_compare.py)
#   bash bench/run.sh qwen [qwen_compare.py flags]
#                                backbone/qwen2_5_vl against transformers on one random
#                                checkpoint: sampling tokens/s, training step (bench/qwen_compare.py);
#                                --rss: peak RSS loading a 3B-shaped bf16 checkpoint
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = backbone ]; then
  shift
  [ -x build/bench/backbone_compare ] || cmake --build build --target backbone_compare
  exec .venv/bin/python bench/backbone_compare.py "$@"
fi
if [ "${1:-}" = qwen ]; then
  shift
  [ -x build/bench/qwen_compare ] || cmake --build build --target qwen_compare
  exec .venv/bin/python bench/qwen_compare.py "$@"
fi
bash bench/host_overhead.sh
for b in build/bench/*_bench; do [ -x "$b" ] && "$b"; done
