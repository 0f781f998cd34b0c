#!/usr/bin/env bash
# Makes the reference that tests/tokenizer_test.cpp compares with:
# tests/reference/tokenizer_reference.py run by the project's Python, cached
# in OUT_DIR by the hash of everything it reads. Without a Python that has
# `tokenizers` and transformers it writes OUT_DIR/skip-reason.txt instead
# and succeeds: the C++ test then skips with that reason (fails under CI=true).
# Usage: tokenizer_reference.sh PYTHON SOURCE_DIR OUT_DIR
set -euo pipefail
python="$1"
src="$2"
out="$3"
mkdir -p "$out"
script="$src/tests/reference/tokenizer_reference.py"
fixture="$src/tests/fixtures/qwen-tokenizer"
prompts="$src/plugin_api/include/mstar/data/prompts.h"
hash="$(cat "$script" "$fixture/tokenizer.json" "$fixture/tokenizer_config.json" \
            "$fixture/qwen2_5_vl_chat_template.jinja" "$prompts" | sha256sum | cut -d' ' -f1)"
if [ -f "$out/reference.json" ] && [ "$(cat "$out/reference.sha256" 2>/dev/null)" = "$hash" ]; then
  echo "tokenizer reference up to date ($out/reference.json)"
  exit 0
fi
rm -f "$out/reference.json" "$out/reference.sha256" "$out/skip-reason.txt"
if [ ! -x "$python" ]; then
  echo "no Python at $python (scripts/setup.sh makes .venv/ with tokenizers and transformers)" | tee "$out/skip-reason.txt"
  exit 0
fi
if ! missing="$("$python" -c 'import tokenizers, transformers' 2>&1)"; then
  echo "$python cannot import tokenizers and transformers (scripts/setup.sh installs them): ${missing##*$'\n'}" \
    | tee "$out/skip-reason.txt"
  exit 0
fi
"$python" "$script" "$fixture" "$prompts" "$out/reference.json.tmp"
mv "$out/reference.json.tmp" "$out/reference.json"
echo "$hash" > "$out/reference.sha256"
