# scripts/e2e/lib.sh: the parts that the test ISO builders share.
#
# Sourced (not run) by scripts/make-live-iso.sh, scripts/make-flatcar-iso.sh,
# scripts/make-debian-live-iso.sh and scripts/make-ubuntu-style-iso.sh, each
# from its own directory:
#
#   e2e_prog=make-live-iso            # the prefix of log and error lines
#   . "$(dirname "$0")/e2e/lib.sh"
#
# It defines functions only and sets no options: the caller has
# "set -euo pipefail" on. The functions that find things set globals the
# callers then use, named below.
#
#   e2e_parse_args "$@"          one argument, OUT.iso, into $out (usage: exit 2)
#   log MSG, die MSG             "$e2e_prog: MSG" / "$e2e_prog: error: MSG" on stderr
#   need_files FILE...           die unless every FILE exists
#   need_tools TOOL...           die unless every TOOL is on $PATH
#   need_busybox_sha256          die unless /bin/busybox has a sha256sum applet
#   e2e_init_cache               $cache: ISOBUILD_E2E_CACHE (default
#                                ${TMPDIR:-/tmp}/isobuild-e2e-cache), made absolute
#   fetch_deb PKG DIR            PKG's .deb, downloaded once into DIR, unpacked into DIR/root
#   e2e_fetch_kernel             $kpkg, $vmlinuz: ISOBUILD_E2E_KERNEL_PKG, or what
#                                linux-image-cloud-amd64 depends on, in $cache/deb/$kpkg
#   e2e_initrd_virtio_blk RD     the virtio block driver modules, in RD/lib/modules/e2e
#   e2e_kernel                   $vmlinuz: ISOBUILD_E2E_VMLINUZ ($kpkg empty) if set,
#                                else e2e_init_cache and e2e_fetch_kernel
#   e2e_find_ignition            $ign, $ign_version: ISOBUILD_E2E_IGNITION, the
#                                installed ignition package's binary, or the package's
#                                binary downloaded into $cache/deb/ignition
#   e2e_make_work                $work, a temporary directory removed on exit
#   e2e_initrd_base RD INIT [DIR...]   the initramfs skeleton in RD: the common
#                                directories and DIRs, /bin/busybox, INIT as /init
#   e2e_initrd_ignition RD       setfiles, $ign as /usr/bin/ignition, the libraries
#                                ldd names for it, /etc/isobuild-e2e-ignition-version
#   e2e_pack_cpio DIR OUT LEVEL  DIR as a gzip (-LEVEL) newc cpio in OUT
#   e2e_copy_isolinux DIR        isolinux.bin and ldlinux.c32 into DIR
#   e2e_check_mbr_signature ISO  die unless ISO ends its first sector with 55 aa
#   e2e_begin_output             $tmp_out next to $out (its directory made), removed on
#                                exit with $work; e2e_finish_output moves it to $out
#
# The cache layout ($cache/deb/PKG/{*.deb,root/,download.log,.done}) is
# shared by all three scripts.

e2e_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { echo "$e2e_prog: $*" >&2; }
die() { echo "$e2e_prog: error: $*" >&2; exit 1; }

e2e_parse_args() {
  usage() { echo "usage: $0 OUT.iso" >&2; exit 2; }
  [ $# -eq 1 ] || usage
  case $1 in -h|--help) usage ;; esac
  out=$1
}

need_files() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || die "$f is missing (install the packages listed at the top of $0)"
  done
}

need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool not found (install the packages listed at the top of $0)"
  done
}

# The probe /init scripts hash what they find with busybox sha256sum.
need_busybox_sha256() {
  # grep reads the whole list (no -q): with pipefail, a grep that quits at
  # the first match can kill busybox with SIGPIPE and fail the check.
  /bin/busybox --list | grep -x sha256sum >/dev/null || die "/bin/busybox has no sha256sum applet (install busybox-static)"
}

e2e_init_cache() {
  cache=${ISOBUILD_E2E_CACHE:-${TMPDIR:-/tmp}/isobuild-e2e-cache}
  mkdir -p "$cache"
  cache=$(cd "$cache" && pwd)
}

