#!/usr/bin/env bash
# Reliability figures for docs/reliability.md, measured with the real host
# and the test plugins (not a test: it takes minutes and kills processes at
# random moments). Each part prints one line "name: figures ... ok|FAIL".
#   K        SIGKILLs of the host during the 24-trial sweep (default 25)
#   SEED     seed of the kill times (default 1)
# Parts that need root (a read-only filesystem for the registry) are
# skipped, saying so, without it.
set -uo pipefail
BUILD=${BUILD:-build}
K=${K:-25}
SEED=${SEED:-1}
MSTAR=$(realpath "$BUILD/mstar")
work=$(mktemp -d)
trap 'cleanup' EXIT
cleanup() {
  [ -n "${lock_pid:-}" ] && kill "$lock_pid" 2>/dev/null
  mountpoint -q "$work/ro" 2>/dev/null && umount "$work/ro"
  rm -rf "$work"
}
fails=0
report() { # name status text
  echo "$1: $3 ... $2"
  [ "$2" = ok ] || fails=$((fails + 1))
}
sql() { MSTAR_HOME="$1" "$MSTAR" registry sql --format json "$2" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(list(r[0].values())[0])'; }

# ---- 1. K random SIGKILLs of the host during a 24-trial sweep -------------
cat > "$work/sweep.yaml" <<'YAML'
name: killed
nodes:
  data: {plugin: test/echo, params: {value: 1}, seed: 1}
  train: {plugin: test/metrics, params: {steps: 400, seconds: 0.4}}
  eval: {plugin: test/sum, inputs: {a: data, b: train}}
sweep:
  grid: {train.scale: [1, 2, 3, 4, 5, 6, 7, 8]}
  seeds: [1, 2, 3]
YAML
home="$work/kill"
RANDOM=$SEED
MSTAR_HOME="$home" "$MSTAR" plugins list >/dev/null
killed=0
for ((i = 0; i < K; i++)); do
  MSTAR_HOME="$home" "$MSTAR" run "$work/sweep.yaml" -j 2 --no-live >/dev/null 2>&1 &
  pid=$!
  # The kill point: a random moment 0.05-1.5 s into the run.
  sleep "$(printf '0.%03d' $((50 + RANDOM % 950)))"
  sleep "$((RANDOM % 2))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null
done
MSTAR_HOME="$home" "$MSTAR" run "$work/sweep.yaml" -j 2 --no-live >/dev/null 2>"$work/final.err"
final=$?
runs=$(sql "$home" "SELECT count(*) FROM runs")
done_runs=$(sql "$home" "SELECT count(*) FROM runs WHERE status = 'done'")
points=$(sql "$home" "SELECT count(*) FROM metrics")
series_ok=$(sql "$home" "SELECT count(*) FROM (SELECT cache_key, key, count(*) n, count(DISTINCT step) d FROM metrics GROUP BY cache_key, key HAVING n = 400 AND d = 400)")
check=$(MSTAR_HOME="$home" "$MSTAR" registry check 2>&1 | tail -n 1)
status=FAIL
[ "$final" = 0 ] && [ "$runs" = 24 ] && [ "$done_runs" = 24 ] && [ "$points" = $((24 * 2 * 400)) ] &&
  [ "$series_ok" = 48 ] && echo "$check" | grep -q "ok" && status=ok
report "sigkill" "$status" "$killed of $K kills landed; rerun exit $final; runs $runs ($done_runs done, 24 expected); metric points $points (19200 expected, 48 complete series without duplicates: $series_ok); registry check: $check"

# ---- 2. A node killed mid-write: never half-published ----------------------
cat > "$work/long.yaml" <<'YAML'
name: midwrite
nodes:
  train: {plugin: test/metrics, params: {steps: 20000, seconds: 4}}
YAML
home="$work/mid"
MSTAR_HOME="$home" "$MSTAR" run "$work/long.yaml" --no-live >/dev/null 2>&1 &
pid=$!
staged=""
staged_bytes=0
for _ in $(seq 1 400); do # wait (bounded) until the node has written metrics
  staged=$(find "$home/store" -name metrics.jsonl -size +10k 2>/dev/null | head -n 1)
  [ -n "$staged" ] && staged_bytes=$(stat -c %s "$staged" 2>/dev/null) && break
  sleep 0.025
done
pkill -9 -P "$pid" 2>/dev/null # the host's own node children only
wait "$pid"
first=$?
manifests=$(find "$home/store" -name manifest.json | wc -l)
node_status=$(sql "$home" "SELECT status || ' signal ' || coalesce(signal, '-') FROM node_runs")
MSTAR_HOME="$home" "$MSTAR" run "$work/long.yaml" --no-live >/dev/null 2>&1
again=$?
points=$(sql "$home" "SELECT count(*) FROM metrics")
status=FAIL
[ -n "$staged" ] && [ "$first" = 1 ] && [ "$manifests" = 0 ] && [ "$again" = 0 ] && [ "$points" = 40000 ] && status=ok
report "node-killed-mid-write" "$status" "killed while writing $(basename "$staged") ($staged_bytes bytes staged); host exit $first, node '$node_status', published artifacts $manifests; rerun exit $again, points $points (40000 expected)"

# ---- 3. Disk full while writing an artifact (test hook) --------------------
home="$work/full"
MSTAR_HOME="$home" MSTAR_FAULT_ENOSPC_AFTER=50000 "$MSTAR" run "$work/long.yaml" --no-live >/dev/null 2>&1
first=$?
reason=$(sql "$home" "SELECT reason FROM node_runs")
reason=${reason:0:160}
manifests=$(find "$home/store" -name manifest.json | wc -l)
MSTAR_HOME="$home" "$MSTAR" run "$work/long.yaml" --no-live >/dev/null 2>&1
again=$?
points=$(sql "$home" "SELECT count(*) FROM metrics")
status=FAIL
[ "$first" = 1 ] && [ "$manifests" = 0 ] && [ "$again" = 0 ] && [ "$points" = 40000 ] &&
  echo "$reason" | grep -q "No space left" && status=ok
report "disk-full" "$status" "host exit $first, reason '$reason', published $manifests; rerun exit $again, points $points"

# ---- 4. The registry locked by another process past the busy timeout -------
cat > "$work/quick.yaml" <<'YAML'
name: locked
nodes:
  a: {plugin: test/echo, params: {value: 3}}
YAML
sed 's/name: locked/name: second/; s/value: 3/value: 4/' "$work/quick.yaml" > "$work/second.yaml"
home="$work/lock"
MSTAR_HOME="$home" "$MSTAR" run "$work/quick.yaml" --no-live >/dev/null 2>&1 # a run recorded before the lock
python3 - "$home/registry.db" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[1] + ".locked", "w").close()
time.sleep(600)
PY
lock_pid=$!
for _ in $(seq 1 200); do [ -e "$home/registry.db.locked" ] && break; sleep 0.025; done
t0=$(date +%s.%N)
MSTAR_HOME="$home" "$MSTAR" run "$work/second.yaml" --no-live >/dev/null 2>"$work/lock.err"
code=$?
t1=$(date +%s.%N)
kill "$lock_pid"; wait "$lock_pid" 2>/dev/null; lock_pid=""
msg=$(tail -n 1 "$work/lock.err" | head -c 240)
MSTAR_HOME="$home" "$MSTAR" run "$work/second.yaml" --no-live >/dev/null 2>&1
again=$?
done_runs=$(sql "$home" "SELECT count(*) FROM runs WHERE status = 'done'")
status=FAIL
[ "$code" != 0 ] && [ -n "$msg" ] && [ "$again" = 0 ] && [ "$done_runs" = 2 ] && status=ok
report "registry-locked" "$status" "exit $code after $(python3 -c "print(round($t1 - $t0, 1))") s: '$msg'; after the lock: rerun exit $again, done runs $done_runs (the one before the lock and the rerun)"

# ---- 5. The registry on a read-only filesystem -------------------------------
if [ "$(id -u)" = 0 ] && mkdir -p "$work/ro" && mount -t tmpfs -o size=8m tmpfs "$work/ro" 2>/dev/null; then
  MSTAR_HOME="$work/ro" "$MSTAR" run "$work/quick.yaml" --no-live >/dev/null 2>&1
  mount -o remount,ro "$work/ro"
  MSTAR_HOME="$work/ro" "$MSTAR" run "$work/quick.yaml" --no-live --force >/dev/null 2>"$work/ro.err"
  code=$?
  msg=$(grep -m1 -i "read-only\|readonly\|registry" "$work/ro.err" | head -c 200)
  mount -o remount,rw "$work/ro"
  done_runs=$(sql "$work/ro" "SELECT count(*) FROM runs WHERE status = 'done'")
  status=FAIL
  [ "$code" != 0 ] && [ -n "$msg" ] && [ "$done_runs" = 1 ] && status=ok
  report "registry-read-only" "$status" "exit $code: '$msg'; the recorded run is still there ($done_runs done)"
else
  echo "registry-read-only: skipped (needs root to mount a read-only filesystem)"
fi

echo "reliability: $fails part(s) failed"
[ "$fails" = 0 ]
