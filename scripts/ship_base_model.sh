#!/usr/bin/env bash
# Copies the checkpoint of node NODE of the newest run of SWEEP into DEST
# (a models/ directory shipped with the repository) and writes the README
# beside it that says how it was made. Used by `make base-models`.
#   scripts/ship_base_model.sh MSTAR SWEEP NODE DEST
set -euo pipefail
mstar=$1 sweep=$2 node=$3 dest=$4
run=$("$mstar" runs "$sweep" --format json --limit 1 | sed -n 's/.*"run": "\([0-9a-f]*\)".*/\1/p' | head -n 1)
[ -n "$run" ] || { echo "ship_base_model: no run of sweep '$sweep' in the registry" >&2; exit 2; }
src=$("$mstar" artifact "$run" "$node")
# Before DEST is replaced: its own files do not make the tree dirty.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- . ":(exclude)$dest" 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
rm -rf "$dest"
mkdir -p "$dest"
cp "$src/model.safetensors" "$src/tokenizer.json" "$dest/"
# The library path is this machine's; elsewhere backbone/load finds the
# architecture's plugin by itself.
grep -v '"plugin_library":' "$src/config.json" > "$dest/config.json"
cat > "$dest/README.md" <<EOT
# $(basename "$dest")

The base of the quickstart and the studies: a tiny_vlm (qwen family, size
S, 16-pixel patches) trained by SFT on the pretraining corpus of the study
world: captions, literal T/F statements, literal 6-option MCQ answered
"<answer> C </answer>" and one-sentence descriptions (symbol meanings are
never shown). Node \`$node\` of experiments/base_models.yaml
(experiments/common/base.yaml and common/world.yaml; world seed 1, model
seed 3: of the three seeds measured, the one whose base learnt colour,
docs/data.md "The base of the studies").

- made by: \`make base-models\` (= \`mstar run experiments/base_models.yaml\`
  then scripts/ship_base_model.sh), run $run of sweep $sweep
- commit: $commit$dirty
- date: $(date -u +%Y-%m-%d)
- size: $(du -sh "$dest" | cut -f1)

Its learning curve (literal attributes on held-out images) and its
benchmarks before any RL are in docs/results.md ("The base");
\`mstar show $run\` in the registry that made it has every metric. Loaded by the \`backbone/load\` node (experiments/quickstart.yaml).
EOT
echo "shipped $src -> $dest"
