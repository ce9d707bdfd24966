#!/usr/bin/env bash
# make-ubuntu-style-iso.sh OUT.iso
#
# Builds a small, bootable ISO laid out like Ubuntu's desktop and server
# ISOs (since 20.10), for the boot tests (e2e/ubuntustyle_test.go) and the
# remaster tests of pkg/remaster and pkg/sysarea:
#
#   casper/vmlinuz            Debian cloud kernel (apt-get download + dpkg-deb -x),
#                             or the file ISOBUILD_E2E_VMLINUZ names
#   casper/initrd             gzip newc cpio: busybox and the probe /init
#                             (scripts/e2e/init-generic)
#   boot/grub/grub.cfg        one menuentry: linux /casper/vmlinuz ... console=ttyS0,
#                             initrd /casper/initrd
#   boot/grub/i386-pc/eltorito.img   GRUB for BIOS (grub-mkimage -O i386-pc-eltorito),
#                             the El Torito BIOS entry
#   boot.catalog              the El Torito boot catalog
#   .disk/info                the disc's name
#   .disk/isobuild-ubuntu-style  the marker both GRUBs search for
#
# and, outside the ISO 9660 tree, an EFI system partition (a FAT image with
# EFI/BOOT/BOOTX64.EFI, GRUB from grub-mkimage -O x86_64-efi) appended as
# partition 2; the El Torito UEFI entry points at it too. As in Ubuntu's
# ISOs the volume is also partition 1 at a partition offset of 16 blocks
# (xorriso -partition_offset 16: a twin set of volume descriptors and
# trees at byte 32768), the MBR is GRUB's boot_hybrid.img with a
# protective 0xEE entry, and the GPT has partition 1 (the ISO), 2 (the
# ESP) and possibly a gap partition.
#
# Both GRUBs carry an early config that says where they were loaded from
# (for boot-check.sh), finds the ISO 9660 tree by the marker file and reads
# its /boot/grub/grub.cfg. Differences from Ubuntu, all for the tests: no
# shim or signed GRUB, no squashfs or casper, console=ttyS0 panic=-1 on
# the command line, no menu (timeout 0).
#
# Environment:
#   ISOBUILD_E2E_CACHE       download cache, shared with make-live-iso.sh
#                            (default ${TMPDIR:-/tmp}/isobuild-e2e-cache)
#   ISOBUILD_E2E_KERNEL_PKG  kernel package (default: what linux-image-cloud-amd64 depends on)
#   ISOBUILD_E2E_VMLINUZ     use this file as the kernel instead of downloading
#                            one (the unit tests pass a stand-in; not bootable then)
#   ISOBUILD_E2E_UBUNTU_VOLID  volume ID (default "Ubuntu-style test")
#
# Needs: apt-get and dpkg-deb (unless ISOBUILD_E2E_VMLINUZ), busybox-static,
# cpio, gzip, grub-mkimage (grub-common, grub-pc-bin, grub-efi-amd64-bin),
# mtools, dosfstools, xorriso. Root is not needed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
e2e_prog=make-ubuntu-style-iso
# shellcheck source=e2e/lib.sh
. "$here/e2e/lib.sh"
e2e_parse_args "$@"
volid=${ISOBUILD_E2E_UBUNTU_VOLID:-Ubuntu-style test}
marker=isobuild-ubuntu-style
export LC_ALL=C

need_files /bin/busybox /usr/lib/grub/i386-pc/boot_hybrid.img /usr/lib/grub/i386-pc/iso9660.mod \
  /usr/lib/grub/x86_64-efi/linux.mod
need_tools cpio gzip grub-mkimage mkfs.vfat mmd mcopy xorriso
need_busybox_sha256
e2e_kernel

# --- work tree ------------------------------------------------------------
e2e_make_work
tree=$work/iso
mkdir -p "$tree"/{casper,boot/grub/i386-pc,.disk}

# --- casper/initrd: the probe initramfs --------------------------------------
rd=$work/initrd
e2e_initrd_base "$rd" "$here/e2e/init-generic"
echo "ID=ubuntu-style-e2e" > "$rd/etc/os-release"
e2e_pack_cpio "$rd" "$tree/casper/initrd" 6
cp "$vmlinuz" "$tree/casper/vmlinuz"

# --- .disk ------------------------------------------------------------------
printf 'Ubuntu-style isobuild e2e test image - amd64\n' > "$tree/.disk/info"
printf '%s\n' "$marker" > "$tree/.disk/$marker"

