#!/usr/bin/env bash
# Speed and memory of isobuild on ISOs of at least 1 GiB, measured against
# cp (and, for Flatcar, xorriso) in the same run. Two sections:
#
# CoreOS layout (embed areas; scripts/mkiso builds the image):
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
# Flatcar layout (no embed areas: build appends /flatcar/isobuild.img and a
# new /syslinux/syslinux.cfg and repoints the metadata). The base image is
# made here with xorriso -as mkisofs from a tree like Flatcar's ISO
# (isolinux/, syslinux/syslinux.cfg, flatcar/vmlinuz, flatcar/cpio.gz of
# BENCH_SIZE bytes, mostly zeros). After one unrecorded round, in each of
# BENCH_FLATCAR_ROUNDS rounds (6 by default, fewer than ROUNDS: the xorriso
# runs are the slow part), each in another of the six orders of these
# three:
#
#   * `build --butane examples/flatcar-live.bu -o FILE` (which fsyncs FILE);
#   * `cp` + fsync of the base image;
#   * xorriso making the same change, `xorriso -indev BASE -outdev NEW
#     -boot_image any replay -map X /flatcar/isobuild.img -map Y
#     /syslinux/syslinux.cfg -commit` + fsync of NEW, where X and Y were
#     extracted from a build's output beforehand (outside the timing; the
#     first round checks that NEW holds them);
#
# Targets, as medians of the rounds' ratios: build at most
# BENCH_FLATCAR_MAX_CP_RATIO (1.2) times cp + fsync, xorriso at least
# BENCH_FLATCAR_MIN_XORRISO_SPEEDUP (2.5) times slower than build; and the
# build's peak RSS must not grow with the image (compared with a 64 MiB
# cpio.gz).
#
# The images of both sections live in RAM (a directory in /dev/shm, when it
# is a tmpfs with room for them; for the Flatcar section, as root, a tmpfs
# with huge pages: see fcimg below) unless BENCH_DIR names another
# directory (or "disk": next to the built binary, under TMPDIR). On a VM
# whose balloon device reports free pages to the host, run it with that
# paused, as .ci/run does: each GiB freed goes back to the host within
# seconds, and whichever run next writes a GiB pays for getting it back
# (0.5 to 4 s, at random). Every tool measured
# moves the same 1 GiB, and on the throttled virtual disk of a CI machine
# each of them runs at the disk's pace, whose swings from one run to the
# next (seen there: cp alone from 0.94 s to 1.52 s within one section)
# are larger than the differences being measured, the work each tool does
# on top of the copy. On a disk, each Flatcar run starts after a sync and
# BENCH_SETTLE seconds (2; 0 on tmpfs) of quiet, which lessens the slowing
# of a run by the write-back of the previous ones.
#
# It fails when a target is missed. BENCH_ONLY=coreos or BENCH_ONLY=flatcar
# runs one section only.
#
#   scripts/bench.sh                           # 1 GiB, 11 + 6 rounds
#   BENCH_SIZE=4294967296 BENCH_ROUNDS=9 scripts/bench.sh
#   BENCH_ONLY=flatcar BENCH_FLATCAR_ROUNDS=12 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
size=${BENCH_SIZE:-1073741824}
rounds=${BENCH_ROUNDS:-11}
max_ratio=${BENCH_MAX_RATIO:-1.05}
max_inplace_ms=${BENCH_MAX_INPLACE_MS:-50}
fc_rounds=${BENCH_FLATCAR_ROUNDS:-6}
fc_max_cp_ratio=${BENCH_FLATCAR_MAX_CP_RATIO:-1.2}
fc_min_xorriso_speedup=${BENCH_FLATCAR_MIN_XORRISO_SPEEDUP:-2.5}
only=${BENCH_ONLY:-}
case $only in
  ''|coreos|flatcar) ;;
  *) echo "bench.sh: BENCH_ONLY must be coreos or flatcar, not $only" >&2; exit 2;;
esac
[ -x /usr/bin/time ] || { echo "bench.sh needs GNU time (apt-get install time)" >&2; exit 1; }
if [ "$only" != coreos ]; then
  for f in /usr/lib/ISOLINUX/isolinux.bin /usr/lib/ISOLINUX/isohdpfx.bin /usr/lib/syslinux/modules/bios/ldlinux.c32; do
    [ -e "$f" ] || { echo "bench.sh: $f is missing (apt-get install isolinux syslinux-common)" >&2; exit 1; }
  done
  command -v xorriso >/dev/null || { echo "bench.sh needs xorriso (apt-get install xorriso)" >&2; exit 1; }
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/isobuild-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# img: where the images of both sections live (see above); medium says
# which it is in the report.
img=$work medium="the disk of $work"
case ${BENCH_DIR:-auto} in
  auto)
    # tmpfs when it has room for a base, a small image, the in-place copy
    # and the three outputs of a round, with some to spare.
    if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] &&
      [ $(($(stat -f -c '%a * %S' /dev/shm))) -gt $((5 * size + 1073741824)) ]; then
      img=$(mktemp -d /dev/shm/isobuild-bench.XXXXXX)
      medium="tmpfs ($img)"
    fi;;
  disk) ;;
  *) img=$(mktemp -d "$BENCH_DIR/isobuild-bench.XXXXXX"); medium=$img;;
