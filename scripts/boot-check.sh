#!/usr/bin/env bash
# boot-check.sh [options] ISO MODE
#
# Boots ISO under QEMU and checks the report that the boot-test initramfs of
# scripts/make-live-iso.sh writes to the serial console (see scripts/e2e/init).
#
# MODE:
#   bios-cd    SeaBIOS, ISO as a CD-ROM (El Torito, ISOLINUX)
#   uefi-cd    OVMF, ISO as a CD-ROM (El Torito EFI image, GRUB)
#   bios-usb   SeaBIOS, ISO as a raw disk (isohybrid MBR, ISOLINUX)
#   uefi-usb   OVMF, ISO as a raw disk (hybrid MBR's EFI partition, GRUB)
# The *-usb modes attach the image as a raw disk, the way a USB stick
# written with dd presents it: a USB mass-storage device on an XHCI
# controller (BOOT_USB_BUS=virtio: a virtio disk instead), with snapshot=on
# so that the ISO file is never changed.
#
# Each mode must also take its own boot path, or the run fails:
#   bios-cd    SeaBIOS reports "Booting from DVD/CD"
#   bios-usb   SeaBIOS reports "Booting from Hard Disk" (the isohybrid MBR
#              boot code, which loads ISOLINUX by the sector number written
#              into it; it does not read the partition table)
#   uefi-cd    GRUB reports that it was loaded from (cd0)
#   uefi-usb   GRUB reports that it was loaded from (hd0,...), a partition.
#              OVMF also finds the El Torito EFI image on a raw disk and
#              prefers it, so uefi-usb boots a temporary copy of ISO whose
#              El Torito boot catalog sector is zeroed: OVMF must then use
#              the EFI partition (0xEF) of the hybrid MBR; it ignores the
#              GPT, which has no protective MBR. The copy is checked to
#              differ from ISO in that one sector only.
#
# Options:
#   --expect-karg K      the kernel command line must contain the argument K
#   --reject-karg K      the kernel command line must not contain K
#   --expect-config present|none
#                        /config.ign must (not) be in the initramfs
#   --expect-ignition    Ignition's fetch and files stages must have succeeded
#   --timeout SEC        hard limit for the QEMU run (default $BOOT_TIMEOUT or 180)
#   --accel auto|tcg|kvm accelerator (default $ISOBUILD_E2E_ACCEL or auto:
#                        KVM only if a probe guest runs under it, else TCG;
#                        a KVM run that fails is repeated under TCG)
#   --probed-accel kvm|tcg
#                        with auto: use this result of an earlier
#                        --probe-accel instead of probing again (the TCG
#                        retry still applies)
#   --log FILE           where to keep the serial log (default: a temporary file)
#   --probe-accel        only print the accelerator "auto" picks, and exit
#   --find-ovmf          only print the OVMF code and variable files used for
#                        the uefi-* modes (OVMF_CODE=... OVMF_VARS=...), and
#                        exit (status 1 if they are missing)
#
# Output on stdout: the report lines (E2E-..., ANSI colour codes removed,
# including GRUB's E2E-GRUB lines), then
#   BOOT-COPY: ...               (uefi-usb: what the boot copy changes)
#   BOOT-FATAL: SOURCE: LINE     (the first fatal message of each SOURCE:
#                                 firmware, serial or qemu, if any)
#   BOOT-CHECK mode=MODE result=PASS|FAIL outcome=... firmware=... accel=...
#     booted_from=... seconds=... kernel_at=... init_at=... iso=...
# (outcome: finished, fatal, exited (QEMU ended by itself) or timeout;
# booted_from: cdrom or disk (SeaBIOS), or GRUB's boot device such as (cd0)
# or (hd0,msdos2); seconds: the whole QEMU run; kernel_at, init_at: when the
# kernel's first message and the report began, from the start of the run)
# Exit status 0 only if the marker E2E-INIT-END was seen and every
# expectation holds; 1 otherwise; 2 for usage errors.
#
# A run ends as soon as the report is complete, QEMU exits, a fatal boot
# message appears (kernel panic, "No bootable device", GRUB rescue, ...),
# or the timeout expires. QEMU itself runs under timeout(1) with a limit a
# little above --timeout, so it cannot outlive this script by much even if
# the script is killed.
#
# Environment: OVMF_CODE, OVMF_VARS (firmware files, default
# /usr/share/OVMF/OVMF_{CODE,VARS}_4M.fd, else OVMF_{CODE,VARS}.fd),
# QEMU (default qemu-system-x86_64), QEMU_MEM (MiB, default 512),
# BOOT_USB_BUS (usb or virtio, default usb).
set -euo pipefail

