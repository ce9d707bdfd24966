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

here=$(cd "$(dirname "$0")" && pwd)
e2e_prog=make-flatcar-iso
# shellcheck source=e2e/lib.sh
. "$here/e2e/lib.sh"
e2e_parse_args "$@"
volid=${ISOBUILD_E2E_FLATCAR_VOLID:-CDROM}
export LC_ALL=C

need_files /bin/busybox /usr/lib/ISOLINUX/isolinux.bin /usr/lib/ISOLINUX/isohdpfx.bin \
  /usr/lib/syslinux/modules/bios/ldlinux.c32
need_tools apt-get dpkg-deb cpio gzip xorriso ldd
need_busybox_sha256
e2e_init_cache
e2e_fetch_kernel
e2e_find_ignition

# --- work tree ------------------------------------------------------------
e2e_make_work
tree=$work/iso
mkdir -p "$tree"/{isolinux,syslinux,flatcar}

# --- cpio.gz: the probe initramfs -------------------------------------------
rd=$work/initrd
e2e_initrd_base "$rd" "$here/e2e/init-flatcar" usr/lib/ignition sysroot
e2e_initrd_ignition "$rd"
# Flatcar's cpio.gz holds etc/ and usr.squashfs (all of /usr); here a small
# placeholder stands in for the squashfs, so that the layout matches and
# bootengine's PXE-mode test (/usr.squashfs exists) would hold.
echo "isobuild e2e placeholder for Flatcar's /usr squashfs" > "$rd/usr.squashfs"
echo "ID=flatcar-e2e" > "$rd/etc/os-release"

e2e_pack_cpio "$rd" "$tree/flatcar/cpio.gz" 6
cp "$vmlinuz" "$tree/flatcar/vmlinuz"

# --- ISOLINUX -------------------------------------------------------------
e2e_copy_isolinux "$tree/isolinux"
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
e2e_begin_output
xorriso -as mkisofs -v -l -r -J -V "$volid" -o "$tmp_out" \
  -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
  -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
  "$tree" >"$work/xorriso.log" 2>&1 || { cat "$work/xorriso.log" >&2; die "xorriso failed"; }

# --- self-check -----------------------------------------------------------
e2e_check_mbr_signature "$tmp_out"
[ "$(od -An -c -j 512 -N 8 "$tmp_out" | tr -d ' \n')" != EFIPART ] || die "the new ISO has a GPT; Flatcar's has an MBR only"

e2e_finish_output
log "wrote $out ($(stat -c %s "$out") bytes, volume $volid, kernel $kpkg, $ign_version)"