# --- GRUB ---------------------------------------------------------------------
kargs="boot=casper console=ttyS0,115200n8 panic=-1"
# Under BIOS GRUB writes to the VGA console only; the serial line is where
# the tests read. (Under UEFI the firmware console is the serial line
# already.)
cat > "$tree/boot/grub/grub.cfg" <<CFG
if [ "\$grub_platform" = pc ]; then
	serial --unit=0 --speed=115200
	terminal_output --append serial
fi
set default=0
set timeout=0
echo "E2E-GRUB: grub.cfg from \$prefix"
# What partition 1 shows (booted from a disk): the files of /casper as
# GRUB reads them through the partition's own (twin) volume descriptors.
for f in (hd0,gpt1)/casper/*; do
	echo "E2E-GRUB: partition 1 has \$f"
done
menuentry "Try or Install Ubuntu-style" {
	linux	/casper/vmlinuz $kargs
	initrd	/casper/initrd
}
CFG

# The early config runs in the rescue parser: it names the device GRUB was
# loaded from (boot-check.sh checks the boot path by it), finds the ISO
# 9660 tree by the marker, which makes the same config work from the CD,
# from partition 1 and from the whole disk, and reads its grub.cfg.
cat > "$work/grub-early.cfg" <<CFG
echo "E2E-GRUB: loaded from (\$root)"
search --no-floppy --set=root --file /.disk/$marker
set prefix=(\$root)/boot/grub
echo "E2E-GRUB: ISO 9660 tree on (\$root)"
configfile \$prefix/grub.cfg
CFG
mods="normal configfile search search_fs_file search_label iso9660 part_gpt part_msdos linux echo test ls cat regexp"
# shellcheck disable=SC2086
grub-mkimage -O i386-pc-eltorito -o "$tree/boot/grub/i386-pc/eltorito.img" -c "$work/grub-early.cfg" \
  -p /boot/grub $mods biosdisk serial terminal
# shellcheck disable=SC2086
grub-mkimage -O x86_64-efi -o "$work/BOOTX64.EFI" -c "$work/grub-early.cfg" \
  -p /boot/grub $mods fat all_video efi_gop serial terminal

# The EFI system partition, appended after the ISO 9660 data.
esp=$work/esp.img
mkfs.vfat -C -n ESP "$esp" 4096 >/dev/null
mmd -i "$esp" ::/EFI ::/EFI/BOOT
mcopy -i "$esp" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

# --- the ISO ----------------------------------------------------------------
# Ubuntu's xorriso run, reduced: GRUB's hybrid MBR and boot-info patching,
# the partition offset, the appended ESP (GPT partition 2) that El Torito's
# UEFI entry points at.
e2e_begin_output
xorriso -as mkisofs -r -J -joliet-long -V "$volid" -o "$tmp_out" \
  --grub2-mbr /usr/lib/grub/i386-pc/boot_hybrid.img \
  -partition_offset 16 \
  -append_partition 2 0xef "$esp" -appended_part_as_gpt \
  -c boot.catalog \
  -b boot/grub/i386-pc/eltorito.img -no-emul-boot -boot-load-size 4 -boot-info-table --grub2-boot-info \
  -eltorito-alt-boot -e --interval:appended_partition_2:all:: -no-emul-boot \
  "$tree" >"$work/xorriso.log" 2>&1 || { cat "$work/xorriso.log" >&2; die "xorriso failed"; }

# --- self-check ------------------------------------------------------------
report=$(xorriso -indev "$tmp_out" -report_el_torito plain -report_system_area plain 2>/dev/null)
for want in "GPT" "El Torito img path :   1  /boot/grub/i386-pc/eltorito.img" \
  "GPT partname local :   2" "El Torito boot img :   2  UEFI"; do
  grep -qF -- "$want" <<<"$report" || die "xorriso does not report '$want' for the new ISO:
$report"
done
e2e_check_mbr_signature "$tmp_out"
[ "$(head -c 520 "$tmp_out" | tail -c 8)" = "EFI PART" ] || die "the new ISO has no GPT header at LBA 1"
[ "$(head -c $((32768 + 16 * 2048 + 6)) "$tmp_out" | tail -c 5)" = CD001 ] ||
  die "the new ISO has no twin volume descriptor at the partition offset"

e2e_finish_output
log "wrote $out ($(stat -c %s "$out") bytes, volume '$volid', kernel ${kpkg:-$vmlinuz})"
