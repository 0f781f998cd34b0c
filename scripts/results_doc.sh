#!/usr/bin/env bash
# Writes docs/results.md (and its plots under docs/results/) from the
# studies' committed export, docs/results/registry.db (made from the working
# registry by scripts/results_export.sh; MSTAR_REGISTRY names another): for
# each study of experiments/ that has runs, the command that ran it, its table (mean and 95% CI half-width over seeds) made
# by `mstar results --format markdown`, its plot made by `mstar plot`, the
# runs' wall time, and the hand-written reading in docs/results/NAME.notes.md
# (where the miniature agrees or disagrees with the paper). It opens with the
# paper's claims (docs/paper_claims.tsv) measured by `mstar claims`. Tables
# have a row per metric (--metric-rows). Nothing in the tables is typed by hand.
#   scripts/results_export.sh && scripts/results_doc.sh [path/to/mstar]
set -euo pipefail
cd "$(dirname "$0")/.."
mstar=${1:-./build/mstar}
export MSTAR_REGISTRY=${MSTAR_REGISTRY:-docs/results/registry.db}
out=docs/results.md
plots=docs/results
mkdir -p "$plots"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
machine="$(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")"

has_runs() { "$mstar" runs --sweep "$1" --format json --limit 1 | grep -q '"run"'; }

# Wall time of a sweep: first creation to last finish, from the registry.
wall_time() {
  "$mstar" runs --sweep "$1" --format json --limit 1000 |
    sed -n 's/.*"duration": "\([^"]*\)".*/\1/p' | paste -sd' ' -
}

