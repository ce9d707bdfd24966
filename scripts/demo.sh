#!/usr/bin/env bash
# The built-in demo: no download needed.
#  1. builds a small Fedora CoreOS-layout live ISO with the project's own
#     ISO9660 writer (scripts/mkiso),
#  2. customizes it from examples/systemd-files.bu with kernel arguments and
#     a network keyfile (isobuild build),
#  3. prints what the new image carries (isobuild inspect) and its config,
#  4. builds an installer image (--dest-butane, --dest-device) and shows
#     what inspect says the installer will do,
#  5. resets the first image and checks that the base ISO comes back byte
#     for byte.
# The base image is a layout model: it has the files, embed areas and
# metadata of a Fedora CoreOS live ISO, but no kernel, no El Torito boot
# record and no OS, so it does not boot. For a bootable run, use a real
# Fedora CoreOS live ISO (see README: Where to get a base image) or the boot
# tests (scripts/e2e, which build a bootable image from Debian packages).
# DEMO_DIR keeps the images (default: a fresh temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/isobuild-demo.XXXXXX")}
mkdir -p "$dir"
rm -f "$dir/base.iso" "$dir/custom.iso" "$dir/installer.iso" "$dir/reset.iso"

run() { printf '\n$ %s\n' "$*"; "$@"; }

go build -o "$dir/isobuild" ./cmd/isobuild
run go run ./scripts/mkiso "$dir/base.iso"
echo "(base.iso is a layout model of a Fedora CoreOS live ISO: same files and embed areas, no OS; it does not boot)"
run "$dir/isobuild" build \
  --butane examples/systemd-files.bu -d examples/files \
  --karg-append console=ttyS0,115200n8 \
  --network-keyfile examples/eth0.nmconnection \
  -o "$dir/custom.iso" "$dir/base.iso"
run "$dir/isobuild" inspect "$dir/custom.iso"
printf '\n$ %s\n' "isobuild iso ignition show $dir/custom.iso | head -c 400"
"$dir/isobuild" iso ignition show "$dir/custom.iso" | head -c 400; echo
run "$dir/isobuild" iso kargs show "$dir/custom.iso"
echo
echo "# An installer image: booting it installs to /dev/sda with examples/homelab-install.bu."
run "$dir/isobuild" build \
  --dest-butane examples/homelab-install.bu --dest-device /dev/sda \
  --network-keyfile examples/eth0.nmconnection \
  -o "$dir/installer.iso" "$dir/base.iso"
run "$dir/isobuild" inspect "$dir/installer.iso"
run "$dir/isobuild" iso reset -o "$dir/reset.iso" "$dir/custom.iso"
if cmp -s "$dir/base.iso" "$dir/reset.iso"; then
  echo; echo "iso reset gave back the base ISO byte for byte."
else
  echo "iso reset did not restore the base ISO" >&2; exit 1
fi
echo "Images are in $dir"