usage() {  # usage [STATUS]
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

qemu=${QEMU:-qemu-system-x86_64}
mem=${QEMU_MEM:-512}
usb_bus=${BOOT_USB_BUS:-usb}
timeout=${BOOT_TIMEOUT:-180}
accel=${ISOBUILD_E2E_ACCEL:-auto}
ovmf_code=${OVMF_CODE:-}
ovmf_vars=${OVMF_VARS:-}
log=
expect_kargs=()
reject_kargs=()
expect_config=
expect_ignition=false
probe_only=false
find_ovmf_only=false
probed=

while [ $# -gt 0 ]; do
  case $1 in
    --expect-karg) expect_kargs+=("$2"); shift 2 ;;
    --reject-karg) reject_kargs+=("$2"); shift 2 ;;
    --expect-config) expect_config=$2; shift 2 ;;
    --expect-ignition) expect_ignition=true; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --probed-accel) probed=$2; shift 2 ;;
    --probe-accel) probe_only=true; shift ;;
    --find-ovmf) find_ovmf_only=true; shift ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    -*) echo "boot-check: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
case $accel in auto|tcg|kvm) ;; *) echo "boot-check: --accel must be auto, tcg or kvm" >&2; exit 2 ;; esac
case $probed in ''|tcg|kvm) ;; *) echo "boot-check: --probed-accel must be tcg or kvm" >&2; exit 2 ;; esac
case $expect_config in ''|present|none) ;; *) echo "boot-check: --expect-config must be present or none" >&2; exit 2 ;; esac
case $timeout in ''|*[!0-9]*) echo "boot-check: --timeout must be a number of seconds" >&2; exit 2 ;; esac

# find_ovmf: sets ovmf_code and ovmf_vars, from OVMF_CODE/OVMF_VARS or the
# first of the Debian names that exists (4M builds first); fails if missing.
find_ovmf() {
  local c
  if [ -z "$ovmf_code" ]; then
    for c in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_CODE.fd; do
      [ -f "$c" ] && { ovmf_code=$c; break; }
    done
  fi
  if [ -z "$ovmf_vars" ]; then
    case $ovmf_code in
      *_4M.fd) ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd ;;
      *) ovmf_vars=/usr/share/OVMF/OVMF_VARS.fd ;;
    esac
  fi
  if [ ! -f "$ovmf_code" ] || [ ! -f "$ovmf_vars" ]; then
    echo "boot-check: OVMF firmware not found (apt-get install ovmf, or set OVMF_CODE/OVMF_VARS)" >&2
    return 1
  fi
}

if $find_ovmf_only; then
  find_ovmf || exit 1
  echo "OVMF_CODE=$ovmf_code OVMF_VARS=$ovmf_vars"
  exit 0
fi

command -v "$qemu" >/dev/null || { echo "boot-check: $qemu not found (apt-get install qemu-system-x86)" >&2; exit 1; }
command -v timeout >/dev/null || { echo "boot-check: timeout not found (coreutils)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/boot-check.XXXXXX")
qpid=
cleanup() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# probe_kvm: boots a 512-byte boot sector that writes a line to COM1 and
# halts, under KVM. /dev/kvm can exist and still be unusable (nested VMs
# where QEMU aborts with "failed to set MSR" or the guest hangs with "KVM
# internal error"), so only a guest that actually runs counts.
probe_kvm() {
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
  local img=$work/kvm-probe.img out=$work/kvm-probe.serial pid
  # xor ax,ax; mov ds,ax; mov si,0x7c17; mov dx,0x3f8; cld
  # 1: lodsb; test al,al; jz 2f; out dx,al; jmp 1b
  # 2: cli; hlt; jmp 2b
  # msg: "E2E-KVM-PROBE-OK\r\n\0"
  {
    printf '\x31\xc0\x8e\xd8\xbe\x17\x7c\xba\xf8\x03\xfc\xac\x84\xc0\x74\x03\xee\xeb\xf8\xfa\xf4\xeb\xfd'
    printf 'E2E-KVM-PROBE-OK\r\n\0'
  } > "$img"
  truncate -s 510 "$img"
  printf '\x55\xaa' >> "$img"
  truncate -s 1M "$img"
  : > "$out"
  timeout --foreground -k 2 20 \
    "$qemu" -machine pc -accel kvm -cpu host -m 64 -nodefaults -no-user-config -display none \
    -drive file="$img",format=raw,if=ide,snapshot=on -boot c \
    -serial file:"$out" -monitor none -no-reboot >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    if grep -q E2E-KVM-PROBE-OK "$out" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  return 1
}

