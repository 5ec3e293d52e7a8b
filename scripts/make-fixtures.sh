#!/usr/bin/env bash
# Generates the small ASF media files the tests use, with ffmpeg (synthetic test pattern + sine tone).
# Usage: scripts/make-fixtures.sh [outdir]   (default test/fixtures/generated/, gitignored)
# Cached: a file that already exists is not made again. Each file is written to a temporary name
# and renamed, so an interrupted run never leaves a half-written fixture behind.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$here/test/fixtures/generated}"
mkdir -p "$out"

ff=(ffmpeg -hide_banner -loglevel error -nostdin -y)
video_src() { echo "testsrc=size=$1:rate=25:duration=$2"; }
audio_src() { echo "sine=frequency=440:beep_factor=4:sample_rate=44100:duration=$1"; }

# make <name> <ffmpeg args...>: runs ffmpeg writing to a temp file in $out, then renames it to <name>
make() {
  local name="$1"; shift
  local target="$out/$name"
  [ -s "$target" ] && return 0
  local ext="${name##*.}"
  local tmp="$out/.tmp-$$-$name"
  if "${ff[@]}" "$@" -f "${FORMAT:-asf}" "$tmp"; then
    mv -f "$tmp" "$target"
    echo "made $target"
  else
    rm -f "$tmp"
    echo "ffmpeg could not make $name" >&2
    return 1
  fi
}

# WMV2 + WMA2, 20 s, 320x240 (key frame every 2 s)
make av-wmv2-wmav2-20s.wmv \
  -f lavfi -i "$(video_src 320x240 20)" -f lavfi -i "$(audio_src 20)" \
  -c:v wmv2 -b:v 300k -g 50 -c:a wmav2 -b:a 64k -ac 2

# WMV2 + WMA2, 120 s, small resolution, for seeking tests
make av-wmv2-wmav2-120s.wmv \
  -f lavfi -i "$(video_src 160x120 120)" -f lavfi -i "$(audio_src 120)" \
  -c:v wmv2 -b:v 100k -g 25 -c:a wmav2 -b:a 32k -ac 1

# audio only WMA2, 20 s
make audio-wmav2-20s.wma \
  -f lavfi -i "$(audio_src 20)" -c:a wmav2 -b:a 64k -ac 2

# two video streams (MBR-like: 300 kbps 320x240 and 80 kbps 160x120) + one audio stream
make mbr-2video-wmv2-wmav2-20s.wmv \
  -f lavfi -i "$(video_src 320x240 20)" -f lavfi -i "$(audio_src 20)" \
  -filter_complex "[0:v]split=2[hi][lo0];[lo0]scale=160:120[lo]" \
  -map "[hi]" -map "[lo]" -map 1:a \
  -c:v wmv2 -b:v:0 300k -b:v:1 80k -g 50 -c:a wmav2 -b:a 48k -ac 2

# live-style stream (asf_stream muxer: broadcast header, Data Object size 50)
FORMAT=asf_stream make stream-wmv2-wmav2-20s.asf \
  -f lavfi -i "$(video_src 320x240 20)" -f lavfi -i "$(audio_src 20)" \
  -c:v wmv2 -b:v 300k -g 50 -c:a wmav2 -b:a 64k -ac 2

# H.264 + AAC in ASF
make av-h264-aac-20s.asf \
  -f lavfi -i "$(video_src 320x240 20)" -f lavfi -i "$(audio_src 20)" \
  -c:v libx264 -preset veryfast -b:v 300k -g 50 -pix_fmt yuv420p -c:a aac -b:a 64k -ac 2
