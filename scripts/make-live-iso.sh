#!/usr/bin/env bash
# make-live-iso.sh OUT.iso
#
# Builds a small, bootable ISO laid out like a Fedora CoreOS live ISO, from
# Debian packages only, for the boot tests (scripts/boot-check.sh, e2e/):
#
#   images/pxeboot/vmlinuz      Debian cloud kernel (apt-get download + dpkg-deb -x)
#   images/pxeboot/initrd.img   busybox + scripts/e2e/init + Debian's real Ignition binary
#                               + the kernel's virtio block modules (for a scratch disk)
#   images/pxeboot/rootfs.img   a small placeholder (not loaded at boot)
#   images/ignition.img         256 KiB of zeros: the initrd embed area
#   images/efiboot.img          FAT image with GRUB EFI (El Torito UEFI entry)
#   EFI/BOOT/BOOTX64.EFI        the same GRUB, in the ISO 9660 tree (as in Fedora CoreOS)
#   EFI/fedora/grub.cfg         UEFI menu, with a karg embed area
#   isolinux/isolinux.cfg       BIOS menu, with a karg embed area
#   coreos/igninfo.json, coreos/kargs.json, coreos/features.json
#
# Both boot entries load the embed area as a second initramfs, as CoreOS
# does, so a config written there by isobuild shows up as /config.ign.
# The image is isohybrid (MBR + GPT), with Rock Ridge and Joliet; the
# MBR's second partition (type 0xEF) is efiboot.img, which UEFI firmware
# boots when the image is a disk.
#
# Environment:
#   ISOBUILD_E2E_CACHE       download/build cache (default ${TMPDIR:-/tmp}/isobuild-e2e-cache)
#   ISOBUILD_E2E_KERNEL_PKG  kernel package (default: what linux-image-cloud-amd64 depends on)
#   ISOBUILD_E2E_IGNITION    Ignition binary (default: the installed ignition package's,
#                            else the package is downloaded into the cache)
#   ISOBUILD_E2E_VOLID       volume ID (default fcos-e2e-live)
#
# Needs: apt-get, dpkg-deb, busybox-static, cpio, gzip, grub-mkimage
# (grub-common + grub-efi-amd64-bin), mtools, dosfstools, xorriso, isolinux,
# syslinux-common. Root is not needed once the packages are installed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
e2e_prog=make-live-iso
# shellcheck source=e2e/lib.sh
. "$here/e2e/lib.sh"
e2e_parse_args "$@"
volid=${ISOBUILD_E2E_VOLID:-fcos-e2e-live}
export LC_ALL=C

need_files /bin/busybox /usr/lib/ISOLINUX/isolinux.bin /usr/lib/ISOLINUX/isohdpfx.bin \
  /usr/lib/syslinux/modules/bios/ldlinux.c32 /usr/lib/grub/x86_64-efi/linux.mod
need_tools apt-get dpkg-deb cpio gzip grub-mkimage mkfs.vfat mmd mcopy xorriso ldd sha256sum
need_busybox_sha256
e2e_init_cache
e2e_fetch_kernel
e2e_find_ignition

# --- work tree ------------------------------------------------------------
e2e_make_work
tree=$work/iso
mkdir -p "$tree"/{images/pxeboot,EFI/BOOT,EFI/fedora,isolinux,coreos}

# --- initramfs ------------------------------------------------------------
rd=$work/initrd
e2e_initrd_base "$rd" "$here/e2e/init" etc/coreos sysroot
e2e_initrd_ignition "$rd"
e2e_initrd_virtio_blk "$rd"
# The stamp file and feature flags of a CoreOS live initramfs.
: > "$rd/etc/coreos-live-initramfs"