pick_accel() {
  if [ "$accel" = auto ] && [ -n "$probed" ]; then
    echo "$probed"
  elif [ "$accel" = auto ]; then
    if probe_kvm 2>/dev/null; then echo kvm; else echo tcg; fi
  else
    echo "$accel"
  fi
}

if $probe_only; then
  pick_accel
  exit 0
fi

[ $# -eq 2 ] || usage
iso=$1 mode=$2
[ -f "$iso" ] || { echo "boot-check: $iso: no such file" >&2; exit 2; }
case $mode in bios-cd|uefi-cd|bios-usb|uefi-usb) ;; *) echo "boot-check: unknown mode $mode" >&2; usage ;; esac
[ -n "$log" ] || log=$work/serial.log
fwlog=$work/firmware.log

firmware=${mode%%-*}
medium=${mode#*-}

# clean FILE: the text of a console log without carriage returns and ANSI
# escape sequences (OVMF and GRUB colour their output).
clean() {
  tr -d '\r' < "$1" 2>/dev/null | sed 's/\x1b\[[0-9;?=]*[A-Za-z]//g; s/\x1b[()][0-9A-Za-z]//g'
}

# catalog_copy ISO COPY: writes to COPY a copy of ISO whose El Torito boot
# catalog sector is zeroed, and checks that nothing else differs. Prints a
# BOOT-COPY line saying what changed.
catalog_copy() {
  local src=$1 dst=$2 want got lba size sectors valid diff
  want=$(printf '\0CD001\001EL TORITO SPECIFICATION' | od -An -tx1 | tr -d ' \n')
  got=$(dd if="$src" bs=2048 skip=17 count=1 status=none | head -c 30 | od -An -tx1 | tr -d ' \n')
  if [ "$got" != "$want" ]; then
    echo "BOOT-COPY: none (sector 17 is no El Torito boot record; booting the ISO itself)"
    disk=$src
    return 0
  fi
  lba=$(od -An -tu4 --endian=little -j $((17 * 2048 + 0x47)) -N 4 "$src" | tr -d ' ')
  size=$(stat -c %s "$src")
  sectors=$((size / 2048))
  if [ "$lba" -le 17 ] || [ "$lba" -ge "$sectors" ]; then
    echo "BOOT-COPY: none (the El Torito boot record points outside the image, to sector $lba; booting the ISO itself)"
    disk=$src
    return 0
  fi
  # A boot catalog starts with a validation entry: header ID 1, key 55 AA.
  valid=$(od -An -tx1 -j $((lba * 2048)) -N 32 "$src" | tr -d ' \n')
  case $valid in
    01*55aa) ;;
    *)
      echo "BOOT-COPY: none (sector $lba holds no valid El Torito boot catalog; booting the ISO itself)"
      disk=$src
      return 0 ;;
  esac
  cp --reflink=auto --sparse=always "$src" "$dst"
  dd if=/dev/zero of="$dst" bs=2048 seek="$lba" count=1 conv=notrunc status=none
  # Every byte outside that sector must still be the ISO's.
  [ "$(stat -c %s "$dst")" = "$size" ] || { echo "boot-check: the boot copy of $src has another size" >&2; exit 1; }
  # cmp -l lists each differing byte (1-based offset); status 1 = differ.
  cmp -l "$src" "$dst" > "$work/copy.cmp" || [ $? -eq 1 ] || { echo "boot-check: cmp $src $dst failed" >&2; exit 1; }
  diff=$(awk -v lo=$((lba * 2048 + 1)) -v hi=$((lba * 2048 + 2048)) '
    { n++; if ($1 < lo || $1 > hi) out++ } END { printf "%d %d", n, out }' "$work/copy.cmp")
  if [ "${diff#* }" != 0 ]; then
    echo "boot-check: the boot copy of $src differs outside sector $lba" >&2
    exit 1
  fi
  echo "BOOT-COPY: El Torito boot catalog (sector $lba) zeroed; ${diff% *} bytes differ from the ISO, all in that sector"
}

disk=$iso
copy_line=
if [ "$mode" = uefi-usb ]; then
  disk=$work/uefi-usb.img
  catalog_copy "$iso" "$disk" > "$work/copy.txt"
  copy_line=$(cat "$work/copy.txt")
fi

# QEMU options are comma-separated lists; the commas are not array separators.
# shellcheck disable=SC2054
args=(-machine pc -m "$mem" -smp 1 -nodefaults -no-user-config -display none -vga std
  -net none -monitor none -no-reboot -serial "file:$log"
  # SeaBIOS writes its messages ("No bootable device", ...) to this port.
  -chardev "file,id=fwlog,path=$fwlog" -device isa-debugcon,iobase=0x402,chardev=fwlog)
