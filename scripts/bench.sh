#!/usr/bin/env bash
# Wall time and peak RSS of `isobuild build -o` on a CoreOS-layout ISO of
# at least 1 GiB, against `cp` of the same file. Fails if isobuild's peak
# RSS grows with the ISO size (compared with a 64 MiB ISO).
#
#   scripts/bench.sh              # 1 GiB rootfs
#   BENCH_SIZE=4294967296 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
size=${BENCH_SIZE:-1073741824}
[ -x /usr/bin/time ] || { echo "bench.sh needs GNU time (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/isobuild-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

go build -o "$work/isobuild" ./cmd/isobuild
go run ./scripts/mkiso -rootfs-size "$size" "$work/base.iso" >/dev/null
go run ./scripts/mkiso -rootfs-size 67108864 "$work/small.iso" >/dev/null
echo "base ISO: $(stat -c %s "$work/base.iso") bytes"

# measure LABEL CMD...: prints wall seconds and peak RSS, sets $rss (KiB).
measure() {
  local label=$1; shift
  rm -f "$work"/out*.iso
  sync
  /usr/bin/time -f "%e %M" -o "$work/time" "$@"
  read -r secs rss < "$work/time"
  printf '%-34s %7.2f s %9d KiB peak RSS\n' "$label" "$secs" "$rss"
}

build=("$work/isobuild" build -q --butane examples/ssh-hostname.bu --karg-append console=ttyS0,115200n8)
# isobuild fsyncs its output before linking it into place; so does the cp run.
measure "cp + sync" sh -c 'cp "$1" "$2" && sync "$2"' sh "$work/base.iso" "$work/out-cp.iso"
measure "isobuild build -o FILE" "${build[@]}" -o "$work/out.iso" "$work/base.iso"
big=$rss
measure "isobuild build -o - > FILE" sh -c 'out=$1; shift; "$@" > "$out"' sh "$work/out-stream.iso" "${build[@]}" -o - "$work/base.iso"
measure "isobuild build -o FILE (64 MiB)" "${build[@]}" -o "$work/out-small.iso" "$work/small.iso"
small=$rss

# Peak RSS must not grow with the image: allow 16 MiB of noise.
if [ "$big" -gt $((small + 16384)) ]; then
  echo "FAIL: peak RSS grows with ISO size: ${big} KiB for $(stat -c %s "$work/base.iso") bytes vs ${small} KiB for 64 MiB" >&2
  exit 1
fi
echo "peak RSS independent of ISO size: ${big} KiB vs ${small} KiB"
