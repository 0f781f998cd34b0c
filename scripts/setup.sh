#!/usr/bin/env bash
# Sets up a Debian 12 machine for mstar. Idempotent:
#  1. Debian packages: those already present are not reinstalled, and
#     `apt-get update` runs at most once a day.
#  2. .venv/, the project's Python environment: LibTorch (the PyPI torch
#     wheel) and the reference tools the tests compare with, pinned in
#     scripts/requirements.txt; reinstalled only when that file changes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

PACKAGES=(
  build-essential cmake ninja-build ccache git pkg-config python3-venv
  libboost-dev libboost-filesystem-dev libboost-program-options-dev libboost-system-dev
  libssl-dev libyaml-cpp-dev libsqlite3-dev sqlite3 libpq-dev postgresql libspdlog-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libstb-dev libpcre2-dev libutf8proc-dev libcpp-httplib-dev chromium
  chromium-driver libjs-chart.js slurm-wlm munge libgloo-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  stamp=/tmp/mstar-apt-updated
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
    $SUDO apt-get update -qq
    touch "$stamp"
  fi
  echo "setup: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's python3 (not whatever python3 is first on PATH), so that the
# environment is the same on every Debian 12 machine.
venv="$root/.venv"
requirements="$root/scripts/requirements.txt"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
have="$(cat "$venv/.requirements.sha256" 2>/dev/null || true)"
if [ "$want" = "$have" ] && [ -x "$venv/bin/python" ]; then
  echo "setup: .venv up to date ($(grep -c '==' "$requirements") pinned packages)"
  exit 0
fi
echo "setup: installing scripts/requirements.txt into .venv (2.6 GB to download, 4.9 GB installed: the torch wheel and its CUDA libraries)"
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" > "$venv/.requirements.sha256"