if [ "$firmware" = uefi ]; then
  find_ovmf || exit 1
  cp "$ovmf_vars" "$work/vars.fd"
  args+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$ovmf_code"
    -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd")
fi
# shellcheck disable=SC2054
if [ "$medium" = cd ]; then
  args+=(-drive "file=$disk,format=raw,media=cdrom,readonly=on" -boot d)
else
  case $usb_bus in
    usb) args+=(-device qemu-xhci,id=xhci
      -drive "if=none,id=stick,file=$disk,format=raw,snapshot=on"
      -device usb-storage,bus=xhci.0,drive=stick,bootindex=1) ;;
    virtio) args+=(-drive "file=$disk,format=raw,if=virtio,snapshot=on" -boot c) ;;
    *) echo "boot-check: BOOT_USB_BUS must be usb or virtio" >&2; exit 2 ;;
  esac
fi

fatal_re='Kernel panic|Booting kernel failed|you need to load the kernel first|grub rescue>|No bootable device|Boot failed|No bootable option or device|UEFI Interactive Shell|Could not find kernel image|KVM internal error|failed to set MSR'

# fatal_lines: the first fatal message of each source, as
# "SOURCE: LINE" lines (firmware: SeaBIOS's debug port; serial: the
# console, OVMF, GRUB and the kernel; qemu: QEMU's standard error).
fatal_lines() {
  local src f line
  for src in firmware serial qemu; do
    case $src in firmware) f=$fwlog ;; serial) f=$log ;; qemu) f=$work/qemu.err ;; esac
    line=$(clean "$f" | grep -aE -m 1 "$fatal_re" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | cut -c 1-200 || true)
    [ -z "$line" ] || echo "$src: $line"
  done
}

# run_qemu ACCEL: one QEMU run; sets $outcome to finished (the report is
# complete), exited, fatal or timeout, and $qemu_status.
run_qemu() {
  local a=$1 cpu=()
  [ "$a" = kvm ] && cpu=(-cpu host)
  : > "$log"; : > "$fwlog"; : > "$work/qemu.err"
  start=$(now)
  # timeout(1) bounds QEMU even if this script dies without cleaning up;
  # --foreground keeps QEMU in this script's process group, so that killing
  # the group (as the e2e tests do on a deadline) reaches it at once.
  timeout --foreground -k 5 $((timeout + 15)) \
    "$qemu" -accel "$a" "${cpu[@]}" "${args[@]}" >"$work/qemu.out" 2>"$work/qemu.err" &
  qpid=$!
  local deadline=$(( $(date +%s) + timeout )) grace=0
  outcome=timeout
  kernel_at=- init_at=-
  while :; do
    # When the kernel and /init started, for the timing summary.
    if [ "$kernel_at" = - ] && grep -aq 'Linux version' "$log" 2>/dev/null; then kernel_at=$(elapsed "$start"); fi
    if [ "$init_at" = - ] && grep -aq '^E2E-INIT-BEGIN' "$log" 2>/dev/null; then init_at=$(elapsed "$start"); fi
    if grep -q '^E2E-INIT-END' "$log" 2>/dev/null; then
      # The guest powers off by itself; give it a moment, then stop it.
      if ! kill -0 "$qpid" 2>/dev/null || [ "$grace" -ge 25 ]; then outcome=finished; break; fi
      grace=$((grace + 1))
    elif ! kill -0 "$qpid" 2>/dev/null; then
      outcome=exited; break
    elif cat "$log" "$fwlog" "$work/qemu.err" 2>/dev/null | grep -aE "$fatal_re" >/dev/null && [ -n "$(fatal_lines)" ]; then
      # (one cheap grep per poll; fatal_lines, which names the line, only
      # when it hits)
      outcome=fatal; break
    elif [ "$(date +%s)" -ge "$deadline" ]; then
      outcome=timeout; break
    fi
    sleep 0.2
  done
  seconds=$(elapsed "$start")
  if kill -0 "$qpid" 2>/dev/null; then
    kill "$qpid" 2>/dev/null || true
  fi
  qemu_status=0
  wait "$qpid" 2>/dev/null || qemu_status=$?
  qpid=
}

used=$(pick_accel)
run_qemu "$used"
# A KVM that passed the probe can still fail on the real firmware (OVMF) or
# hang: with "auto", a KVM run that did not finish is repeated once under
# TCG before the image is judged.
if [ "$used" = kvm ] && [ "$outcome" != finished ] && [ "$accel" = auto ]; then
  echo "boot-check: KVM run failed ($outcome), retrying with TCG" >&2
  used=tcg
  run_qemu tcg