# fetch_deb PKG DIR: downloads PKG's .deb into DIR once and unpacks it into
# DIR/root. apt-get download needs no root; as root it warns that the
# download is unsandboxed, which is harmless here.
fetch_deb() {
  local pkg=$1 dir=$2
  if [ -e "$dir/.done" ]; then return; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  log "downloading $pkg into $dir"
  if ! (cd "$dir" && apt-get download -q "$pkg" >"$dir/download.log" 2>&1); then
    cat "$dir/download.log" >&2
    die "apt-get download $pkg failed (run apt-get update?)"
  fi
  grep -v 'unsandboxed as root' "$dir/download.log" >&2 || true
  local deb
  for deb in "$dir"/*.deb; do break; done
  [ -f "$deb" ] || die "apt-get download $pkg left no .deb in $dir"
  dpkg-deb -x "$deb" "$dir/root"
  touch "$dir/.done"
}

# e2e_fetch_kernel: sets kpkg (the package) and vmlinuz (its kernel image,
# in the cache).
e2e_fetch_kernel() {
  kpkg=${ISOBUILD_E2E_KERNEL_PKG:-}
  if [ -z "$kpkg" ]; then
    kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
      awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
    [ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 (run apt-get update, or set ISOBUILD_E2E_KERNEL_PKG)"
  fi
  fetch_deb "$kpkg" "$cache/deb/$kpkg"
  for vmlinuz in "$cache/deb/$kpkg"/root/boot/vmlinuz-*; do break; done
  [ -f "$vmlinuz" ] || die "no /boot/vmlinuz-* in $kpkg"
}

# e2e_kernel: sets vmlinuz to ISOBUILD_E2E_VMLINUZ when that is set (kpkg
# is then empty; tests that never boot the image pass a stand-in), else
# downloads the kernel package as e2e_fetch_kernel does.
e2e_kernel() {
  if [ -n "${ISOBUILD_E2E_VMLINUZ:-}" ]; then
    vmlinuz=$ISOBUILD_E2E_VMLINUZ
    kpkg=
    [ -f "$vmlinuz" ] || die "ISOBUILD_E2E_VMLINUZ=$vmlinuz is not a file"
    return
  fi
  e2e_init_cache
  e2e_fetch_kernel
}

# e2e_find_ignition: sets ign (the binary) and ign_version (the first line
# of its -version output).
e2e_find_ignition() {
  ign=${ISOBUILD_E2E_IGNITION:-/usr/lib/dracut/modules.d/30ignition/ignition}
  if [ ! -x "$ign" ]; then
    [ -z "${ISOBUILD_E2E_IGNITION:-}" ] || die "ISOBUILD_E2E_IGNITION=$ign is not executable"
    fetch_deb ignition "$cache/deb/ignition"
    ign=$cache/deb/ignition/root/usr/lib/dracut/modules.d/30ignition/ignition
    [ -x "$ign" ] || die "the ignition package has no $ign"
  fi
  ign_version=$("$ign" -version 2>&1 | head -n 1 || true)
}

e2e_make_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/$e2e_prog.XXXXXX")
  trap 'rm -rf "$work"' EXIT
}

# e2e_initrd_base RD INIT [DIR...]: RD's directories (the common ones and
# DIRs, relative to RD), busybox, and INIT installed as RD/init.
e2e_initrd_base() {
  local rd=$1 init=$2 d
  shift 2
  mkdir -p "$rd"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp}
  for d in "$@"; do mkdir -p "$rd/$d"; done
  cp /bin/busybox "$rd/bin/busybox"
  install -m 0755 "$init" "$rd/init"
}

# e2e_initrd_ignition RD: the Ignition part of an initramfs, from
# e2e_find_ignition's $ign and $ign_version. The scripts' own setfiles stub
# goes to /usr/sbin/setfiles.
e2e_initrd_ignition() {
  local rd=$1 ldd_out missing libs lib
  install -m 0755 "$e2e_lib_dir/setfiles" "$rd/usr/sbin/setfiles"
  install -m 0755 "$ign" "$rd/usr/bin/ignition"
  # The libraries the dynamically linked Ignition binary needs (libblkid,
  # libc, the loader), at the paths ldd reports. This expects Debian's
  # dynamically linked build: anything ldd cannot resolve would only show up
  # as a failing /init in the guest, so stop here with the reason instead.
  if ! ldd_out=$(ldd "$ign" 2>&1); then
    die "$ign is statically linked or not an executable (ldd: $(echo "$ldd_out" | head -n 1 | sed 's/^[[:space:]]*//')); this script copies the libraries of a dynamically linked Ignition (Debian's) into the initramfs: use the ignition package, or set ISOBUILD_E2E_IGNITION to such a build"
  fi
  case $ldd_out in
    *"statically linked"*|*"not a dynamic executable"*)
      die "$ign is statically linked; this script copies the libraries of a dynamically linked Ignition (Debian's) into the initramfs: use the ignition package, or set ISOBUILD_E2E_IGNITION to such a build" ;;
  esac
  if missing=$(printf '%s\n' "$ldd_out" | grep -F 'not found'); then
    die "$ign needs libraries that ldd cannot find: $(printf '%s\n' "$missing" | awk '{ print $1 }' | paste -sd ' ')"
  fi
  libs=$(printf '%s\n' "$ldd_out" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]+ \(/ { print $1 }')
  [ -n "$libs" ] || die "ldd lists no libraries for $ign: $ldd_out"
  for lib in $libs; do
    [ -f "$lib" ] || die "$ign: library $lib (from ldd) is not a file"
    mkdir -p "$rd$(dirname "$lib")"
    cp -L "$lib" "$rd$lib"
  done
  echo "$ign_version" > "$rd/etc/isobuild-e2e-ignition-version"
}

