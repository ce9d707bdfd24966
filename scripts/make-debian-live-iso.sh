#!/usr/bin/env bash
# make-debian-live-iso.sh OUT.iso
#
# Builds a small, bootable ISO laid out like the output of Debian's
# live-build (debian-live-*-amd64-*.iso), from Debian packages only, for the
# boot tests (scripts/boot-check.sh, e2e/debianlive_test.go):
#
#   live/vmlinuz              Debian cloud kernel (apt-get download + dpkg-deb -x)
#   live/initrd.img           gzip newc cpio: busybox and the probe /init
#                             (scripts/e2e/init-generic); no live-boot, no Ignition
#   isolinux/isolinux.bin, ldlinux.c32   ISOLINUX (El Torito BIOS entry)
#   isolinux/boot.cat         the El Torito boot catalog
#   isolinux/isolinux.cfg     "include menu.cfg", default live-amd64
#   isolinux/menu.cfg         "include live.cfg"
#   isolinux/live.cfg         label live-amd64 / menu label ^Live (amd64) /
#                             linux /live/vmlinuz / initrd /live/initrd.img /
#                             append boot=live components (+ console, panic)
#   boot/grub/efi.img         FAT image with EFI/boot/bootx64.efi (GRUB from
#                             grub-mkimage) and EFI/debian/grub.cfg (El Torito
#                             UEFI entry, and the GPT/MBR EFI partition)
#   boot/grub/grub.cfg        the UEFI menu: one menuentry with the same
#                             linux, initrd and arguments
#   EFI/boot/bootx64.efi      the same GRUB, in the ISO 9660 tree (as in Debian)
#   .disk/info                the disc's name, which GRUB searches for
#
# The image is hybrid the way Debian's are: xorriso -as mkisofs with
# isohdpfx.bin's MBR, -isohybrid-gpt-basdat and -isohybrid-apm-hfsplus, so
# it has an MBR, a GPT and an Apple partition map; Rock Ridge and Joliet.
# Differences from Debian, all for the tests: no menu UI (default and
# prompt 0 boot the entry at once; vesamenu.c32 is not needed),
# console=ttyS0,115200n8 panic=-1 on the kernel arguments instead of quiet
# splash, unversioned /live/vmlinuz and /live/initrd.img names, and a GRUB
# whose embedded config (not a signed shim + GRUB) finds the ISO by
# /.disk/info, prints the device it was loaded from for boot-check.sh, and
# reads /boot/grub/grub.cfg. EFI/debian/grub.cfg in efi.img does the same
# search for a GRUB built with prefix /EFI/debian (Debian's layout); this
# GRUB does not need it.
#
# Environment:
#   ISOBUILD_E2E_CACHE       download cache, shared with make-live-iso.sh
#                            (default ${TMPDIR:-/tmp}/isobuild-e2e-cache)
#   ISOBUILD_E2E_KERNEL_PKG  kernel package (default: what linux-image-cloud-amd64 depends on)
#   ISOBUILD_E2E_DEBIAN_VOLID  volume ID (default "d-live test")
#
# Needs: apt-get, dpkg-deb, busybox-static, cpio, gzip, grub-mkimage
# (grub-common + grub-efi-amd64-bin), mtools, dosfstools, xorriso, isolinux,
# syslinux-common; gdisk for the self-check if installed. Root is
# not needed once the packages are installed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
e2e_prog=make-debian-live-iso
# shellcheck source=e2e/lib.sh
. "$here/e2e/lib.sh"
e2e_parse_args "$@"
volid=${ISOBUILD_E2E_DEBIAN_VOLID:-d-live test}
export LC_ALL=C

need_files /bin/busybox /usr/lib/ISOLINUX/isolinux.bin /usr/lib/ISOLINUX/isohdpfx.bin \
  /usr/lib/syslinux/modules/bios/ldlinux.c32 /usr/lib/grub/x86_64-efi/linux.mod
need_tools apt-get dpkg-deb cpio gzip grub-mkimage mkfs.vfat mmd mcopy xorriso
need_busybox_sha256
e2e_init_cache
e2e_fetch_kernel

# --- work tree ------------------------------------------------------------
e2e_make_work
tree=$work/iso
mkdir -p "$tree"/{live,isolinux,boot/grub,EFI/boot,.disk}

# --- live/initrd.img: the probe initramfs -----------------------------------
rd=$work/initrd
e2e_initrd_base "$rd" "$here/e2e/init-generic"
echo "ID=debian-live-e2e" > "$rd/etc/os-release"
e2e_pack_cpio "$rd" "$tree/live/initrd.img" 6
cp "$vmlinuz" "$tree/live/vmlinuz"

# --- .disk ------------------------------------------------------------------
printf 'Debian GNU/Linux Live (isobuild e2e test image) - amd64\n' > "$tree/.disk/info"