esac
# fcimg: where the Flatcar section's images live. As root (and with
# BENCH_DIR unset) that is a tmpfs of its own mounted with huge=always, so
# that a GiB written costs 512 page allocations instead of 262144. The
# comparison there is with xorriso, whose work on top of the copy is done
# in user space (reading and writing the image through its buffers): on a
# VM, a fresh 4 KiB page costs microseconds of host faulting, the same for
# every writer, and that constant is half of a 1 GiB copy on 4 KiB tmpfs
# pages, squeezing every ratio towards 1. Large pages are also what ext4
# and XFS give the page cache on current kernels (large folios), where a
# user's image is written. Without root, the Flatcar section shares $img.
fcimg=$img fcmedium=$medium
if [ "${BENCH_DIR:-auto}" = auto ] && [ "$(id -u)" = 0 ]; then
  fcimg=$(mktemp -d "${TMPDIR:-/tmp}/isobuild-bench-huge.XXXXXX")
  if mount -t tmpfs -o "size=$((5 * size + 1073741824)),huge=always" isobuild-bench "$fcimg" 2>"$work/mount.log"; then
    fcmedium="tmpfs with huge pages ($fcimg)"
  else
    echo "bench.sh: could not mount a tmpfs with huge pages ($(cat "$work/mount.log")); the Flatcar section runs on $medium" >&2
    rmdir "$fcimg"
    fcimg=$img
  fi
fi
cleanup() {
  [ "$fcimg" = "$img" ] || { umount "$fcimg" && rmdir "$fcimg"; }
  rm -rf "$work" "$img"
}
trap cleanup EXIT
settle=${BENCH_SETTLE:-2}
case $medium in tmpfs*) settle=${BENCH_SETTLE:-0};; esac
fcsettle=${BENCH_SETTLE:-2}
case $fcmedium in tmpfs*) fcsettle=${BENCH_SETTLE:-0};; esac

go build -o "$work/isobuild" ./cmd/isobuild

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

# ratio A B: the median over the rounds of A's time divided by B's time in
# the same round. Pairing runs of one round cancels the slow drift of a
# shared machine's disk, which moves both.
ratio() {
  paste "$work/$1.ms" "$work/$2.ms" | awk '{print $1 / $2}' > "$work/ratio"
  median "$work/ratio" | awk '{printf "%.3f", $1}'
}

# rss_flat BIG SMALL IMAGE WHAT: fails (returns 1) when the median peak RSS
# of the runs labelled BIG (on IMAGE) is more than 16 MiB (noise) above that
# of the runs labelled SMALL (on a 64 MiB image).
rss_flat() {
  local big small
  big=$(median "$work/$1.rss")
  small=$(median "$work/$2.rss")
  if [ "$big" -gt $((small + 16384)) ]; then
    echo "FAIL: peak RSS grows with ISO size ($4): ${big} KiB for $(stat -c %s "$3") bytes vs ${small} KiB for 64 MiB" >&2
    return 1
  fi
  echo "peak RSS independent of ISO size ($4): ${big} KiB vs ${small} KiB"
}

fail=0

