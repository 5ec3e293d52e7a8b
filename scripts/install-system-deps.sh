#!/usr/bin/env bash
# Installs, with apt, the system programs mss and its tests need, when any is missing.
# Idempotent: does nothing when everything is present. Needs root (or sudo) to install.
set -euo pipefail

# command name -> Debian package
declare -A PACKAGE_OF=(
  [ffmpeg]=ffmpeg
  [ffprobe]=ffmpeg
  # tests: curl --digest against the operator API, script(1) for a pseudo-terminal
  [curl]=curl
  [script]=bsdutils
  [mosquitto]=mosquitto
  [mosquitto_pub]=mosquitto-clients
  [socat]=socat
  # the native addon is compiled by npm install (node-gyp needs a C compiler, make and python3)
  [gcc]=gcc
  [make]=make
  [python3]=python3
)

missing=()
for cmd in "${!PACKAGE_OF[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${PACKAGE_OF[$cmd]}")
done
# mosquitto lives in /usr/sbin, which is not on every user's PATH
if [ ${#missing[@]} -eq 0 ]; then
  [ "${1:-}" = "--quiet" ] || echo "system deps: all present (ffmpeg, ffprobe, mosquitto, mosquitto_pub, socat, gcc, make, python3)"
  exit 0
fi
packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "system deps missing: $packages" >&2
    echo "install them as root:  apt-get update && apt-get install -y --no-install-recommends $packages" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "system deps: installing $packages"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $packages >/dev/null
# the broker must not run as a system service on the test ports; tests start their own
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
echo "system deps: done"