fi

# The report: E2E lines (the guest's, and GRUB's E2E-GRUB lines), with
# colour codes and carriage returns removed; kernel messages
# ("[    1.234] ...") never start with E2E-.
report=$(clean "$log" | grep -a '^E2E-' || true)
[ -z "$report" ] || printf '%s\n' "$report"
[ -z "$copy_line" ] || printf '%s\n' "$copy_line"
fatal=$(fatal_lines)
[ -z "$fatal" ] || printf '%s\n' "$fatal" | sed 's/^/BOOT-FATAL: /'

val() { printf '%s\n' "$report" | sed -n "s/^$1: //p" | head -n 1; }

# The boot path taken: SeaBIOS names the device class it boots from; GRUB's
# embedded config names the device it was loaded from ($root).
booted_from=-
if [ "$firmware" = bios ]; then
  case $(clean "$fwlog" | grep -a -m 1 '^Booting from ' || true) in
    "Booting from DVD/CD"*) booted_from=cdrom ;;
    "Booting from Hard Disk"*) booted_from=disk ;;
  esac
else
  g=$(printf '%s\n' "$report" | sed -n 's/^E2E-GRUB: loaded from \(([^)]*)\).*/\1/p' | head -n 1)
  [ -z "$g" ] || booted_from=$g
fi

failures=()
if [ "$outcome" != finished ]; then
  failures+=("boot did not reach the marker E2E-INIT-END ($outcome after ${seconds}s)")
  if [ "$outcome" = exited ]; then
    failures+=("QEMU exited by itself with status $qemu_status: $(tail -n 1 "$work/qemu.err" 2>/dev/null)")
  fi
  while IFS= read -r l; do
    [ -z "$l" ] || failures+=("fatal message ($l)")
  done <<< "$fatal"
fi
got_fw=$(val E2E-FIRMWARE)
if [ "$outcome" = finished ] && [ "$got_fw" != "$firmware" ]; then
  failures+=("firmware is '$got_fw', want $firmware")
fi
cmdline=" $(val E2E-CMDLINE) "
if [ "$outcome" = finished ]; then
  case $mode:$booted_from in
    bios-cd:cdrom | bios-usb:disk | uefi-cd:"(cd0)" | uefi-usb:"(hd0,"*) ;;
    bios-cd:*) failures+=("SeaBIOS did not boot from the CD (booted from: $booted_from)") ;;
    bios-usb:*) failures+=("SeaBIOS did not boot from the hard disk (booted from: $booted_from)") ;;
    uefi-cd:*) failures+=("GRUB was not loaded from the CD's El Torito image (cd0) but from $booted_from") ;;
    uefi-usb:*) failures+=("GRUB was not loaded from a partition of the disk (hd0,...) but from $booted_from") ;;
  esac
  for k in ${expect_kargs[@]+"${expect_kargs[@]}"}; do
    case $cmdline in *" $k "*) ;; *) failures+=("kernel command line lacks $k") ;; esac
  done
  for k in ${reject_kargs[@]+"${reject_kargs[@]}"}; do
    case $cmdline in *" $k "*) failures+=("kernel command line has $k") ;; esac
  done
  config=$(val E2E-CONFIG)
  if [ -n "$expect_config" ] && [ "${config%% *}" != "$expect_config" ]; then
    failures+=("config is '${config:-missing}', want $expect_config")
  fi
  if $expect_ignition && [ "$(val E2E-IGNITION)" != "fetch=0 files=0" ]; then
    failures+=("Ignition did not succeed: '$(val E2E-IGNITION)'")
  fi
  initramfs_err=$(val E2E-INITRAMFS-ERROR)
  [ -z "$initramfs_err" ] || failures+=("the kernel rejected an initramfs: $initramfs_err")
fi

result=PASS
[ ${#failures[@]} -eq 0 ] || result=FAIL
echo "BOOT-CHECK mode=$mode result=$result outcome=$outcome firmware=${got_fw:-?} accel=$used booted_from=$booted_from seconds=$seconds kernel_at=$kernel_at init_at=$init_at iso=$iso"
if [ "$result" = FAIL ]; then
  for f in "${failures[@]}"; do echo "boot-check: $mode: $f" >&2; done
  {
    echo "--- last lines of the serial log ($log)"
    clean "$log" | tail -n 25
    if [ -s "$fwlog" ]; then echo "--- firmware debug log"; tail -n 10 "$fwlog"; fi
    if [ -s "$work/qemu.err" ]; then echo "--- QEMU stderr"; tail -n 10 "$work/qemu.err"; fi
  } >&2
  exit 1
fi
