#!/usr/bin/env bash
# The Slurm launcher against a real Slurm (scripts/slurm_local.sh: munged,
# slurmctld and slurmd on localhost, stopped after):
#   1. a 6-trial sweep with a shared upstream node runs through Slurm with the
#      local launcher's cache behaviour (same artifacts, same counts), and a
#      second run is all cached;
#   2. a host killed with kill -9 while its jobs run, started again, follows
#      the running jobs and runs only what is missing: every node once;
#   3. a job the cluster cancels is retried per `retries`; without retries
#      it is recorded as failed with Slurm's reason;
#   4. Ctrl-C cancels the queued and running jobs;
#   5. a data-parallel SFT node (world_size 2) runs as one job of 2 Slurm
#      tasks and gives the local launcher's parameters and losses (skipped
#      where the ML plugins were not built).
# Usage: slurm_test.sh BUILD_DIR SOURCE_DIR. Skips (77) without root or
# slurm-wlm, except under CI=true, where that is a failure.
set -euo pipefail
build="$1" src="$2"
mstar="$build/mstar"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() {
  if [ "${CI:-}" = true ]; then fail "cannot run under CI: $*"; fi
  echo "SKIP: $*"; exit 77
}

work="$(mktemp -d /tmp/mstar-slurm-test.XXXXXX)"
cluster="$work/cluster"
cleanup() {
  bash "$src/scripts/slurm_local.sh" stop "$cluster" || true
  rm -rf "$work"
}
trap cleanup EXIT
set +e
out="$(bash "$src/scripts/slurm_local.sh" start "$cluster" 2>&1)"
rc=$?
set -e
case $rc in
  0) eval "$out" ;;
  3) skip "$out" ;;
  *) fail "the local cluster did not start: $out" ;;
esac
export MSTAR_PLUGIN_PATH="$build/plugins"

