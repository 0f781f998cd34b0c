#!/usr/bin/env bash
# Host overhead: a 1,000-trial sweep of a no-op test plugin with -j 2, and the
# same 1,000-job no-op DAG run by Snakemake, in the same run on this machine.
# Prints per-node overhead (ms), wall times and the ratio.
#   N=1000 RUNS=3 bash bench/host_overhead.sh
#   BASELINE=/other/build bash bench/host_overhead.sh   also times that build's
#                                                       mstar, in the same runs
# With RUNS > 1 the runs alternate the sides and the median of each is shown
# (on a shared machine the load moves between runs).
set -euo pipefail
BUILD=${BUILD:-build}
N=${N:-1000}
RUNS=${RUNS:-1}
MSTAR=$(realpath "$BUILD/mstar")
BASE_MSTAR=""
[ -n "${BASELINE:-}" ] && BASE_MSTAR=$(realpath "$BASELINE/mstar")
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

# Seconds of wall time of one fresh sweep (new home: nothing cached). The
# plugin probe cache is warmed first so it is not counted.
time_mstar() {
  local exe=$1 home
  home=$(mktemp -d "$work/home.XXXX")
  MSTAR_HOME="$home" "$exe" plugins list >/dev/null
  local t0 t1
  t0=$(date +%s.%N)
  MSTAR_HOME="$home" "$exe" run "$work/sweep.yaml" -j 2 --no-live >/dev/null 2>"$work/mstar.err"
  t1=$(date +%s.%N)
  rm -rf "$home"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
time_snakemake() {
  rm -rf "$work/out" "$work/.snakemake"
  local t0 t1
  t0=$(date +%s.%N)
  (cd "$work" && snakemake -j 2 --quiet >/dev/null 2>&1)
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

m=() s=() b=()
for ((r = 1; r <= RUNS; r++)); do
  [ -n "$BASE_MSTAR" ] && b+=("$(time_mstar "$BASE_MSTAR")")
  m+=("$(time_mstar "$MSTAR")")
  s+=("$(time_snakemake)")
  echo "run $r/$RUNS: mstar ${m[-1]} s  snakemake ${s[-1]} s${BASE_MSTAR:+  baseline ${b[-1]} s}  load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

python3 - "$N" "${m[*]}" "${s[*]}" "${b[*]:-}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
m, s = (list(map(float, a.split())) for a in sys.argv[2:4])
b = list(map(float, sys.argv[4].split())) if sys.argv[4].strip() else []
mm, ss = statistics.median(m), statistics.median(s)
print(f"nodes: {n}  jobs: 2  runs: {len(m)} (medians)")
print(f"mstar:     {mm:8.2f} s wall  {1000*mm/n*2:7.2f} ms per node (x2 workers)  {1000*mm/n:7.2f} ms wall per node")
if b:
    bb = statistics.median(b)
    print(f"baseline:  {bb:8.2f} s wall  {1000*bb/n:7.2f} ms wall per node  ({bb/mm:.2f}x the time of mstar)")
print(f"snakemake: {ss:8.2f} s wall  {1000*ss/n:7.2f} ms wall per node")
print(f"ratio snakemake/mstar: {ss/mm:.2f}x" + (f"  (baseline: {ss/statistics.median(b):.2f}x)" if b else ""))
PY
