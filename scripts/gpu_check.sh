#!/usr/bin/env bash
# The GPU check (docs/gpu.md): builds mstar on a GPU machine that has no
# package registry, against that machine's torch, and runs what needs a GPU.
#
#   gpu_check.sh pack [DIR]                 here (Debian 12): download the Debian
#                                           packages mstar needs into DIR (.gpu/debs)
#   gpu_check.sh unpack DEBS ROOT           unpack them into a scratch root
#   gpu_check.sh configure ROOT BUILD [PY]  configure mstar against ROOT's packages
#                                           and PY's torch (python3; $TORCH_DIR wins)
#   gpu_check.sh run [OUT]                  on the GPU machine: all of it, one report
#                                           (OUT/gpu_report.md, OUT: $OUT or ./gpu_report)
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
repo="$(cd "$(dirname "$0")/.." && pwd)"
triplet=x86_64-linux-gnu

# The -dev packages of scripts/setup.sh (less the toolchain, git, chromium)
# and the runtime libraries their .so links point to. Left out: packages
# that hold nothing the build reads (the libboost-*-dev metapackages, the
# googletest sources, catch2, libc6-dev, libstb0).
PACKAGES=(
  libboost1.74-dev libboost-filesystem1.74-dev libboost-filesystem1.74.0
  libboost-program-options1.74-dev libboost-program-options1.74.0
  libboost-system1.74-dev libboost-system1.74.0
  libssl-dev libssl3 libyaml-cpp-dev libyaml-cpp0.7 libsqlite3-dev libsqlite3-0
  libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian libstb-dev
  libpcre2-dev libpcre2-8-0
  # cpp-httplib's .pc requires openssl, zlib and brotli's .pc files.
  libcpp-httplib-dev libcpp-httplib0.11 libbrotli-dev libbrotli1 zlib1g-dev zlib1g
  # gloo's headers, for the Gloo transport (its libgloo is never linked); the
  # NCCL transport's test, distributed_gpu_test (label gpu), runs 2 ranks on
  # 2 GPUs, else a group of one: NCCL refuses two ranks on one GPU.
  libgloo-dev
  # pkg-config, for machines without one (FindPkgConfig needs the program).
  pkgconf pkgconf-bin libpkgconf3
)
# The device tool carries 64 MiB in all: the tree itself is about 5 MiB.
BUDGET_MIB=${GPU_CHECK_BUDGET_MIB:-56}
# Exit statuses of `pack` where it cannot pack here (tests/gpu_check_test.sh
# skips): Debian's archive cannot be reached; this is no Debian 12 amd64.
EXIT_UNREACHABLE=3
EXIT_WRONG_HOST=4

die() { echo "gpu_check: $*" >&2; exit 1; }