ours() { squeue -h -u "$(id -un)" -o '%i %T %j' | grep ' mstar:' || true; }
# Polls `cond` (a command) every 0.1 s for up to `secs`.
wait_for() {
  local secs="$1"; shift
  for _ in $(seq 1 $((secs * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
summary() { grep -E '^[0-9]+ ran, [0-9]+ cached, [0-9]+ failed' "$1" | tail -n 1; }

# ---- 1. a sweep through Slurm, as through the local launcher ---------------
cat >"$work/sweep.yaml" <<'EOF'
name: slurm_sweep
launcher: {kind: slurm, poll: 0.2}
nodes:
  up: {plugin: test/echo, params: {value: 1}, seed: 0}
  mid: {plugin: test/sum, params: {add: 1}, inputs: {a: up}}
  leaf: {plugin: test/sum, params: {add: 2}, inputs: {a: mid}}
sweep:
  grid: {mid.add: [1, 2, 3]}
  seeds: [1, 2]
EOF
MSTAR_HOME="$work/local" "$mstar" run "$work/sweep.yaml" --launcher local -j 2 --no-live >"$work/local.out" 2>&1 ||
  { cat "$work/local.out"; fail "the local run failed"; }
MSTAR_HOME="$work/slurm" "$mstar" run "$work/sweep.yaml" -j 4 --no-live >"$work/slurm.out" 2>&1 ||
  { cat "$work/slurm.out"; fail "the Slurm run failed"; }
echo "local: $(summary "$work/local.out")"
echo "slurm: $(summary "$work/slurm.out")"
[ "$(summary "$work/local.out")" = "$(summary "$work/slurm.out")" ] || fail "Slurm and local ran different counts"
[ "$(summary "$work/slurm.out")" = "13 ran, 0 cached, 0 failed, 0 skipped" ] ||
  fail "expected 13 node instances (1 shared up, 6 mid, 6 leaf): $(summary "$work/slurm.out")"
keys() { find "$1/store" -mindepth 2 -maxdepth 2 -type d ! -path '*/tmp*' ! -path '*/resume*' -printf '%f\n' | sort; }
[ "$(keys "$work/local")" = "$(keys "$work/slurm")" ] || fail "Slurm made other artifacts than the local launcher"
for k in $(keys "$work/slurm"); do
  cmp -s "$work/local/store/${k:0:2}/$k/value.json" "$work/slurm/store/${k:0:2}/$k/value.json" ||
    fail "artifact $k differs between launchers"
done
n_jobs=$(cat "$work/slurm/logs/"*.log | grep -c ': slurm job ')
[ "$n_jobs" = 13 ] || fail "expected 13 Slurm jobs, the logs name $n_jobs"
MSTAR_HOME="$work/slurm" "$mstar" run "$work/sweep.yaml" -j 4 --no-live >"$work/again.out" 2>&1 || fail "rerun failed"
[ "$(summary "$work/again.out")" = "0 ran, 13 cached, 0 failed, 0 skipped" ] || fail "rerun: $(summary "$work/again.out")"
[ -z "$(ls -A "$work/slurm/store/tmp")" ] || fail "the store's tmp/ is not empty: $(ls "$work/slurm/store/tmp")"
echo "ok 1: sweep through Slurm, same artifacts as local, rerun all cached"

# ---- 2. kill -9 the host, start it again ------------------------------------
cat >"$work/sleepy.yaml" <<'EOF'
name: sleepy
launcher: {kind: slurm, poll: 0.2}
nodes:
  nap: {plugin: test/sleep, params: {seconds: 4}}
  after: {plugin: test/sum, inputs: {a: nap}}
sweep:
  grid: {nap.value: [1, 2]}
EOF
export MSTAR_HOME="$work/kill"
"$mstar" run "$work/sleepy.yaml" -j 4 --no-live >"$work/kill1.out" 2>&1 &
host=$!
running() { [ "$(ours | grep -c ' RUNNING ')" -ge 2 ]; }
wait_for 60 running || { cat "$work/kill1.out"; ours; fail "the two naps never ran together"; }
kill -9 "$host"
wait "$host" 2>/dev/null || true
[ "$(ours | grep -c 'RUNNING\|PENDING')" -ge 2 ] || fail "the jobs did not outlive the host"
"$mstar" run "$work/sleepy.yaml" -j 4 --no-live >"$work/kill2.out" 2>&1 || { cat "$work/kill2.out"; fail "resume failed"; }
[ "$(summary "$work/kill2.out")" = "4 ran, 0 cached, 0 failed, 0 skipped" ] || fail "resume: $(summary "$work/kill2.out")"
submitted=$(cat "$MSTAR_HOME/logs/"*.log | grep -c ': slurm job ')
followed=$(cat "$MSTAR_HOME/logs/"*.log | grep -c 'following slurm job')
[ "$submitted" = 4 ] || fail "expected each of the 4 nodes submitted once, $submitted submissions"
[ "$followed" = 2 ] || fail "expected the restarted host to follow the 2 running naps, it followed $followed"
echo "ok 2: kill -9 and restart: 2 running jobs followed, 4 jobs in all"

# ---- 3. the cluster cancels a job -------------------------------------------
cat >"$work/cancelled.yaml" <<'EOF'
name: cancelled
launcher: {kind: slurm, poll: 0.2}
nodes:
  nap: {plugin: test/sleep, params: {seconds: 3}, retries: 1}
  once: {plugin: test/sleep, params: {seconds: 30, value: 1}}
EOF
export MSTAR_HOME="$work/cancel"
"$mstar" run "$work/cancelled.yaml" -j 4 --no-live >"$work/cancel.out" 2>&1 &
host=$!
running() { [ "$(ours | grep -c ' RUNNING ')" -ge 2 ]; }
wait_for 60 running || { cat "$work/cancel.out"; fail "the jobs never ran"; }
ours | awk '{print $1}' | xargs scancel
set +e
wait "$host"
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$work/cancel.out"; fail "expected exit 1 (one node failed), got $rc"; }
[ "$(summary "$work/cancel.out")" = "1 ran, 0 cached, 1 failed, 0 skipped" ] || fail "cancel: $(summary "$work/cancel.out")"
grep -q 'retry.*CANCELLED\|CANCELLED.*retry' "$work/cancel.out" || { cat "$work/cancel.out"; fail "the retried node's reason does not name CANCELLED"; }
grep -q 'failed.*CANCELLED' "$work/cancel.out" || { cat "$work/cancel.out"; fail "the failed node's reason does not name CANCELLED"; }
echo "ok 3: a cancelled job is retried per retries, else failed with Slurm's reason"

# ---- 4. Ctrl-C ----------------------------------------------------------------
export MSTAR_HOME="$work/int"
"$mstar" run "$work/sleepy.yaml" nap.seconds=60 -j 4 --no-live --grace 5 >"$work/int.out" 2>&1 &
host=$!
wait_for 60 running || { cat "$work/int.out"; fail "the jobs never ran"; }
kill -INT "$host"
set +e
wait "$host"
rc=$?
set -e
[ "$rc" = 130 ] || { cat "$work/int.out"; fail "expected exit 130 after Ctrl-C, got $rc"; }
gone() { ! ours | grep -q 'RUNNING\|PENDING'; }
wait_for 30 gone || { ours; fail "jobs still queued or running after Ctrl-C"; }
echo "ok 4: Ctrl-C cancelled the jobs"

# ---- 5. a data-parallel node as Slurm tasks -----------------------------------
if [ ! -e "$build/plugins/libmstar_algorithms.so" ] || [ ! -e "$build/plugins/libmstar_tiny_vlm.so" ]; then
  echo "skip 5: the ML plugins are not built"
  exit 0
fi
cat >"$work/dp.yaml" <<EOF
name: slurm_dp
launcher: {kind: slurm, poll: 0.2}
seed: 2
include: [$(realpath "$src")/tests/fixtures/experiments/tiny_world_base.yaml]
nodes:
  sft:
    plugin: algorithm/sft
    resources: {cpus: 2}
    inputs: {model: init, data: world.train}
    params: {file: pretrain.jsonl, max_steps: 4, batch_size: 8, micro_batch_size: 8, lr: 1.0e-3, lr_schedule: constant,
             lr_warmup_ratio: 0, sample_freq: 0, intra_op_threads: 1, world_size: 2}
EOF
unset MSTAR_HOME
MSTAR_HOME="$work/dp_local" "$mstar" run "$work/dp.yaml" --launcher local --no-live >"$work/dp_local.out" 2>&1 ||
  { cat "$work/dp_local.out"; fail "the local data-parallel run failed"; }
MSTAR_HOME="$work/dp_slurm" "$mstar" run "$work/dp.yaml" --no-live >"$work/dp_slurm.out" 2>&1 ||
  { cat "$work/dp_slurm.out" "$work/dp_slurm/logs/"*.log; fail "the Slurm data-parallel run failed"; }
sft_log=$(grep -l 'algorithm/sft' "$work/dp_slurm/logs/"*.log | head -1)
grep -q 'rank 1 of 2' "$sft_log" || { cat "$sft_log"; fail "no rank 1 ran under Slurm"; }
[ "$(grep -c ': slurm job ' "$sft_log")" = 1 ] || fail "expected the 2 ranks as one Slurm job"
sft_dir() { dirname "$(grep -l '"k":"loss"' $(find "$1/store" -name metrics.jsonl ! -path "$1/store/tmp/*") | head -1)"; }
a=$(sft_dir "$work/dp_local") b=$(sft_dir "$work/dp_slurm")
[ "$(basename "$a")" = "$(basename "$b")" ] || fail "the SFT artifacts have different keys: $a $b"
cmp -s "$a/model.safetensors" "$b/model.safetensors" ||
  fail "Slurm's ranks trained other parameters than local ranks: $(md5sum "$a/model.safetensors" "$b/model.safetensors")"
losses() { grep '"k":"loss"' "$1/metrics.jsonl" | sed 's/,"time":[^,}]*//'; }
[ "$(losses "$a" | grep -c '"step"')" = 4 ] || fail "expected 4 steps' losses: $(losses "$a")"
[ "$(losses "$a")" = "$(losses "$b")" ] || fail "the loss curves differ: $(losses "$a") vs $(losses "$b")"
[ -z "$(ls -A "$work/dp_slurm/store/tmp")" ] || fail "the store's tmp/ is not empty: $(ls "$work/dp_slurm/store/tmp")"
echo "ok 5: world_size 2 as 2 Slurm tasks: the local launcher's parameters and losses"