directives=(append-karg architecture console copy-network delete-karg dest-device
  fetch-retries ignition-file ignition-hash ignition-url image-file image-url insecure
  insecure-ignition network-dir offline platform preserve-on-error save-partindex
  save-partlabel stream stream-base-url)
{
  echo '{'
  echo '  "installer-config": true,'
  echo '  "installer-config-directives": {'
  n=${#directives[@]}
  for i in "${!directives[@]}"; do
    sep=,; [ "$i" -eq $((n - 1)) ] && sep=
    echo "    \"${directives[$i]}\": true$sep"
  done
  echo '  },'
  echo '  "live-initrd-network": true'
  echo '}'
} > "$tree/coreos/features.json"
cp "$tree/coreos/features.json" "$rd/etc/coreos/features.json"

e2e_pack_cpio "$rd" "$tree/images/pxeboot/initrd.img" 6
cp "$vmlinuz" "$tree/images/pxeboot/vmlinuz"

# A placeholder rootfs: the test /init never needs one, but CoreOS tools
# (iso extract pxe) expect the file.
mkdir -p "$work/rootfs/etc"
echo "isobuild e2e placeholder rootfs" > "$work/rootfs/etc/isobuild-e2e-rootfs"
e2e_pack_cpio "$work/rootfs" "$tree/images/pxeboot/rootfs.img" 9

# --- embed areas ------------------------------------------------------------
head -c 262144 /dev/zero > "$tree/images/ignition.img"
printf '{\n  "file": "images/ignition.img"\n}\n' > "$tree/coreos/igninfo.json"

# Default kernel arguments: those of Fedora CoreOS, plus a serial console
# for the log and panic=-1 so that a failing /init ends the QEMU run.
kargs="mitigations=auto,nosmt coreos.liveiso=$volid ignition.firstboot ignition.platform.id=metal console=ttyS0,115200n8 panic=-1"
# The area is "<kargs>\n" followed by '#' padding, as in Fedora CoreOS: 1024
# bytes of slack. A "# COREOS_KARG_EMBED_AREA" comment follows it, so the
# padding line is a comment for both syslinux and GRUB.
area_size=$(( ${#kargs} + 1 + 1024 ))
pad=$(printf '%*s' 1024 '' | tr ' ' '#')
marker='# COREOS_KARG_EMBED_AREA'

isolinux_head="serial 0 115200
default linux
prompt 0
timeout 0
label linux
  menu label Fedora CoreOS (Live) e2e
  kernel /images/pxeboot/vmlinuz
  append initrd=/images/pxeboot/initrd.img,/images/ignition.img "
printf '%s%s\n%s%s\n' "$isolinux_head" "$kargs" "$pad" "$marker" > "$tree/isolinux/isolinux.cfg"
isolinux_off=${#isolinux_head}

grub_head="set default=0
set timeout=0
echo \"E2E-GRUB: grub.cfg from \$prefix\"
menuentry 'Fedora CoreOS (Live) e2e' --class fedora --class gnu-linux --class os {
	linux /images/pxeboot/vmlinuz "
grub_tail="	initrd /images/pxeboot/initrd.img /images/ignition.img
}"
printf '%s%s\n%s%s\n%s\n' "$grub_head" "$kargs" "$pad" "$marker" "$grub_tail" > "$tree/EFI/fedora/grub.cfg"
grub_off=${#grub_head}

cat > "$tree/coreos/kargs.json" <<EOF
{
  "default": "$kargs",
  "files": [
    {
      "path": "EFI/fedora/grub.cfg",
      "offset": $grub_off
    },
    {
      "path": "isolinux/isolinux.cfg",
      "offset": $isolinux_off
    }
  ],
  "size": $area_size
}
EOF

# --- bootloaders ------------------------------------------------------------
e2e_copy_isolinux "$tree/isolinux"

# GRUB's embedded config runs in the rescue parser (no if/then): it only
# finds the ISO by its volume label and points $prefix at EFI/fedora, whose
# grub.cfg normal mode then reads. Searching by label makes the same binary
# work from the CD (cd0) and from the hybrid disk's EFI partition.
cat > "$work/grub-early.cfg" <<EOF
search --no-floppy --set=e2e_found --label $volid
echo "E2E-GRUB: loaded from (\$root), volume $volid found on (\$e2e_found)"
search --no-floppy --set=root --label $volid
set prefix=(\$root)/EFI/fedora
EOF
grub-mkimage -O x86_64-efi -o "$tree/EFI/BOOT/BOOTX64.EFI" -c "$work/grub-early.cfg" \
  -p /EFI/fedora \
  normal configfile search search_label search_fs_file search_fs_uuid iso9660 fat \
  part_gpt part_msdos linux echo test sleep halt reboot ls cat all_video efi_gop efi_uga

rm -f "$tree/images/efiboot.img"
mkfs.vfat -C -n EFIBOOT "$tree/images/efiboot.img" 1440 >/dev/null
mmd -i "$tree/images/efiboot.img" ::/EFI ::/EFI/BOOT
mcopy -i "$tree/images/efiboot.img" "$tree/EFI/BOOT/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

# --- the ISO ----------------------------------------------------------------
e2e_begin_output
xorriso -as mkisofs -quiet -V "$volid" -volset "$volid" -rational-rock -J -joliet-long \
  -eltorito-boot isolinux/isolinux.bin -eltorito-catalog isolinux/boot.cat \
  -no-emul-boot -boot-load-size 4 -boot-info-table \
  -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
  -eltorito-alt-boot -e images/efiboot.img -no-emul-boot -isohybrid-gpt-basdat \
  -o "$tmp_out" "$tree" 2>"$work/xorriso.log" || { cat "$work/xorriso.log" >&2; die "xorriso failed"; }

# --- self-check: the areas are where the metadata says --------------------
lba() {
  xorriso -indev "$tmp_out" -find "/$1" -exec report_lba -- 2>/dev/null |
    awk -F, '/File data lba/ { gsub(/ /, "", $2); print $2; exit }'
}
ign_lba=$(lba images/ignition.img)
[ -n "$ign_lba" ] || die "cannot find images/ignition.img in the new ISO"
if [ "$(dd if="$tmp_out" bs=2048 skip="$ign_lba" count=128 status=none | tr -d '\0' | wc -c)" -ne 0 ]; then
  die "images/ignition.img is not all zeros in the new ISO"
fi
for f in "EFI/fedora/grub.cfg:$grub_off" "isolinux/isolinux.cfg:$isolinux_off"; do
  path=${f%%:*} off=${f##*:}
  l=$(lba "$path")
  got=$(dd if="$tmp_out" bs=1 skip=$(( l * 2048 + off )) count=${#kargs} status=none)
  [ "$got" = "$kargs" ] || die "karg area of $path is not at offset $off: found '$got'"
done

e2e_finish_output
log "wrote $out ($(stat -c %s "$out") bytes, volume $volid, kernel $kpkg, $ign_version)"