# --- ISOLINUX (BIOS) ----------------------------------------------------------
# live-build's three files, without the menu UI: no "ui vesamenu.c32", so
# "default" with "prompt 0" boots the entry at once.
kargs="boot=live components console=ttyS0,115200n8 panic=-1"
e2e_copy_isolinux "$tree/isolinux"
cat > "$tree/isolinux/isolinux.cfg" <<'CFG'
serial 0 115200
include menu.cfg
default live-amd64
prompt 0
timeout 0
CFG
cat > "$tree/isolinux/menu.cfg" <<'CFG'
menu hshift 0
menu width 82
menu title Boot menu
include live.cfg
CFG
cat > "$tree/isolinux/live.cfg" <<CFG
label live-amd64
	menu label ^Live (amd64)
	menu default
	linux /live/vmlinuz
	initrd /live/initrd.img
	append $kargs
CFG

# --- GRUB (UEFI) --------------------------------------------------------------
cat > "$tree/boot/grub/grub.cfg" <<CFG
set default=0
set timeout=0
echo "E2E-GRUB: grub.cfg from \$prefix"
menuentry "Live system (amd64)" --hotkey=l {
	linux	/live/vmlinuz $kargs
	initrd	/live/initrd.img
}
CFG

# GRUB's embedded config runs in the rescue parser (no if/then): it says
# which device it was loaded from (boot-check.sh checks the boot path by
# it), finds the ISO 9660 tree by /.disk/info, which makes the same binary
# work from the CD (cd0) and from the hybrid disk's EFI partition, and
# points $prefix at /boot/grub, whose grub.cfg normal mode then reads.
cat > "$work/grub-early.cfg" <<'CFG'
echo "E2E-GRUB: loaded from ($root)"
search --no-floppy --set=root --file /.disk/info
set prefix=($root)/boot/grub
echo "E2E-GRUB: ISO 9660 tree on ($root)"
CFG
grub-mkimage -O x86_64-efi -o "$tree/EFI/boot/bootx64.efi" -c "$work/grub-early.cfg" \
  -p /boot/grub \
  normal configfile search search_label search_fs_file search_fs_uuid iso9660 fat \
  part_gpt part_msdos part_apple linux echo test sleep halt reboot ls cat all_video efi_gop efi_uga

# Debian's efi.img: the loader and a grub.cfg that finds the ISO and reads
# its /boot/grub/grub.cfg.
cat > "$work/efi-grub.cfg" <<'CFG'
search --file --set=root /.disk/info
set prefix=($root)/boot/grub
configfile $prefix/grub.cfg
CFG
efi=$tree/boot/grub/efi.img
mkfs.vfat -C -n EFIBOOT "$efi" 2880 >/dev/null
mmd -i "$efi" ::/EFI ::/EFI/boot ::/EFI/debian
mcopy -i "$efi" "$tree/EFI/boot/bootx64.efi" ::/EFI/boot/bootx64.efi
mcopy -i "$efi" "$work/efi-grub.cfg" ::/EFI/debian/grub.cfg

# --- the ISO ----------------------------------------------------------------
# Debian's xorriso run (live-build, debian-cd): isohybrid MBR, El Torito
# BIOS and UEFI entries, GPT and APM.
e2e_begin_output
xorriso -as mkisofs -r -J -joliet-long -V "$volid" -o "$tmp_out" \
  -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
  -b isolinux/isolinux.bin -c isolinux/boot.cat -boot-load-size 4 -boot-info-table -no-emul-boot \
  -eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat -isohybrid-apm-hfsplus \
  "$tree" >"$work/xorriso.log" 2>&1 || { cat "$work/xorriso.log" >&2; die "xorriso failed"; }

# --- self-check: the three partition tables and both boot entries ---------
report=$(xorriso -indev "$tmp_out" -report_el_torito plain -report_system_area plain 2>/dev/null)
for want in "MBR isohybrid" "GPT" "APM" "El Torito img path :   1  /isolinux/isolinux.bin" \
  "El Torito img path :   2  /boot/grub/efi.img"; do
  grep -qF -- "$want" <<<"$report" || die "xorriso does not report '$want' for the new ISO:
$report"
done
e2e_check_mbr_signature "$tmp_out"
[ "$(head -c 520 "$tmp_out" | tail -c 8)" = "EFI PART" ] || die "the new ISO has no GPT header at LBA 1"
[ "$(head -c 2050 "$tmp_out" | tail -c 2)" = PM ] || die "the new ISO has no Apple partition map at byte 2048"
# The GPT as gdisk reads it (sgdisk -p refuses the image: it takes the
# MBR, whose partition 1 starts at sector 0 and overlaps the GPT, as
# invalid; gdisk asks which table to use, and is told the GPT). As in
# Debian's images, the GPT entry of efi.img has the basic data type (0700).
if command -v gdisk >/dev/null; then
  efi_start=$(sed -n 's/^GPT start and size :   2  \([0-9]*\) .*/\1/p' <<<"$report")
  gpt=$(printf '2\np\nq\n' | gdisk "$tmp_out" 2>&1 || true)
  grep -Eq "^ +2 +$efi_start +[0-9]+ .* 0700 " <<<"$gpt" || die "gdisk does not list efi.img (sector ${efi_start:-?}) as GPT partition 2 of type 0700:
$gpt"
fi

e2e_finish_output
log "wrote $out ($(stat -c %s "$out") bytes, volume '$volid', kernel $kpkg)"
