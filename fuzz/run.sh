#!/usr/bin/env bash
# `make fuzz`: builds the harnesses with clang and libFuzzer (plus ASan and
# UBSan) in $FUZZ_BUILD, then runs each for $FUZZ_SECONDS seconds starting
# from its committed corpus. New corpus entries go to $FUZZ_BUILD/corpus/NAME
# (scratch: copy the interesting ones into fuzz/corpus/NAME by hand), crash
# inputs to $FUZZ_BUILD/crashes/NAME/. Exits 1 when any harness crashed.
#   FUZZ_SECONDS=60 FUZZ_TARGETS="query image" bash fuzz/run.sh
# No LibTorch here: the safetensors harness is replay-only (fuzz/CMakeLists.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}

# Debian 12's clang 14; libclang-rt-14-dev holds libFuzzer and the sanitizer runtimes.
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "fuzz: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Coverage and sanitizers in every library the harnesses link; libFuzzer's
# main only in the harnesses (MSTAR_FUZZ_LIBFUZZER). -O1 without NDEBUG:
# assertions stay on.
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
if [ ! -f "$FUZZ_BUILD/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$FUZZ_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DMSTAR_FUZZ_LIBFUZZER=ON -DMSTAR_BUILD_TESTS=OFF -DMSTAR_BUILD_BENCH=OFF -DMSTAR_WITH_TORCH=OFF
fi
cmake --build "$FUZZ_BUILD" -j "$JOBS" --target fuzz_harnesses

targets=${FUZZ_TARGETS:-$(cd "$FUZZ_BUILD/fuzz" && ls -- *_fuzz | sed 's/_fuzz$//')}
crashed=()
for name in $targets; do
  mkdir -p "$FUZZ_BUILD/corpus/$name" "$FUZZ_BUILD/crashes/$name"
  echo "=== fuzz $name: ${FUZZ_SECONDS}s"
  # -rss_limit_mb: a harness that needs more is a finding (unbounded
  # allocation). -timeout: one input taking 10 s is a finding too.
  if ! "$FUZZ_BUILD/fuzz/${name}_fuzz" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -max_len=16384 -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/crashes/$name/" \
      "$FUZZ_BUILD/corpus/$name" "fuzz/corpus/$name" 2>"$FUZZ_BUILD/crashes/$name.log"; then
    crashed+=("$name")
  fi
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ *DONE)" "$FUZZ_BUILD/crashes/$name.log" || true
done

if [ ${#crashed[@]} -gt 0 ]; then
  for name in "${crashed[@]}"; do
    echo "fuzz $name CRASHED: input(s) in $FUZZ_BUILD/crashes/$name/, log $FUZZ_BUILD/crashes/$name.log:"
    grep -E "ERROR: |SUMMARY: |runtime error|fuzz invariant|terminate called" "$FUZZ_BUILD/crashes/$name.log" | head -5
  done
  echo "Reproduce: $FUZZ_BUILD/fuzz/NAME_fuzz CRASH_FILE; then add the input to fuzz/corpus/NAME/ with the fix."
  exit 1
fi
echo "fuzz: ${targets//$'\n'/ }: no crash in ${FUZZ_SECONDS}s each"
