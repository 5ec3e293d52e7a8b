#!/usr/bin/env bash
# Makes the small sample media bundled in media/ (served by the embedded default config: "vod" on ./media and
# "live" looping media/sample.wmv). Synthetic test pattern + tone, made with ffmpeg; rerun to regenerate.
# Usage: scripts/make-samples.sh [outdir]     (default: media/)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$here/media}"
mkdir -p "$out"
ff=(ffmpeg -hide_banner -loglevel error -nostdin -y)

# 30 s, 320x240 WMV2 ~240 kbps + WMA2 48 kbps stereo, a key frame every 2 s (live joins start fast)
"${ff[@]}" -f lavfi -i "testsrc2=size=320x240:rate=25:duration=30" \
  -f lavfi -i "sine=frequency=660:beep_factor=2:sample_rate=44100:duration=30" \
  -c:v wmv2 -b:v 240k -g 50 -c:a wmav2 -b:a 48k -ac 2 \
  -metadata title="mss sample" -f asf "$out/.sample.wmv.tmp"
mv -f "$out/.sample.wmv.tmp" "$out/sample.wmv"

# 10 s WMA2 audio only
"${ff[@]}" -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=44100:duration=10" \
  -c:a wmav2 -b:a 48k -ac 2 -metadata title="mss sample audio" -f asf "$out/.sample.wma.tmp"
mv -f "$out/.sample.wma.tmp" "$out/sample.wma"

ls -l "$out"/sample.*
