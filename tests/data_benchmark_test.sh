#!/usr/bin/env bash
# An out-of-tree benchmark over the installed dataset layer: installs mstar
# into a temporary prefix, checks that the package keeps its private
# dependencies private, builds tests/fixtures/out_of_tree_benchmark against
# it (find_package(mstar), mstar::data) and runs it through the installed
# `mstar` on a TFQ JSONL file imported by dataset/tfq_jsonl. Usage:
#   data_benchmark_test.sh BUILD_DIR SOURCE_DIR    (KEEP=1 keeps the temporary directory)
set -euo pipefail
BUILD_DIR=$1
SRC_DIR=$2
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
fail() { echo "data_benchmark: FAILED: $*" >&2; exit 1; }
unset MSTAR_PLUGIN_PATH
cmake --install "$BUILD_DIR" --prefix "$work/prefix" >/dev/null
prefix=$work/prefix

# The dataset layer is installed; the world's and the old text library's headers are not.
for h in rows.h jsonl.h image.h import.h answers.h grade.h regex.h prompts.h paths.h; do
  [ -f "$prefix/include/mstar/data/$h" ] || fail "include/mstar/data/$h is not installed"
done
[ ! -e "$prefix/include/mstar/world" ] || fail "the world's private headers are installed"
# PCRE2, stb and yaml-cpp stay inside the libraries: no installed header
# includes them, and the exported targets do not link them.
if grep -rlE '#include *[<"](pcre2|stb/|yaml-cpp/)' "$prefix/include"; then fail "an installed header includes a private dependency"; fi
if grep -liE 'pcre2|stb|yaml' "$prefix"/lib*/cmake/mstar/*.cmake; then fail "the CMake package names a private dependency"; fi

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S "$SRC_DIR/tests/fixtures/out_of_tree_benchmark" -B "$work/build" "${generator[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.txt" 2>&1 || { cat "$work/configure.txt"; fail "configure"; }
cmake --build "$work/build" >"$work/build.txt" 2>&1 || { cat "$work/build.txt"; fail "build"; }

# Four TFQ rows over two inline images (2x2 PNGs); three are true, so the
# constant answer T scores 3/4 and F 1/4.
red="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGM4IScHRAwQCgAfJgQRoo8irwAAAABJRU5ErkJggg=="
blue="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGOQkzsBRAwQCgAZ1gQRShBSHAAAAABJRU5ErkJggg=="
mkdir -p "$work/export/bench"
cat >"$work/export/bench/tfq.jsonl" <<JSONL
{"images": ["$red"], "problem": "<image> true or false: the image is red.", "answer": "T", "level": "literal"}
{"images": ["$red"], "problem": "<image> true or false: the image is blue.", "answer": "F", "level": "literal"}
{"images": ["$blue"], "problem": "<image> true or false: the image is blue.", "answer": "T", "level": "literal"}
{"images": ["$blue"], "problem": "<image> true or false: the image is cold.", "answer": "T", "level": "implication"}
JSONL
cat >"$work/graph.yaml" <<YAML
name: data-benchmark
nodes:
  data: {plugin: dataset/tfq_jsonl, params: {source: $work/export}}
  yes: {plugin: benchmark/tfq_constant, inputs: {data: data.bench}, params: {answer: T}}
  no: {plugin: benchmark/tfq_constant, inputs: {data: data.bench}, params: {answer: F}}
YAML
export MSTAR_HOME="$work/home"
mstar="$prefix/bin/mstar"
"$mstar" run "$work/graph.yaml" --plugin-path "$work/build" >"$work/out.txt" 2>&1 || { cat "$work/out.txt"; fail "mstar run"; }
run=$("$mstar" runs --format json | grep '"run"' | head -1 | sed 's/.*: "\(.*\)".*/\1/')
"$mstar" show "$run" >"$work/show.txt"
for expect in "yes.accuracy = 0.75" "no.accuracy = 0.25" "yes.rows = 4" "yes.images = 2"; do
  grep -qF "$expect" "$work/show.txt" || { cat "$work/show.txt"; fail "expected '$expect'"; }
done

# `mstar data stats` reads the imported artifact through the same reader (the
# table once iterated a destroyed JSON value and failed with "cannot use value() with null").
art=$("$mstar" artifact "$run" data)
"$mstar" data stats "$art" >"$work/stats.txt" 2>&1 || { cat "$work/stats.txt"; fail "mstar data stats"; }
grep -qE '^bench +tfq\.jsonl +4 +2 +literal +2/1 +0\.667' "$work/stats.txt" || { cat "$work/stats.txt"; fail "stats table"; }

# A bad row is refused as FILE:LINE by the same reader (here in the import).
mkdir -p "$work/bad/bench"
printf '{"images": ["%s"], "problem": "p", "answer": "maybe"}\n' "$red" >"$work/bad/bench/tfq.jsonl"
sed "s#source: $work/export#source: $work/bad#" "$work/graph.yaml" >"$work/bad.yaml"
if "$mstar" run "$work/bad.yaml" --plugin-path "$work/build" >"$work/bad.txt" 2>&1; then fail "a bad row was accepted"; fi
grep -qF "bad/bench/tfq.jsonl:1: answer must be \"T\" or \"F\", got \"maybe\"" "$work/bad.txt" || { cat "$work/bad.txt"; fail "no FILE:LINE error"; }
echo "data benchmark: built against the installed package, read TFQ JSONL and scored 0.75 / 0.25"
