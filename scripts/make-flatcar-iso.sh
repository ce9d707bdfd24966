#!/usr/bin/env bash
# make-flatcar-iso.sh OUT.iso
#
# Builds a small, bootable ISO laid out like the Flatcar Container Linux
# ISO (flatcar_production_iso_image.iso), from Debian packages only, for the
# boot tests (scripts/boot-check.sh bios-cd and bios-usb, e2e/flatcar_test.go):
#
#   isolinux/isolinux.bin, ldlinux.c32   ISOLINUX (El Torito, no emulation)
#   isolinux/boot.cat                    the El Torito boot catalog
#   isolinux/isolinux.cfg                "INCLUDE /syslinux/syslinux.cfg"
#   syslinux/syslinux.cfg                Flatcar's menu: default flatcar, label
#                                        flatcar, kernel /flatcar/vmlinuz,
#                                        append initrd=/flatcar/cpio.gz
#                                        flatcar.autologin (+ console, panic)
#   flatcar/vmlinuz                      Debian cloud kernel
#   flatcar/cpio.gz                      gzip newc cpio: busybox, the probe
#                                        /init (scripts/e2e/init-flatcar),
#                                        Debian's real Ignition binary and its
#                                        libraries, a usr.squashfs placeholder
#
# As in Flatcar: one BIOS El Torito entry, an isohybrid MBR only (no GPT, no
# EFI image, no EFI/ directory, no GRUB), Rock Ridge and Joliet, no
# CoreOS embed areas. Differences, all for the tests: "prompt 0" instead of
# "prompt 1" (no wait at the boot: prompt), console=ttyS0,115200n8 panic=-1
# on the append line, and xorriso's -isohybrid-mbr instead of a separate
# isohybrid run (syslinux-utils is not needed). Flatcar's mkisofs run gives
# no -V, so its volume ID is mkisofs' default; this script sets that
# default, CDROM, explicitly (xorriso's own default would be ISOIMAGE).
#
# Environment:
#   ISOBUILD_E2E_CACHE       download cache, shared with make-live-iso.sh
#                            (default ${TMPDIR:-/tmp}/isobuild-e2e-cache)
#   ISOBUILD_E2E_KERNEL_PKG  kernel package (default: what linux-image-cloud-amd64 depends on)
#   ISOBUILD_E2E_IGNITION    Ignition binary (default: the installed ignition package's,
#                            else the package is downloaded into the cache)
#   ISOBUILD_E2E_FLATCAR_VOLID  volume ID (default CDROM)
#
# Needs: apt-get, dpkg-deb, busybox-static, cpio, gzip, xorriso, isolinux,
# syslinux-common. Root is not needed once the packages are installed.
set -euo pipefail

usage() { echo "usage: $0 OUT.iso" >&2; exit 2; }
[ $# -eq 1 ] || usage
case $1 in -h|--help) usage ;; esac
out=$1

here=$(cd "$(dirname "$0")" && pwd)
cache=${ISOBUILD_E2E_CACHE:-${TMPDIR:-/tmp}/isobuild-e2e-cache}
volid=${ISOBUILD_E2E_FLATCAR_VOLID:-CDROM}
export LC_ALL=C

log() { echo "make-flatcar-iso: $*" >&2; }
die() { echo "make-flatcar-iso: error: $*" >&2; exit 1; }

for f in /bin/busybox /usr/lib/ISOLINUX/isolinux.bin /usr/lib/ISOLINUX/isohdpfx.bin \
  /usr/lib/syslinux/modules/bios/ldlinux.c32; do
  [ -e "$f" ] || die "$f is missing (install the packages listed at the top of $0)"
done
for tool in apt-get dpkg-deb cpio gzip xorriso ldd; do
  command -v "$tool" >/dev/null || die "$tool not found (install the packages listed at the top of $0)"
done
/bin/busybox --list | grep -qx sha256sum || die "/bin/busybox has no sha256sum applet (install busybox-static)"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# fetch_deb PKG DIR: downloads PKG's .deb into DIR once and unpacks it into
# DIR/root (the same cache layout as make-live-iso.sh, so both share it).
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

