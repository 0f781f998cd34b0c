#!/usr/bin/env bash
# Host overhead: a 1,000-trial sweep of a no-op test plugin with -j 2, and the
# same 1,000-job no-op DAG run by Snakemake, in the same run on this machine.
# Prints per-node overhead (ms), wall times and the ratio.
set -euo pipefail
BUILD=${BUILD:-build}
N=${N:-1000}
MSTAR=$(realpath "$BUILD/mstar")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! command -v snakemake >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq snakemake >/dev/null
fi

values=$(seq -s, 0 $((N - 1)))
cat > "$work/sweep.yaml" <<YAML
name: overhead
nodes:
  n: {plugin: test/echo}
sweep:
  grid: {n.value: [$values]}
YAML

cat > "$work/Snakefile" <<SMK
N = $N
rule all:
    input: expand("out/{i}.txt", i=range(N))
rule noop:
    output: "out/{i}.txt"
    shell: "echo {wildcards.i} > {output}"
SMK

# Warm the plugin probe cache so it is not counted.
MSTAR_HOME="$work/home" "$MSTAR" plugins list >/dev/null

t0=$(date +%s.%N)
MSTAR_HOME="$work/home" "$MSTAR" run "$work/sweep.yaml" -j 2 --no-live >/dev/null 2>"$work/mstar.err"
t1=$(date +%s.%N)
(cd "$work" && snakemake -j 2 --quiet >/dev/null 2>&1)
t2=$(date +%s.%N)

python3 - "$t0" "$t1" "$t2" "$N" <<'PY'
import sys
t0, t1, t2, n = map(float, sys.argv[1:])
m, s = t1 - t0, t2 - t1
print(f"nodes: {int(n)}  jobs: 2")
print(f"mstar:     {m:8.2f} s wall  {1000*m/n*2:7.2f} ms per node (x2 workers)  {1000*m/n:7.2f} ms wall per node")
print(f"snakemake: {s:8.2f} s wall  {1000*s/n:7.2f} ms wall per node")
print(f"ratio snakemake/mstar: {s/m:.2f}x")
PY
