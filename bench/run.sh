#!/usr/bin/env bash
# All benchmarks; each prints its figures as ratios against a baseline
# measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/host_overhead.sh
for b in build/bench/*_bench; do [ -x "$b" ] && "$b"; done