coreos() {
  go run ./scripts/mkiso -rootfs-size "$size" "$img/base.iso" >/dev/null
  go run ./scripts/mkiso -rootfs-size 67108864 "$img/small.iso" >/dev/null
  sync
  echo "== CoreOS layout: base ISO $(stat -c %s "$img/base.iso") bytes, $rounds interleaved rounds, on $medium"

  local build=("$work/isobuild" build -q --butane examples/ssh-hostname.bu --karg-append console=ttyS0,115200n8)
  cp "$img/base.iso" "$img/inplace.iso"
  # big LABEL: one measurement of a 1 GiB write, then its output is removed.
  big() {
    case $1 in
      # isobuild syncs its output before linking it into place; so does this cp.
      cp) run cp sh -c 'cp "$1" "$2" && sync "$2"' sh "$img/base.iso" "$img/out-cp.iso";;
      build) run build "${build[@]}" -o "$img/out.iso" "$img/base.iso";;
      stream) run stream sh -c 'out=$1; shift; "$@" > "$out" && sync "$out"' sh "$img/out-stream.iso" "${build[@]}" -o - "$img/base.iso";;
    esac
    rm -f "$img"/out*.iso
  }
  local order=(cp build stream) i j
  # One unrecorded round first: the first writes of a fresh machine (and of
  # fresh tmpfs pages) are the slowest, whichever tool makes them.
  for j in 0 1 2; do big "${order[$j]}"; done
  rm -f "$work"/{cp,build,stream}.{ms,rss}
  for i in $(seq "$rounds"); do
    run inplace-kargs "$work/isobuild" iso kargs modify -a "round=$i" "$img/inplace.iso"
    run inplace-embed "$work/isobuild" iso ignition embed -f -i examples/files/isobuild-hello.conf "$img/inplace.iso"
    run small "${build[@]}" -o "$img/out-small.iso" "$img/small.iso"
    rm -f "$img/out-small.iso"
    # The three 1 GiB writes take turns at going first, so that none of them
    # always meets the file system in the same state.
    for j in 0 1 2; do
      big "${order[$(((i + j) % 3))]}"
    done
  done

  printf '%-36s %10s %12s\n' "median of $rounds" "ms" "peak RSS KiB"
  local label what
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

  local build_ratio stream_ratio ms
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
      echo "FAIL: $label takes $ms ms on a $(stat -c %s "$img/base.iso")-byte image, more than $max_inplace_ms ms" >&2
      fail=1
    fi
  done
  rss_flat build small "$img/base.iso" "CoreOS build -o" || fail=1
  rm -f "$img/base.iso" "$img/small.iso" "$img/inplace.iso"
}

# mkflatcar CPIO_SIZE OUT: writes a Flatcar-layout ISO (as
# scripts/make-flatcar-iso.sh lays it out, without a bootable kernel and
# initramfs) whose flatcar/cpio.gz is CPIO_SIZE bytes: sparse, with 1 MiB of
# random data at its start. xorriso reads and writes all of it.
mkflatcar() {
  local tree=$work/fc-tree
  rm -rf "$tree"
  mkdir -p "$tree"/{isolinux,syslinux,flatcar}
  cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$tree/isolinux/"
  echo "INCLUDE /syslinux/syslinux.cfg" > "$tree/isolinux/isolinux.cfg"
  printf 'default flatcar\nlabel flatcar\n  kernel /flatcar/vmlinuz\n  append initrd=/flatcar/cpio.gz flatcar.autologin\n' > "$tree/syslinux/syslinux.cfg"
  head -c 4194304 /dev/urandom > "$tree/flatcar/vmlinuz"
  truncate -s "$1" "$tree/flatcar/cpio.gz"
  head -c 1048576 /dev/urandom | dd of="$tree/flatcar/cpio.gz" conv=notrunc status=none
  xorriso -as mkisofs -l -r -J -V CDROM -o "$2" \
    -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
    -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin "$tree" > "$work/xorriso.log" 2>&1 ||
    { cat "$work/xorriso.log" >&2; echo "bench.sh: xorriso could not make $2" >&2; exit 1; }
  rm -rf "$tree"
}