# ---------------------------------------------------------------- pack
cmd_pack() {
  local dir="${1:-$repo/.gpu/debs}" codename arch
  # shellcheck disable=SC1091
  codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
  if [ "$codename" != bookworm ]; then
    echo "gpu_check: pack needs Debian 12 (bookworm), whose packages mstar is tested with; this is '${codename:-unknown}'" >&2
    exit $EXIT_WRONG_HOST
  fi
  arch="$(dpkg --print-architecture)"
  if [ "$arch" != amd64 ]; then
    echo "gpu_check: pack needs an amd64 apt (the GPU machine is x86-64); this one is $arch" >&2
    exit $EXIT_WRONG_HOST
  fi
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local f name p missing=() wanted=" ${PACKAGES[*]} "
  shopt -s nullglob
  # A package dropped from the list must not count against the budget.
  for f in "$dir"/*.deb; do
    name="${f##*/}"; name="${name%%_*}"
    [[ "$wanted" == *" $name "* ]] || { echo "pack: removing $name (no longer needed)"; rm -f "$f"; }
  done
  for p in "${PACKAGES[@]}"; do
    f=("$dir/${p}"_*.deb)
    [ ${#f[@]} -gt 0 ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "pack: downloading ${#missing[@]} of ${#PACKAGES[@]} packages into $dir"
    if ! (cd "$dir" && apt-get download -q "${missing[@]}" 2>&1 | { grep -v '^W: Download is performed unsandboxed' || true; }); then
      echo "gpu_check: apt-get download failed: Debian's archive is unreachable or the package lists are stale (apt-get update)" >&2
      exit $EXIT_UNREACHABLE
    fi
  else
    echo "pack: all ${#PACKAGES[@]} packages already in $dir"
  fi
  for p in "${PACKAGES[@]}"; do
    f=("$dir/${p}"_*.deb)
    [ ${#f[@]} -gt 0 ] || die "pack: $p was not downloaded into $dir"
  done
  local bytes files=("$dir"/*.deb)
  bytes=$(du -cb "${files[@]}" | tail -n 1 | cut -f1)
  awk -v b="$bytes" -v n="${#files[@]}" -v max="$BUDGET_MIB" \
    'BEGIN { printf "pack: %d .deb files, total %.1f MiB (budget %d MiB)\n", n, b / 1048576, max }'
  [ "$bytes" -le $((BUDGET_MIB * 1048576)) ] ||
    die "pack: the packages in $dir are over the $BUDGET_MIB MiB budget (the device carries 64 MiB with the tree)"
}

# ---------------------------------------------------------------- unpack
extract_deb() {  # DEB ROOT: dpkg -x, or ar + tar where there is no dpkg
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$1" "$2"
  else
    local member z
    member="$(ar t "$1" | grep '^data\.tar')" || die "$1: no data.tar member (not a .deb?)"
    case "$member" in
      *.xz) z=-J ;; *.zst) z=--zstd ;; *.gz) z=-z ;; *) z= ;;
    esac
    ar p "$1" "$member" | tar -x $z -f - -C "$2"
  fi
}

system_has_lib() {  # SONAME (system_libs: ldconfig -p): the machine's own loader finds it
  grep -q "^[[:space:]]*$1 " <<<"$system_libs" && return 0
  local d
  for d in /lib/$triplet /usr/lib/$triplet /lib64 /usr/lib64 /usr/lib; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}

cmd_unpack() {
  [ $# -eq 2 ] || die "usage: gpu_check.sh unpack DEBS ROOT"
  local debs="$1" root="$2"
  [ -d "$debs" ] || die "unpack: $debs is not a folder (run scripts/gpu_check.sh pack on a Debian 12 machine first)"
  mkdir -p "$root"
  root="$(cd "$root" && pwd -P)"
  # Debian's packages unpacked over a running system's / can break it.
  [ "$root" != / ] || die "unpack: ROOT must be a scratch folder, not /"
  shopt -s nullglob
  local d n=0
  for d in "$debs"/*.deb; do extract_deb "$d" "$root"; n=$((n + 1)); done
  [ $n -gt 0 ] || die "unpack: no .deb files in $debs (run scripts/gpu_check.sh pack here first)"
  # Links into the system's folders (libz.so -> /lib/...) must stay in ROOT.
  local link target
  while IFS= read -r -d '' link; do
    target="$(readlink "$link")"
    [[ "$target" == "$root"/* ]] && continue
    ln -sfn "$root$target" "$link"
  done < <(find "$root" -type l -lname '/*' -print0)
  # .pc files name /usr: pkg-config must hand out ROOT's folders.
  find "$root" -name '*.pc' -exec sed -i -E "s#^([A-Za-z_]+)=/usr(/|\$)#\\1=$root/usr\\2#" {} +
  # ROOT/runtime-libs: the shared libraries this machine lacks, for
  # LD_LIBRARY_PATH. Those it has stay its own: a Debian 12 libssl or zlib
  # ahead of the system's could break the system's own programs.
  mkdir -p "$root/runtime-libs"
  local lib soname added=() ldconfig system_libs
  ldconfig="$(command -v ldconfig || echo /sbin/ldconfig)"
  system_libs="$("$ldconfig" -p 2>/dev/null || true)"
  for lib in "$root/usr/lib/$triplet"/lib*.so.* "$root/lib/$triplet"/lib*.so.*; do
    [ -L "$lib" ] && continue
    soname="$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
    soname="${soname:-${lib##*/}}"
    system_has_lib "$soname" && continue
    ln -sfn "$lib" "$root/runtime-libs/$soname"
    added+=("$soname")
  done
  echo "unpack: $n packages into $root ($(du -sm "$root" | cut -f1) MiB)"
  echo "unpack: runtime-libs (libraries this machine lacks): ${added[*]:-none}"
}

# ---------------------------------------------------------------- configure
root_env() {  # ROOT: the environment every step after unpack runs in
  local usr="$1/usr"
  export PKG_CONFIG_PATH="$usr/lib/$triplet/pkgconfig:$usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export LD_LIBRARY_PATH="$1/runtime-libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

cmd_configure() {
  if [ $# -lt 2 ] || [ $# -gt 3 ]; then die "usage: gpu_check.sh configure ROOT BUILD [PYTHON]"; fi
  local root build="$2" python="${3:-python3}" torch_dir="${TORCH_DIR:-}" py
  root="$(cd "$1" && pwd -P)" || die "configure: no ROOT $1 (run unpack first)"
  [ -d "$root/usr/include/boost" ] || die "configure: $root holds no unpacked packages (run unpack first)"
  py="$(command -v "$python" || true)"
  if [ -z "$torch_dir" ]; then
    [ -n "$py" ] || die "configure: no Python '$python' (give another PYTHON or TORCH_DIR)"
    torch_dir="$("$py" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')/Torch" ||
      die "configure: $py has no torch package (give another PYTHON or TORCH_DIR)"
  fi
  [ -f "$torch_dir/TorchConfig.cmake" ] || die "configure: no TorchConfig.cmake in $torch_dir"
  root_env "$root"
  local usr="$root/usr"
  # CMAKE_PREFIX_PATH is searched before the system's folders, so ROOT's
  # copies win over any the machine has.
  local args=(-S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSTAR_BUILD_FUZZ=OFF
    "-DCMAKE_PREFIX_PATH=$usr" "-DTorch_DIR=$torch_dir" "-DOPENSSL_ROOT_DIR=$usr")
  # The tests' reference tools run in the Python that gave the torch.
  [ -z "$py" ] || args+=("-DMSTAR_PYTHON=$py")
  # Debian's CMake configs live in lib/x86_64-linux-gnu, searched only
  # where the compiler reports that multiarch folder (not on RHEL-likes).
  if [ -z "$("${CXX:-c++}" -print-multiarch 2>/dev/null)" ]; then
    args+=("-DCMAKE_LIBRARY_ARCHITECTURE=$triplet")
  fi
  # ROOT's pkg-config (pkgconf), the one tested here, also where the
  # machine has none: FindPkgConfig needs the program.
  args+=("-DPKG_CONFIG_EXECUTABLE=$usr/bin/pkgconf")
  echo "configure: ROOT $root, LibTorch $torch_dir"
  cmake "${args[@]}"
}

# ---------------------------------------------------------------- run
# The stages' commands (each runs under `timeout`, so each is a process).
stage_facts() {
  local c
  echo "## machine"; uname -a
  # shellcheck disable=SC1091
  (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || true
  echo "cores $(nproc), $(free -g 2>/dev/null | awk '/^Mem:/ {print $2 " GiB memory"}')"
  echo "## nvidia-smi"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || echo "(nvidia-smi failed)"
  nvidia-smi || true
  echo "## tools"
  for c in "c++ --version" "nvcc --version" "cmake --version" "ninja --version" "pkg-config --version" "dpkg --version"; do
    echo "\$ $c"; $c 2>&1 | head -2 || echo "(not found)"
  done
  echo "## python3"
  python3 - "$repo/scripts/requirements.txt" <<'EOF'
import importlib.metadata as md, sys
print(sys.executable, sys.version.split()[0])
# The reference tools the tests compare with are pinned; this machine
# carries what it carries, so say where it differs.
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if "==" not in line:
        continue
    name, want = line.split("==")
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        have = "missing"
    verdict = "ok" if have.split("+")[0] == want else "DIFFERS"
    print(f"pin {name}: scripts/requirements.txt {want}, here {have}: {verdict}")
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("device", p.name, f"sm_{p.major}{p.minor}", p.multi_processor_count, "SMs",
          round(p.total_memory / 2**30, 1), "GiB")
    x = torch.randn(4096, 4096, device="cuda")
    print("matmul on cuda:", float((x @ x).sum().isfinite()))
print("cmake_prefix_path", torch.utils.cmake_prefix_path)
EOF
}

gpu_test_targets() {  # BUILD: the executables of the tests labelled gpu
  python3 - "$1" <<'EOF'
import os, re, subprocess, sys
build = sys.argv[1]
names = set()
# add_test(... LABELS gpu): its command's executable. Read from the
# CTestTestfile.cmake files: before the build, ctest cannot name a command
# whose executable does not exist yet.
for root, _, files in os.walk(build):
    if "CTestTestfile.cmake" not in files:
        continue
    text = open(os.path.join(root, "CTestTestfile.cmake")).read()
    commands = dict(re.findall(r'add_test\(\[=\[(.*?)\]=\] "([^"]*)"', text))
    for name, labels in re.findall(r'set_tests_properties\(\[=\[(.*?)\]=\] PROPERTIES .*?LABELS "([^"]*)"', text):
        if "gpu" in labels.split(";") and name in commands:
            names.add(os.path.basename(commands[name]))
# gtest_discover_tests(... PROPERTIES LABELS gpu): its tests exist only once
# built, but the discovery step's arguments in build.ninja name the label.
ninja = open(os.path.join(build, "build.ninja")).read()
for m in re.finditer(r'TEST_TARGET=(\S+) .*?TEST_PROPERTIES=([^"\n]*)', ninja):
    props = m.group(2).split(";")
    if "LABELS" in props and "gpu" in props[props.index("LABELS") + 1:]:
        names.add(m.group(1))
targets = subprocess.run(["ninja", "-C", build, "-t", "targets", "all"], capture_output=True, text=True).stdout
known = {line.split(":")[0] for line in targets.splitlines()}
print(" ".join(sorted(n for n in names if n in known)))
EOF
}

stage_build() {  # ROOT BUILD
  root_env "$1"
  local targets
  targets="backbone_bench qwen_compare $(gpu_test_targets "$2") ${GPU_CHECK_TARGETS:-}"
  echo "build: targets $targets"
  # shellcheck disable=SC2086
  cmake --build "$2" -j "$(nproc)" --target $targets
}

stage_tests() {  # ROOT BUILD SECONDS
  root_env "$1"
  cd "$2"
  local n
  n=$(ctest -N -L gpu | sed -n 's/^Total Tests: *//p')
  echo "${n:-0} GPU-marked tests"
  [ "${n:-0}" -gt 0 ] || return 0
  ctest -L gpu --output-on-failure --timeout "$3"
}

stage_bench() {  # ROOT BUILD
  root_env "$1"
  local bench="$2/bench/backbone_bench" args
  read -r -a args <<<"${GPU_CHECK_BENCH_ARGS:---sizes S,M,L --threads $(nproc),1 --reps 3}"
  if grep -q '"--device"' "$repo/bench/backbone_bench.cpp"; then
    args+=(--device cuda)
    echo "backbone_bench on the GPU (--device cuda)"
  else
    echo "backbone_bench on the CPU: it has no device option yet"
  fi
  [ -x "$bench" ] || { echo "no $bench (the build stage did not make it)"; return 1; }
  "$bench" "${args[@]}"
}

# Qwen2.5-VL on the GPU against transformers in the same run (bench/qwen_compare.py):
# a 3B-shaped random checkpoint built here in bf16 (save_pretrained), sampling
# tokens/s and the training step's MFU on both sides.
stage_qwen() {  # ROOT BUILD
  root_env "$1"
  local bin="$2/bench/qwen_compare"
  [ -x "$bin" ] || { echo "no $bin (the build stage did not make it)"; return 1; }
  if ! python3 -c 'import transformers, safetensors, PIL' 2>/dev/null; then
    echo "qwen bench skipped: python3 here cannot import transformers (with safetensors and Pillow), which builds"
    echo "the checkpoint (save_pretrained) and is the baseline; the device machine has no package registry"
    return 0
  fi
  python3 "$repo/bench/qwen_compare.py" --binary "$bin" --shape 3b --device cuda --dtype bfloat16 \
    --threads "$(nproc)" --rounds 1 --reps 2 --batch 8 --train-batch 4 --image-size 224 --peak-tflops auto
}

cmd_run() {
  local out="${1:-${OUT:-$PWD/gpu_report}}"
  local scratch=/tmp/mstar-gpu-check
  local debs="${GPU_CHECK_DEBS:-$repo/.gpu/debs}" build="${GPU_CHECK_BUILD:-$repo/.gpu/build}"
  local t0 deadline
  t0=$(date +%s)
  deadline=$((t0 + ${GPU_CHECK_SECONDS:-360}))
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  rm -rf "$scratch"
  mkdir -p "$scratch"
  : >"$scratch/stages"
  local commit
  commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "unknown (no .git)")"

  write_report() {
    {
      echo "# mstar GPU check"
      echo
      echo "commit $commit, started $(date -u -d "@$t0" '+%F %T') UTC on $(hostname), limit ${GPU_CHECK_SECONDS:-360} s"
      echo
      echo "| stage | status | seconds |"
      echo "| --- | --- | --- |"
      local s st secs lines
      while IFS=$'\t' read -r s st secs; do echo "| $s | $st | $secs |"; done <"$scratch/stages"
      [ -s "$scratch/notes" ] && { echo; cat "$scratch/notes"; }
      while IFS=$'\t' read -r s st secs; do
        [ -f "$out/$s.log" ] || continue
        # The facts whole (nvidia-smi's table): they are short.
        lines=30; [ "$s" != facts ] || lines=100
        echo; echo "## $s ($st): last lines of $s.log"; echo; echo '```'
        tail -n $lines "$out/$s.log"; echo '```'
      done <"$scratch/stages"
    } >"$out/gpu_report.md.tmp"
    mv "$out/gpu_report.md.tmp" "$out/gpu_report.md"
  }

  local failed=0
  skip() { printf '%s\tskipped: %s\t0\n' "$1" "$2" >>"$scratch/stages"; write_report; }
  # run_stage NAME CAP_SECONDS COMMAND...: at most CAP and what is left
  # before the deadline (less a few seconds to write the report).
  run_stage() {
    local name="$1" cap="$2"; shift 2
    local left=$((deadline - $(date +%s) - 5)) limit s rc status
    limit=$((cap < left ? cap : left))
    # (timeout 0 would mean no limit at all)
    if [ $limit -lt 5 ]; then skip "$name" "no time left"; failed=1; return 1; fi
    s=$(date +%s)
    set +e
    timeout -k 5 "$limit" "$@" >"$out/$name.log" 2>&1
    rc=$?
    set -e
    case $rc in
      0) status=ok ;;
      124 | 137) status="TIMED OUT after ${limit} s" ;;
      *) status="FAILED (exit $rc)" ;;
    esac
    printf '%s\t%s\t%s\n' "$name" "$status" "$(($(date +%s) - s))" >>"$scratch/stages"
    write_report
    [ $rc -eq 0 ] || { failed=1; return 1; }
  }

  # The machine's facts first: seconds, and what a cut-off run most needs.
  run_stage facts 60 bash "$self" _facts || true
  grep -h 'DIFFERS' "$out/facts.log" | sed 's/^/- /' >>"$scratch/notes" || true
  if ! run_stage unpack 60 bash "$self" unpack "$debs" "$scratch/root"; then
    skip configure "unpack failed"; skip build "unpack failed"; skip tests "unpack failed"; skip bench "unpack failed"
    skip qwen "unpack failed"
  elif ! run_stage configure 120 bash "$self" configure "$scratch/root" "$build" python3; then
    skip build "configure failed"; skip tests "configure failed"; skip bench "configure failed"
    skip qwen "configure failed"
  else
    run_stage build 600 bash "$self" _build "$scratch/root" "$build" || true
    local left=$((deadline - $(date +%s)))
    # Half of what is left for the tests, the rest for the bench.
    run_stage tests $((left / 2)) bash "$self" _tests "$scratch/root" "$build" $((left / 2)) || true
    sed -n -e 's/^\([0-9]* GPU-marked tests\)$/- \1/p' -e 's/^\([0-9]*% tests passed.*\)/- \1/p' \
      "$out/tests.log" >>"$scratch/notes" 2>/dev/null || true
    run_stage bench 600 bash "$self" _bench "$scratch/root" "$build" || true
    sed -n 's/^\(backbone_bench on the .*\)/- \1/p' "$out/bench.log" >>"$scratch/notes" 2>/dev/null || true
    run_stage qwen 300 bash "$self" _qwen "$scratch/root" "$build" || true
    sed -n -e 's/^\(qwen bench skipped.*\)/- \1/p' -e 's/^\(sampling tokens.*\|training MFU.*\)/- qwen: \1/p' \
      "$out/qwen.log" >>"$scratch/notes" 2>/dev/null || true
  fi
  write_report
  echo "gpu_check: report in $out/gpu_report.md"
  cat "$out/gpu_report.md"
  return $failed
}

case "${1:-}" in
  pack) shift; cmd_pack "$@" ;;
  unpack) shift; cmd_unpack "$@" ;;
  configure) shift; cmd_configure "$@" ;;
  run) shift; cmd_run "$@" ;;
  _facts) stage_facts ;;
  _targets) shift; gpu_test_targets "$@" ;;
  _build) shift; stage_build "$@" ;;
  _tests) shift; stage_tests "$@" ;;
  _bench) shift; stage_bench "$@" ;;
  _qwen) shift; stage_qwen "$@" ;;
  *) echo "usage: gpu_check.sh pack [DIR] | unpack DEBS ROOT | configure ROOT BUILD [PYTHON] | run [OUT]" >&2; exit 2 ;;
esac
