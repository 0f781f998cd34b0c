#!/usr/bin/env bash
# Installs mstar into a temporary prefix, builds tests/fixtures/external_plugin
# against the installed CMake package, and runs it through `mstar run`.
set -euo pipefail
BUILD_DIR=$1
SRC_DIR=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$BUILD_DIR" --prefix "$work/prefix" >/dev/null
# Plugins see mstar::Logger, not the host's spdlog: no installed header names it.
if grep -rln spdlog "$work/prefix/include/mstar"; then
  echo "installed plugin API headers mention spdlog"; exit 1
fi
# The test plugins are not part of a default install; this test adds them.
if MSTAR_HOME="$work/probe-home" "$work/prefix/bin/mstar" plugins list | grep -q "^test "; then
  echo "cmake --install installed the test plugins"; exit 1
fi
cmake --install "$BUILD_DIR" --prefix "$work/prefix" --component tests >/dev/null
cmake -S "$SRC_DIR/tests/fixtures/external_plugin" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
cat > "$work/graph.yaml" <<'YAML'
name: external
nodes:
  a: {plugin: test/echo, params: {value: 3}}
  x: {plugin: test/external, inputs: {x: a}, params: {factor: 5}}
YAML
export MSTAR_HOME="$work/home"
"$work/prefix/bin/mstar" plugins list --plugin-path "$work/build" | grep -q "external"
"$work/prefix/bin/mstar" run "$work/graph.yaml" --plugin-path "$work/build" > "$work/out.txt"
grep -q "x.value" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }
# The installed binary finds the installed built-in plugins (test/echo) and the external one.
run=$("$work/prefix/bin/mstar" runs --format json | grep '"run"' | head -1 | sed 's/.*: "\(.*\)".*/\1/')
"$work/prefix/bin/mstar" show "$run" | grep -q "x.value = 15" || { "$work/prefix/bin/mstar" show "$run"; exit 1; }
"$work/prefix/bin/mstar" logs "$run" x | grep -q "external: value 15.0" || { "$work/prefix/bin/mstar" logs "$run" x; exit 1; }
echo "external plugin: built against the installed package and ran"