flatcar() {
  local t_start=$SECONDS fcdir=$fcimg
  local base=$fcdir/fc-build.iso
  mkflatcar "$size" "$base"
  mkflatcar 67108864 "$fcdir/fc-small.iso"
  sync
  echo "== Flatcar layout (no embed areas): base ISO $(stat -c %s "$base") bytes, $fc_rounds interleaved rounds, on $fcmedium"

  local build=("$work/isobuild" build -q --butane examples/flatcar-live.bu)
  # The files build appends, for xorriso to add in the same places.
  "${build[@]}" -o "$fcdir/fc-out.iso" "$base"
  xorriso -osirrox on -indev stdio:"$fcdir/fc-out.iso" \
    -extract /flatcar/isobuild.img "$work/fc-isobuild.img" \
    -extract /syslinux/syslinux.cfg "$work/fc-syslinux.cfg" > "$work/xorriso.log" 2>&1 ||
    { cat "$work/xorriso.log" >&2; echo "bench.sh: xorriso could not extract isobuild's files from $fcdir/fc-out.iso" >&2; exit 1; }
  rm -f "$fcdir/fc-out.iso"
  grep -q 'initrd=/flatcar/cpio.gz,/flatcar/isobuild.img' "$work/fc-syslinux.cfg" ||
    { cat "$work/fc-syslinux.cfg" >&2; echo "bench.sh: isobuild's syslinux.cfg does not load /flatcar/isobuild.img" >&2; exit 1; }

  # fcbig LABEL: one measurement of a 1 GiB write; the round removes the
  # outputs at its end.
  fcbig() {
    # A 1 GiB fsync can leave the disk slow for a while behind the guest's
    # back (on a VM, the host may still be writing it back), which slows the
    # next run: a pause first.
    sync
    sleep "$fcsettle"
    case $1 in
      # build fsyncs its output itself.
      build) run fc-build "${build[@]}" -o "$fcdir/out.iso" "$base";;
      cp) run fc-cp sh -c 'cp "$1" "$2" && sync "$2"' sh "$base" "$fcdir/out-cp.iso";;
      xorriso) run fc-xorriso sh -c 'xorriso -indev stdio:"$1" -outdev stdio:"$2" -boot_image any replay \
          -map "$3" /flatcar/isobuild.img -map "$4" /syslinux/syslinux.cfg -commit > "$5" 2>&1 &&
          sync "$2" || { cat "$5" >&2; exit 1; }' \
        sh "$base" "$fcdir/out-xorriso.iso" "$work/fc-isobuild.img" "$work/fc-syslinux.cfg" "$work/xorriso.log"
        if [ ! -e "$work/fc-xorriso-checked" ]; then
          # Once: xorriso's image holds the same two files.
          xorriso -osirrox on -indev stdio:"$fcdir/out-xorriso.iso" \
            -extract /flatcar/isobuild.img "$work/fc-check.img" \
            -extract /syslinux/syslinux.cfg "$work/fc-check.cfg" > "$work/xorriso.log" 2>&1 &&
            cmp -s "$work/fc-check.img" "$work/fc-isobuild.img" && cmp -s "$work/fc-check.cfg" "$work/fc-syslinux.cfg" ||
            { echo "bench.sh: xorriso's image does not hold isobuild's /flatcar/isobuild.img and /syslinux/syslinux.cfg" >&2; exit 1; }
          rm -f "$work/fc-check.img" "$work/fc-check.cfg"
          touch "$work/fc-xorriso-checked"
        fi;;
    esac
  }
  # The six orders of the three, one a round: each of the runs compared
  # goes before the other in half of the rounds, and each takes each place
  # in a round equally often (on a VM, a 1 GiB write is often slowed by the
  # ones before it in the round). No run follows the freeing of
  # another's 1 GiB (ext4 with -o discard trims it at the next sync): the
  # outputs go at the end of the round.
  local orders=("cp build xorriso" "xorriso build cp" "build cp xorriso"
    "xorriso cp build" "build xorriso cp" "cp xorriso build") i label
  # One unrecorded round first, as in the CoreOS section (it also checks
  # xorriso's output).
  for label in build cp xorriso; do fcbig "$label"; done
  rm -f "$fcdir"/out*.iso "$work"/fc-{cp,build,xorriso}.{ms,rss}
  for i in $(seq "$fc_rounds"); do
    run fc-small "${build[@]}" -o "$fcdir/out-small.iso" "$fcdir/fc-small.iso"
    for label in ${orders[$(((i - 1) % 6))]}; do
      fcbig "$label"
    done
    rm -f "$fcdir"/out*.iso
  done

  printf '%-36s %10s %12s\n' "median of $fc_rounds" "ms" "peak RSS KiB"
  local label what
  for label in fc-cp fc-build fc-xorriso fc-small; do
    case $label in
      fc-cp) what="cp + fsync (1 GiB Flatcar)";;
      fc-build) what="isobuild build -o FILE (Flatcar)";;
      fc-xorriso) what="xorriso -indev -outdev + fsync";;
      fc-small) what="isobuild build -o FILE (64 MiB)";;
    esac
    printf '%-36s %10.1f %12d\n' "$what" "$(median "$work/$label.ms")" "$(median "$work/$label.rss")"
  done
  for label in fc-cp fc-build fc-xorriso; do
    printf '%-11s rounds (ms): %s\n' "$label" "$(paste -sd' ' "$work/$label.ms")"
  done

  local cp_ratio speedup
  cp_ratio=$(ratio fc-build fc-cp)
  speedup=$(ratio fc-xorriso fc-build)
  echo "Flatcar build -o FILE / (cp + fsync): $cp_ratio (target <= $fc_max_cp_ratio); xorriso / build: $speedup (target >= $fc_min_xorriso_speedup) (medians of the rounds' ratios)"
  if awk -v r="$cp_ratio" -v m="$fc_max_cp_ratio" 'BEGIN {exit !(r > m)}'; then
    echo "FAIL: Flatcar build -o is $cp_ratio times cp + fsync, more than $fc_max_cp_ratio" >&2
    fail=1
  fi
  if awk -v r="$speedup" -v m="$fc_min_xorriso_speedup" 'BEGIN {exit !(r < m)}'; then
    echo "FAIL: Flatcar build -o is only $speedup times faster than xorriso doing the same change, less than $fc_min_xorriso_speedup" >&2
    fail=1
  fi
  rss_flat fc-build fc-small "$base" "Flatcar build -o" || fail=1
  echo "Flatcar section: $((SECONDS - t_start)) s"
}

[ "$only" = flatcar ] || coreos
[ "$only" = coreos ] || flatcar
exit $fail
