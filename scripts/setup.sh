#!/usr/bin/env bash
# Installs the Debian packages mstar needs. Idempotent: packages already
# present are not reinstalled, and `apt-get update` runs at most once a day
# (marker in /var/lib/apt/periodic or our own stamp).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache git pkg-config
  libboost-dev libboost-filesystem-dev libboost-program-options-dev libboost-system-dev
  libssl-dev libyaml-cpp-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtorch-dev libopenblas0-pthread libstb-dev libpcre2-dev libcpp-httplib-dev chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
stamp=/tmp/mstar-apt-updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
  $SUDO apt-get update -qq
  touch "$stamp"
fi
echo "setup: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
