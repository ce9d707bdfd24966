#!/usr/bin/env bash
# Speed and memory of isobuild on a CoreOS-layout ISO of at least 1 GiB,
# measured against cp in the same run:
#
#   * `build -o FILE` against `cp` + fsync of the same image, as the median
#     over ROUNDS interleaved rounds of the ratio of the two times in a round
#     (target: at most BENCH_MAX_RATIO, 1.05 by default);
#   * `build -o - > FILE`, for the streaming path;
#   * in-place edits (`iso kargs modify`, `iso ignition embed -f`), whose
#     time must not depend on the image size (target: under
#     BENCH_MAX_INPLACE_MS, 50 ms by default);
#   * peak RSS, which must not grow with the image (compared with a 64 MiB
#     image).
#
# It fails when a target is missed.
#
#   scripts/bench.sh                           # 1 GiB rootfs, 11 rounds
#   BENCH_SIZE=4294967296 BENCH_ROUNDS=9 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
size=${BENCH_SIZE:-1073741824}
rounds=${BENCH_ROUNDS:-11}
max_ratio=${BENCH_MAX_RATIO:-1.05}
max_inplace_ms=${BENCH_MAX_INPLACE_MS:-50}
[ -x /usr/bin/time ] || { echo "bench.sh needs GNU time (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/isobuild-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

go build -o "$work/isobuild" ./cmd/isobuild
go run ./scripts/mkiso -rootfs-size "$size" "$work/base.iso" >/dev/null
go run ./scripts/mkiso -rootfs-size 67108864 "$work/small.iso" >/dev/null
sync
echo "base ISO: $(stat -c %s "$work/base.iso") bytes, $rounds interleaved rounds"

# run LABEL CMD...: runs CMD once after a sync, appends its wall time in
# milliseconds to $work/LABEL.ms and its peak RSS in KiB to $work/LABEL.rss.
run() {
  local label=$1; shift
  sync
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$@"
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000)) | awk '{printf "%.3f\n", $1 / 1000}' >> "$work/$label.ms"
  cat "$work/rss" >> "$work/$label.rss"
}

# median FILE: the median of the numbers in FILE.
median() {
  sort -g "$1" | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

build=("$work/isobuild" build -q --butane examples/ssh-hostname.bu --karg-append console=ttyS0,115200n8)
cp "$work/base.iso" "$work/inplace.iso"
# big LABEL: one measurement of a 1 GiB write, then its output is removed.
big() {
  case $1 in
    # isobuild syncs its output before linking it into place; so does this cp.
    cp) run cp sh -c 'cp "$1" "$2" && sync "$2"' sh "$work/base.iso" "$work/out-cp.iso";;
    build) run build "${build[@]}" -o "$work/out.iso" "$work/base.iso";;
    stream) run stream sh -c 'out=$1; shift; "$@" > "$out" && sync "$out"' sh "$work/out-stream.iso" "${build[@]}" -o - "$work/base.iso";;
  esac
  rm -f "$work"/out*.iso
}
order=(cp build stream)
for i in $(seq "$rounds"); do
  run inplace-kargs "$work/isobuild" iso kargs modify -a "round=$i" "$work/inplace.iso"
  run inplace-embed "$work/isobuild" iso ignition embed -f -i examples/files/isobuild-hello.conf "$work/inplace.iso"
  run small "${build[@]}" -o "$work/out-small.iso" "$work/small.iso"
  rm -f "$work/out-small.iso"
  # The three 1 GiB writes take turns at going first, so that none of them
  # always meets the file system in the same state.
  for j in 0 1 2; do
    big "${order[$(((i + j) % 3))]}"
  done
done

printf '%-36s %10s %12s\n' "median of $rounds" "ms" "peak RSS KiB"
for label in cp build stream inplace-kargs inplace-embed small; do
  case $label in
    cp) what="cp + fsync (1 GiB)";;
    build) what="isobuild build -o FILE";;
    stream) what="isobuild build -o - > FILE + fsync";;
    inplace-kargs) what="isobuild iso kargs modify (in place)";;
    inplace-embed) what="isobuild iso ignition embed (in place)";;
    small) what="isobuild build -o FILE (64 MiB)";;
  esac
  printf '%-36s %10.1f %12d\n' "$what" "$(median "$work/$label.ms")" "$(median "$work/$label.rss")"
done

for label in cp build stream; do
  printf '%-8s rounds (ms): %s\n' "$label" "$(paste -sd' ' "$work/$label.ms")"
done

fail=0
# ratio A B: the median over the rounds of A's time divided by B's time in
# the same round. Pairing runs of one round cancels the slow drift of a
# shared machine's disk, which moves both.
ratio() {
  paste "$work/$1.ms" "$work/$2.ms" | awk '{print $1 / $2}' > "$work/ratio"
  median "$work/ratio" | awk '{printf "%.3f", $1}'
}
build_ratio=$(ratio build cp)
stream_ratio=$(ratio stream cp)
echo "build -o FILE / (cp + fsync): $build_ratio (target <= $max_ratio); build -o - / (cp + fsync): $stream_ratio (medians of the rounds' ratios)"
if awk -v r="$build_ratio" -v m="$max_ratio" 'BEGIN {exit !(r > m)}'; then
  echo "FAIL: build -o is $build_ratio times cp + fsync, more than $max_ratio" >&2
  fail=1
fi
for label in inplace-kargs inplace-embed; do
  ms=$(median "$work/$label.ms")
  if awk -v t="$ms" -v m="$max_inplace_ms" 'BEGIN {exit !(t > m)}'; then
    echo "FAIL: $label takes $ms ms on a $(stat -c %s "$work/base.iso")-byte image, more than $max_inplace_ms ms" >&2
    fail=1
  fi
done
# Peak RSS must not grow with the image: allow 16 MiB of noise.
big=$(median "$work/build.rss")
small=$(median "$work/small.rss")
if [ "$big" -gt $((small + 16384)) ]; then
  echo "FAIL: peak RSS grows with ISO size: ${big} KiB for $(stat -c %s "$work/base.iso") bytes vs ${small} KiB for 64 MiB" >&2
  fail=1
else
  echo "peak RSS independent of ISO size: ${big} KiB vs ${small} KiB"
fi
exit $fail
