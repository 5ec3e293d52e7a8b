#!/usr/bin/env bash
# Prebuilt mss addons for the boards: cross-compiles src/native/mss_native.c with node-gyp for linux-arm64 and
# linux-arm (armv7, hard float) into prebuilds/<platform>-<arch>/, where node-gyp-build finds them at run time (a
# board then needs no compiler; `npm install` builds from source only when no prebuild fits). The addon uses only
# Node-API, so one build per architecture serves every Node version from 18 on (no ABI in the name).
# Usage: scripts/prebuild.sh [arm64] [arm]      (default both; installs the Debian cross compilers when missing)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(arm64 arm)

declare -A TRIPLE=([arm64]=aarch64-linux-gnu [arm]=arm-linux-gnueabihf)
declare -A OUT=([arm64]=prebuilds/linux-arm64/node.napi.node [arm]=prebuilds/linux-arm/node.napi.armv7.node)
declare -A MAGIC=([arm64]='ARM aarch64' [arm]='ARM, EABI5')

need=()
for a in "${targets[@]}"; do
  [ -n "${TRIPLE[$a]:-}" ] || { echo "prebuild: unknown target $a (arm64 or arm)" >&2; exit 2; }
  command -v "${TRIPLE[$a]}-g++" >/dev/null || need+=("g++-${TRIPLE[$a]}")
done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "prebuild: install ${need[*]} (as root)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

node_bin="$(command -v node)"
nodedir="$(dirname "$(dirname "$node_bin")")"
[ -f "$nodedir/include/node/node_api.h" ] || { echo "prebuild: no Node headers under $nodedir/include/node" >&2; exit 1; }
gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for a in "${targets[@]}"; do
  t="${TRIPLE[$a]}"
  start=$(date +%s.%N)
  # a copy, so the host's own build/ (used by tests) is left alone
  mkdir -p "$work/$a/src/native"
  cp binding.gyp "$work/$a/" && cp src/native/mss_native.c "$work/$a/src/native/"
  (cd "$work/$a" && CC="$t-gcc" CXX="$t-g++" LINK="$t-g++" AR="$t-ar" \
     node "$gyp" rebuild --arch="$a" --nodedir="$nodedir" >"$work/$a.log" 2>&1) || { cat "$work/$a.log" >&2; exit 1; }
  mkdir -p "$(dirname "${OUT[$a]}")"
  cp "$work/$a/build/Release/mss_native.node" "${OUT[$a]}"
  desc="$(file -b "${OUT[$a]}")"
  echo "$desc" | grep -q "${MAGIC[$a]}" || { echo "prebuild: ${OUT[$a]} is not for $a: $desc" >&2; exit 1; }
  printf '%-40s %6s bytes  %5.1f s  %s\n' "${OUT[$a]}" "$(stat -c %s "${OUT[$a]}")" "$(echo "$(date +%s.%N) - $start" | bc)" "${desc%%,*}"
done