# --- kernel ---------------------------------------------------------------
kpkg=${ISOBUILD_E2E_KERNEL_PKG:-}
if [ -z "$kpkg" ]; then
  kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
  [ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 (run apt-get update, or set ISOBUILD_E2E_KERNEL_PKG)"
fi
fetch_deb "$kpkg" "$cache/deb/$kpkg"
for vmlinuz in "$cache/deb/$kpkg"/root/boot/vmlinuz-*; do break; done
[ -f "$vmlinuz" ] || die "no /boot/vmlinuz-* in $kpkg"

# --- Ignition ---------------------------------------------------------------
ign=${ISOBUILD_E2E_IGNITION:-/usr/lib/dracut/modules.d/30ignition/ignition}
if [ ! -x "$ign" ]; then
  [ -z "${ISOBUILD_E2E_IGNITION:-}" ] || die "ISOBUILD_E2E_IGNITION=$ign is not executable"
  fetch_deb ignition "$cache/deb/ignition"
  ign=$cache/deb/ignition/root/usr/lib/dracut/modules.d/30ignition/ignition
  [ -x "$ign" ] || die "the ignition package has no $ign"
fi
ign_version=$("$ign" -version 2>&1 | head -n 1 || true)

# --- work tree ------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/make-flatcar-iso.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/iso
mkdir -p "$tree"/{isolinux,syslinux,flatcar}

# --- cpio.gz: the probe initramfs -------------------------------------------
rd=$work/initrd
mkdir -p "$rd"/{bin,sbin,usr/bin,usr/sbin,usr/lib/ignition,etc,proc,sys,dev,run,tmp,sysroot}
cp /bin/busybox "$rd/bin/busybox"
install -m 0755 "$here/e2e/init-flatcar" "$rd/init"
install -m 0755 "$here/e2e/setfiles" "$rd/usr/sbin/setfiles"
install -m 0755 "$ign" "$rd/usr/bin/ignition"
# The libraries of the dynamically linked Ignition, at the paths ldd names.
ldd_out=$(ldd "$ign" 2>&1) || die "$ign is statically linked or not an executable (ldd: $(echo "$ldd_out" | head -n 1)); use Debian's ignition package or set ISOBUILD_E2E_IGNITION to a dynamically linked build"
case $ldd_out in
  *"statically linked"*|*"not a dynamic executable"*)
    die "$ign is statically linked; use Debian's ignition package or set ISOBUILD_E2E_IGNITION to a dynamically linked build" ;;
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
# Flatcar's cpio.gz holds etc/ and usr.squashfs (all of /usr); here a small
# placeholder stands in for the squashfs, so that the layout matches and
# bootengine's PXE-mode test (/usr.squashfs exists) would hold.
echo "isobuild e2e placeholder for Flatcar's /usr squashfs" > "$rd/usr.squashfs"
echo "ID=flatcar-e2e" > "$rd/etc/os-release"

(cd "$rd" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
  gzip -n -6 > "$tree/flatcar/cpio.gz"
cp "$vmlinuz" "$tree/flatcar/vmlinuz"

# --- ISOLINUX -------------------------------------------------------------
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$tree/isolinux/"
echo "INCLUDE /syslinux/syslinux.cfg" > "$tree/isolinux/isolinux.cfg"
cat > "$tree/syslinux/syslinux.cfg" <<'CFG'
default flatcar
prompt 0
timeout 15
label flatcar
  menu default
  kernel /flatcar/vmlinuz
  append initrd=/flatcar/cpio.gz flatcar.autologin console=ttyS0,115200n8 panic=-1
CFG

# --- the ISO ----------------------------------------------------------------
# Flatcar's mkisofs options (-v -l -r -J, El Torito no-emulation with a boot
# info table), with isohybrid's MBR added by xorriso.
mkdir -p "$(dirname "$out")"
tmp_out="$out.tmp.$$"
trap 'rm -rf "$work" "$tmp_out"' EXIT
xorriso -as mkisofs -v -l -r -J -V "$volid" -o "$tmp_out" \
  -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
  -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
  "$tree" >"$work/xorriso.log" 2>&1 || { cat "$work/xorriso.log" >&2; die "xorriso failed"; }

# --- self-check -----------------------------------------------------------
sig=$(od -An -tx1 -j 510 -N 2 "$tmp_out" | tr -d ' \n')
[ "$sig" = 55aa ] || die "the new ISO has no MBR signature (found $sig)"
[ "$(od -An -c -j 512 -N 8 "$tmp_out" | tr -d ' \n')" != EFIPART ] || die "the new ISO has a GPT; Flatcar's has an MBR only"

mv -f "$tmp_out" "$out"
log "wrote $out ($(stat -c %s "$out") bytes, volume $volid, kernel $kpkg, $ign_version)"
