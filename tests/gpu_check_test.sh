#!/usr/bin/env bash
# scripts/gpu_check.sh pack, unpack and configure, as the GPU machine runs
# them: the packages fit the budget, the scratch root is self-contained and
# mstar's configure takes every Debian package from it, not from /usr.
# Usage: gpu_check_test.sh SOURCE_DIR WORK_DIR MSTAR_PYTHON TORCH_DIR
set -euo pipefail
src="$1" work="$2" python="$3" torch_dir="$4"
script="$src/scripts/gpu_check.sh"
budget_mib=56
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work"
set +e
bash "$script" pack "$work/debs" >"$work/pack.log" 2>&1
rc=$?
set -e
cat "$work/pack.log"
case $rc in
  0) ;;
  3 | 4) echo "SKIP: cannot pack here: $(tail -n 1 "$work/pack.log")"; exit 77 ;;
  *) fail "pack exited $rc" ;;
esac
bytes=$(du -cb "$work/debs"/*.deb | tail -n 1 | cut -f1)
[ "$bytes" -le $((budget_mib * 1048576)) ] || fail "the packages take $bytes bytes, over $budget_mib MiB"
grep -q "^pack: [0-9]* .deb files, total" "$work/pack.log" || fail "pack did not report the total size"

root="$(mktemp -d /tmp/mstar-gpu-check-test.XXXXXX)"
trap 'rm -rf "$root"' EXIT

# Never over /: the check comes before anything is extracted.
if bash "$script" unpack "$work/debs" / 2>"$root/slash.log"; then fail "unpack accepted / as ROOT"; fi
grep -q "scratch folder, not /" "$root/slash.log" || fail "unpack into / gave no clear error: $(cat "$root/slash.log")"

bash "$script" unpack "$work/debs" "$root/root"
outside="$(find "$root/root" -type l -lname '/*' ! -lname "$root/root/*" -printf '%p -> %l\n')"
[ -z "$outside" ] || fail "links point out of the scratch root: $outside"
stale="$(grep -l '^[A-Za-z_]*=/usr' -r "$root/root" --include='*.pc' || true)"
[ -z "$stale" ] || fail ".pc files still name /usr: $stale"
[ -f "$root/root/usr/lib/x86_64-linux-gnu/cmake/yaml-cpp/yaml-cpp-config.cmake" ] || fail "yaml-cpp's CMake config was not unpacked"

TORCH_DIR="$torch_dir" bash "$script" configure "$root/root" "$root/build" "$python" >"$root/configure.log" 2>&1 ||
  { tail -n 40 "$root/configure.log"; fail "configure against the scratch root failed"; }
grep -Eq -- "-- LibTorch 2\.[0-9]+" "$root/configure.log" || fail "configure found no LibTorch 2.x: $(grep -i libtorch "$root/configure.log")"
cache="$root/build/CMakeCache.txt"
for key in yaml-cpp_DIR GTest_DIR spdlog_DIR fmt_DIR nlohmann_json_DIR Boost_DIR boost_filesystem_DIR \
           Boost_INCLUDE_DIR SQLite3_INCLUDE_DIR SQLite3_LIBRARY OPENSSL_INCLUDE_DIR OPENSSL_CRYPTO_LIBRARY \
           MSTAR_STB_INCLUDE_DIR PCRE2_PREFIX HTTPLIB_PREFIX PKG_CONFIG_EXECUTABLE; do
  value="$(sed -n "s/^$key:[A-Z]*=//p" "$cache")"
  case "$value" in
    "$root/root/"*) echo "ok: $key=$value" ;;
    *) fail "$key is '$value', not in the scratch root $root/root" ;;
  esac
done
value="$(sed -n 's/^Torch_DIR:[A-Z]*=//p' "$cache")"
[ "$value" = "$torch_dir" ] || fail "Torch_DIR is '$value', not the given $torch_dir"
echo "gpu_check CPU path: pack, unpack and configure ok"
