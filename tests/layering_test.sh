#!/usr/bin/env bash
# The layering rules (tests/layering.cmake says where the link closures come
# from). Usage: layering_test.sh BUILD_DIR SOURCE_DIR. Each broken rule is
# listed; the exit status is the number of rules broken.
set -uo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
SRC_DIR="$(cd "$2" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
broken=0
fail() { echo "layering: $*"; broken=$((broken + 1)); }

# 1. The host links no plugin library.
host_plugins="$(grep -Fxf "$BUILD_DIR/layering/plugin_targets.txt" "$BUILD_DIR/layering/host_link_closure.txt" || true)"
[ -z "$host_plugins" ] || fail "the host (target mstar) links plugin libraries: $(echo $host_plugins)"

# 2. What `make install` installs. Test-only components are left out, as a
#    user's install leaves them out.
cmake --install "$BUILD_DIR" --prefix "$work/prefix" >"$work/install.txt" 2>&1 || { cat "$work/install.txt"; fail "cmake --install failed"; exit "$broken"; }
inc="$work/prefix/include"
[ -d "$inc/mstar" ] || fail "no include/mstar installed"

# 3. Every mstar/ header an in-tree plugin includes is installed, or lives
#    in that plugin's own folder (plugins/<name>/...).
while IFS= read -r hit; do
  file="${hit%%:*}"
  header="$(sed -E 's/.*#include [<"](mstar\/[^>"]+)[>"].*/\1/' <<<"${hit#*:}")"
  plugin_dir="$(cut -d/ -f1-2 <<<"${file#$SRC_DIR/}")"
  [ -f "$inc/$header" ] && continue
  find "$SRC_DIR/$plugin_dir" -path "*/$header" -print -quit | grep -q . && continue
  fail "${file#$SRC_DIR/} includes $header, which is neither installed nor in $plugin_dir"
done < <(grep -rHE '#include [<"]mstar/' "$SRC_DIR/plugins" --include='*.h' --include='*.cpp' --include='*.hpp')

# 4. Installed headers and the CMake package pull in no private dependency:
#    spdlog (plugins log through mstar::Logger), PCRE2, utf8proc, stb, yaml-cpp.
for dep in spdlog fmt pcre2 utf8proc stb_ yaml-cpp yaml; do
  found="$(grep -rlE "#include [<\"]$dep|namespace $dep\b" "$inc" 2>/dev/null || true)"
  [ -z "$found" ] || fail "installed headers include $dep: $(echo ${found//$inc\//})"
done
cmake_dir="$(dirname "$(find "$work/prefix" -name mstarConfig.cmake -print -quit)")"
for dep in pcre2 PCRE2 utf8proc UTF8PROC stb yaml-cpp yaml_cpp spdlog fmt::; do
  found="$(grep -lE "$dep" "$cmake_dir"/*.cmake 2>/dev/null || true)"
  [ -z "$found" ] || fail "the installed CMake package depends on $dep: $(echo ${found//$cmake_dir\//})"
done

echo "layering: $broken rule(s) broken"
exit "$broken"