# section SWEEP FILE TITLE RESULTS-ARGS -- PLOT-ARGS
section() {
  local sweep=$1 file=$2 title=$3
  shift 3
  local results=() plot=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do results+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  plot=("$@")
  has_runs "$sweep" || return 0
  echo "## $title"
  echo
  # The command as run (docs/results/SWEEP.cmd when it had overrides).
  local cmd="mstar run experiments/$file -j 2"
  [ -f "$plots/$sweep.cmd" ] && cmd=$(cat "$plots/$sweep.cmd")
  echo "\`$cmd\` (sweep \`$sweep\`; wall time of each trial, cached nodes free: $(wall_time "$sweep"))."
  echo
  echo '```'
  echo "mstar results $sweep ${results[*]} --metric-rows --format markdown"
  echo '```'
  echo
  "$mstar" results "$sweep" "${results[@]}" --metric-rows --format markdown
  echo
  if [ ${#plot[@]} -gt 0 ]; then
    "$mstar" plot "${plot[0]}" "$sweep" "${plot[@]:1}" -o "$plots/$sweep.svg" >/dev/null
    echo "![$title]($(basename "$plots")/$sweep.svg)"
    echo
    echo "\`mstar plot ${plot[0]} $sweep ${plot[*]:1} -o $plots/$sweep.svg\`"
    echo
  fi
  [ -f "$plots/$sweep.notes.md" ] && { cat "$plots/$sweep.notes.md"; echo; }
  return 0
}

bal=balanced_accuracy
{
  cat <<EOF
# Results

Made by \`scripts/results_doc.sh\` from \`docs/results/registry.db\`, the committed
export (\`scripts/results_export.sh\`) of the registry the studies ran into;
not typed by hand (the paragraphs under each table are, and say where our
miniature agrees or disagrees with the paper). Generated at commit $commit;
each run records the commit its binary was built from (\`env_json\` in the
registry, "-dirty" for uncommitted changes; $(cat "$plots/code.md" 2>/dev/null)). Machine:
$machine, no GPU. Tables give the mean over seeds and the half-width of the
95% confidence interval (t distribution; \`nan\` with one seed). Balanced
accuracy: mean of the true-positive and true-negative rates, so that a model
that always answers T, or always F, scores 0.5.

## The paper's claims, and ours

Each claim of the MetaphorStar paper, the figure its public repository
states (its other figures are only in its plots, and are not guessed), and
our measurement over seeds (mean difference and 95% CI half-width; paired run
by run, or between two groups of runs, Welch). The rule: **agree** = the
paper's direction with a 95% CI that excludes 0; **disagree** = the opposite
direction with a CI that excludes 0; otherwise **within noise** (or **not
measurable at this scale** with one seed; **not run** when the study is not
in the registry). The claims and their citations: \`docs/paper_claims.tsv\`.

\`mstar claims docs/paper_claims.tsv --format markdown\`

EOF
  "$mstar" claims docs/paper_claims.tsv --format markdown
  echo
  section base-models base_models.yaml "The base: what it sees and answers before any RL" \
    --group-by sweep --agg mean \
    --metric "base.steps,base.val/$bal/literal/present,base.val/$bal/literal/colour,base.val/$bal/literal/layout,base.val/$bal/literal/position,tfq_base.$bal,tfq_base.literal.$bal,tfq_base.symbolic.$bal,tfq_base.implication.$bal,mcq_base.accuracy,mcq_base.majority_baseline,osq_base.mean_score" \
    -- curve --key "base.val/$bal/literal/present" --key "base.val/$bal/literal/colour" --key "base.val/$bal/literal/layout"
  section tfq-grpo-evidence tfq_grpo_evidence.yaml "TFQ-GRPO from the base (issue 7's evidence)" \
    --group-by sweep --agg mean,ci95 \
    --metric "grpo.val/$bal@first,grpo.val/$bal,grpo.val_gain/$bal,grpo.val_gain/$bal/symbolic,grpo.val_gain/$bal/implication,grpo.steps,grpo.train_seconds" \
    -- curve --key "grpo.val/$bal/symbolic" --key "grpo.val/$bal/implication"
  section main main.yaml "Main result: base vs TFQ-GRPO on TFQ, MCQ and OSQ" \
    --group-by sweep --agg mean,ci95 \
    --metric "tfq_base.$bal,tfq_grpo.$bal,tfq_base.symbolic.$bal,tfq_grpo.symbolic.$bal,tfq_base.implication.$bal,tfq_grpo.implication.$bal,compare.delta.$bal,mcq_base.accuracy,mcq_grpo.accuracy,osq_base.mean_score,osq_grpo.mean_score" \
    -- curve --key "grpo.val/$bal"
  section training-strategy training_strategy.yaml "Training strategy: TFQ-SFT, SFT then GRPO, pure GRPO" \
    --group-by sweep --agg mean,ci95 \
    --metric "tfq_base.$bal,tfq_sft.$bal,tfq_sft_grpo.$bal,tfq_grpo.$bal,tfq_base.entropy,tfq_sft.entropy,tfq_sft_grpo.entropy,tfq_grpo.entropy,mcq_base.accuracy,mcq_sft.accuracy,mcq_sft_grpo.accuracy,mcq_grpo.accuracy,mcq_base.majority_baseline" \
    -- curve --key grpo.entropy --key sft_grpo.entropy --key sft.entropy
  # The two model-scaling designs share one table shape.
  scaling=(--group-by init.size --agg mean,ci95
    --metric "base.steps,grpo.steps,tfq_base.$bal,tfq_grpo.$bal,compare.delta.$bal,compare.delta.$bal.literal,compare.delta.$bal.symbolic,compare.delta.$bal.implication"
    -- bar --x init.size --y "tfq_grpo.$bal")
  section model-scaling model_scaling.yaml "Model-size scaling, compute-matched" "${scaling[@]}"
  section model-scaling-steps model_scaling_steps.yaml "Model-size scaling, step-matched" "${scaling[@]}"
  section data-scaling data_scaling.yaml "Data scaling" \
    --group-by subset.max_images --agg mean,ci95,count \
    --metric "grpo.steps,tfq_grpo.$bal,compare.delta.$bal,compare.delta.$bal.literal,compare.delta.$bal.implication" \
    -- line --x subset.max_images --y "compare.delta.$bal" --logx
  section literal-mix literal_mix.yaml "Keeping the literal level: how much of each batch" \
    --group-by grpo.literal_mix --agg mean,ci95,count \
    --metric "grpo.steps,tfq_grpo.$bal,compare.delta.$bal,compare.delta.$bal.literal,compare.delta.$bal.symbolic,compare.delta.$bal.implication"
  section architecture architecture.yaml "Architecture families" \
    --group-by init.family --agg mean,ci95,count \
    --metric "tfq_base.$bal,tfq_grpo.$bal,compare.delta.$bal" \
    -- bar --x init.family --y "tfq_grpo.$bal"
  section generalization generalization.yaml "Generalisation" \
    --group-by sweep --agg mean,ci95 \
    --metric "tfq_base.heldout.$bal,tfq_grpo.heldout.$bal,tfq_base.seen.$bal,tfq_grpo.seen.$bal,vqa_base.accuracy,vqa_grpo.accuracy,vqa_base.identity.accuracy,vqa_grpo.identity.accuracy,reasoning_base.accuracy,reasoning_grpo.accuracy,reasoning_base.majority_baseline"
  [ -f "$plots/missing.md" ] && cat "$plots/missing.md"
} > "$out"
echo "wrote $out"