# e2e_initrd_virtio_blk RD: the kernel modules of the virtio block driver
# (modules in Debian's cloud kernel), from e2e_fetch_kernel's package, in
# RD/lib/modules/e2e with their load order in RD/lib/modules/e2e/order, for
# a probe /init that writes to a scratch disk.
e2e_initrd_virtio_blk() {
  local rd=$1 kdir m f
  for kdir in "$cache/deb/$kpkg"/root/lib/modules/*/kernel; do break; done
  [ -d "$kdir" ] || die "no lib/modules/*/kernel in $kpkg"
  mkdir -p "$rd/lib/modules/e2e"
  : > "$rd/lib/modules/e2e/order"
  for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_modern_dev virtio/virtio_pci_legacy_dev virtio/virtio_pci block/virtio_blk; do
    f=$kdir/drivers/$m.ko
    [ -f "$f" ] || die "$kpkg has no $f (a kernel with the driver built in needs no module: set ISOBUILD_E2E_KERNEL_PKG to a Debian cloud kernel)"
    cp "$f" "$rd/lib/modules/e2e/"
    echo "${m#*/}.ko" >> "$rd/lib/modules/e2e/order"
  done
}

# e2e_pack_cpio DIR OUT LEVEL: newc with owner 0:0 and fixed mtimes, so no
# root or mknod is needed; entries sorted, gzip without name or time.
e2e_pack_cpio() {
  local dir=$1 dest=$2 level=$3
  (cd "$dir" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
    gzip -n "-$level" > "$dest"
}

e2e_copy_isolinux() {
  cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$1/"
}

e2e_check_mbr_signature() {
  local sig
  sig=$(od -An -tx1 -j 510 -N 2 "$1" | tr -d ' \n')
  [ "$sig" = 55aa ] || die "the new ISO has no MBR signature (found $sig)"
}

e2e_begin_output() {
  mkdir -p "$(dirname "$out")"
  tmp_out="$out.tmp.$$"
  trap 'rm -rf "$work" "$tmp_out"' EXIT
}

e2e_finish_output() {
  mv -f "$tmp_out" "$out"
}
