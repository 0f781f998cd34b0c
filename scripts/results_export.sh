#!/usr/bin/env bash
# Writes docs/results/registry.db: the compact export of the studies' runs
# that scripts/results_doc.sh reads to regenerate docs/results.md. The
# working registry lives in an ignored folder and machines change; this
# file is committed. It is an mstar registry (SQLite, the current schema),
# so every read-only command works on it:
#   mstar results main --registry docs/results/registry.db ...
# Kept: the finished runs of the studies' sweeps (below) created since
# SINCE (UTC; the studies' current campaign: a registry also holds runs of
# earlier designs under the same sweep names), the newest run of each set of
# params and seed (a rerun supersedes the run it repeats), their params,
# node states, summaries, and the metric series the plots and curves use
# (every validation point; entropy, loss, reward and response length every
# 10th step); per-step timings and the rest are dropped. Logs, samples
# and artifacts stay in the store.
# --exclude drops runs by id prefix (a run superseded by a rerun of other
# params, e.g. under fixed code).
# --output writes another file (tests/results_export_test.sh).
#   scripts/results_export.sh [--since 'YYYY-MM-DD HH:MM'] [--exclude ID,ID] [--output FILE] [SOURCE-REGISTRY] [path/to/mstar]
set -euo pipefail
cd "$(dirname "$0")/.."
since="1970-01-01 00:00"
exclude=""
out=docs/results/registry.db
while [ $# -gt 0 ]; do
  case $1 in
    --since) since=$2; shift 2 ;;
    --exclude) exclude=$2; shift 2 ;;
    --output) out=$2; shift 2 ;;
    *) break ;;
  esac
done
src=${1:-${MSTAR_REGISTRY:-${MSTAR_HOME:-.mstar}/registry.db}}
mstar=${2:-./build/mstar}
sweeps="tfq-grpo-evidence main training-strategy model-scaling model-scaling-steps data-scaling literal-mix architecture generalization base-models quickstart_robustness"
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$mstar" registry copy "$src" "$tmp/registry.db" >/dev/null
python3 - "$tmp/registry.db" "$since" "$exclude" $sweeps <<'PY'
import calendar, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA foreign_keys = ON")
since = calendar.timegm(time.strptime(sys.argv[2], "%Y-%m-%d %H:%M"))
for prefix in filter(None, sys.argv[3].split(",")):
    db.execute("DELETE FROM runs WHERE id LIKE ?", (prefix + "%",))
keep = sys.argv[4:]
marks = ",".join("?" * len(keep))
db.execute(f"DELETE FROM runs WHERE status != 'done' OR created < ? OR sweep_id IS NULL OR sweep_id NOT IN "
           f"(SELECT id FROM sweeps WHERE name IN ({marks}))", [since, *keep])
newest = {}
for run, sweep, seed, created in db.execute("SELECT id, sweep_id, seed, created FROM runs ORDER BY created"):
    params = tuple(db.execute("SELECT key, value_text FROM params WHERE run_id = ? ORDER BY key", (run,)))
    newest[(sweep, seed, params)] = run
ids = list(newest.values())
db.execute(f"DELETE FROM runs WHERE id NOT IN ({','.join('?' * len(ids))})", ids)
db.execute("DELETE FROM sweeps WHERE id NOT IN (SELECT sweep_id FROM runs)")
live = "SELECT cache_key FROM node_runs"
db.execute(f"DELETE FROM summaries WHERE cache_key NOT IN ({live})")
db.execute(f"DELETE FROM metrics WHERE cache_key NOT IN ({live})")
# The series a reader plots: every validation point, and the training
# curves (entropy, loss, reward, response length) every 10th step and at the
# last; per-step timings and optimiser internals stay in the working registry.
db.execute("""DELETE FROM metrics WHERE NOT (key LIKE 'val/%' OR key LIKE 'val_gain/%' OR
              (key IN ('entropy', 'loss', 'reward/mean', 'response_length/mean') AND
               (step % 10 = 0 OR step = (SELECT max(step) FROM metrics m
                                         WHERE m.cache_key = metrics.cache_key AND m.key = metrics.key))))""")
db.commit()
db.execute("VACUUM")
# A committed file: readers must not leave -wal/-shm files beside it or
# rewrite its header.
db.execute("PRAGMA journal_mode = DELETE")
PY
mv "$tmp/registry.db" "$out"
"$mstar" registry check --registry "$out" >/dev/null
echo "wrote $out ($(du -h "$out" | cut -f1)): $("$mstar" runs --registry "$out" --format json --limit 100000 | grep -c '"run"') runs"
