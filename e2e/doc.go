// Package e2e holds isobuild's boot tests: they build a small bootable
// CoreOS-layout live ISO from Debian packages (scripts/make-live-iso.sh),
// customize it with the isobuild binary, boot the pristine and the
// customized images under QEMU in four ways (BIOS and UEFI, from CD and from
// a USB disk; scripts/boot-check.sh), and check in the guest that the kernel
// got the edited arguments and that Debian's real Ignition binary applied
// the embedded config: every file, directory and unit with its contents and
// mode, and nothing else.
//
// The tests are behind the e2e build tag, so that a plain go test ./... stays
// fast and needs no QEMU:
//
//	go test -tags e2e -count=1 -v ./e2e/
//
// They need the Debian packages that .ci/run installs. Outside CI a missing
// tool skips the tests; in CI (CI set in the environment) it fails them.
//
// The expected Ignition result of the isobuild build image is computed from
// the Butane file itself (read as YAML here, not with pkg/butane), and
// Butane features the checker does not understand are refused.
//
// The build-big-config row (bigconfig_test.go) builds with a Butane file
// that writes a generated, incompressible 2 MiB file: the config does not
// fit the 256 KiB initrd embed area, so isobuild must move
// images/ignition.img after the end of the base image (checked with
// xorriso); the row boots the result in the four modes, checks the file's
// sha256 in the guest, and that isobuild iso reset gives back the base ISO.
//
// TestFlatcar does the same for a Flatcar-layout ISO
// (scripts/make-flatcar-iso.sh: ISOLINUX with /syslinux/syslinux.cfg,
// /flatcar/vmlinuz and /flatcar/cpio.gz, an isohybrid MBR and no EFI, so it
// boots in bios-cd and bios-usb only). Its probe /init
// (scripts/e2e/init-flatcar) acts like Flatcar's bootengine: only with
// flatcar.first_boot set does it copy /usr/share/oem/config.ign, brought by
// an extra initramfs, to /usr/lib/ignition/user.ign and run the real
// Ignition. The test checks the base image's layout and boots, then each row
// of flatcarCustomizations: an xorriso remaster that adds /flatcar/oem.img
// with and without first boot, isobuild build --butane
// e2e/testdata/flatcar.bu, and an installer image (isobuild build
// --dest-butane --dest-device), whose live config must write the
// destination config and the unit that runs flatcar-install.
//
// TestDebianLive (debianlive_test.go) does the same for an ISO laid out like
// Debian's live-build output (scripts/make-debian-live-iso.sh: /live/vmlinuz
// and /live/initrd.img, ISOLINUX with isolinux.cfg -> menu.cfg -> live.cfg,
// GRUB with /boot/grub/efi.img and /boot/grub/grub.cfg, /.disk/info, and
// Debian's MBR + GPT + APM hybrid layout), in all four modes. It has no
// Ignition: its probe /init (scripts/e2e/init-generic) reports the kernel
// command line and, for the paths named by e2e.files= or listed in
// /etc/isobuild-e2e-files, an E2E-FILE line each. The test checks the base
// image's layout (configs byte for byte, El Torito entries, the three
// partition tables, Rock Ridge and Joliet) and its exact command line, then
// each row of debianLiveCustomizations: an xorriso remaster that adds
// /live/isobuild.img (an extra initramfs with a file and the list) to both
// initrd lines and isobuild.test=1 to both argument lines, and isobuild
// build --initrd-file ... --iso-file ...:/user-data --karg-append
// isobuild.test=1.
//
// TestUbuntuStyle (ubuntustyle_test.go) does the same for an ISO laid out
// like Ubuntu's (scripts/make-ubuntu-style-iso.sh: /casper/vmlinuz and
// /casper/initrd, GRUB only, the volume also partition 1 at a partition
// offset of 16 blocks with twin trees, the ESP appended as GPT partition 2
// and pointed at by El Torito's UEFI entry), in all four modes, for the
// base and isobuild build --initrd-file ... --iso-file ...:/casper/note.txt
// --karg-append isobuild.test=1. Its grub.cfg lists /casper as partition 1
// shows it; on disk boots the test checks that partition 1 has the new
// files (isobuild grows it and moves the ESP behind them), and that the
// UEFI-USB boot found GRUB on the moved ESP.
//
// All three tables boot their rows with bootRow (rows_test.go).
//
// TestVM (vm_test.go) boots with isobuild vm instead of boot-check.sh, as a
// user trying an image would, with standard input not a terminal so that
// the serial console is plain output: the isobuild build image under BIOS
// and UEFI, checked as TestBoot checks it; the installer image with --disk
// (the probe's stand-in for coreos-installer loads the virtio block modules
// that make-live-iso.sh puts into the initramfs and writes the destination
// config to /dev/vda: the test reads it back from the sparse scratch disk);
// and the installer image with a copy of the base image as the disk, which
// boots first, so the report must be the base image's (no config).
//
// Every script runs in its own process group. Commands are stopped (SIGTERM
// to the group, SIGKILL 10s later) 30s before go test's -timeout, so a test
// that runs out of time fails with its output and leaves no QEMU behind;
// boot-check.sh also runs QEMU under timeout(1). Each test's images and
// serial logs are in its own /tmp/isobuild-e2e-<test>-* directory, removed
// by t.Cleanup; the shared one (isobuild binary, base and built ISO) is
// removed after the last test. Environment:
//
//	ISOBUILD_E2E_CACHE          download and build cache of the scripts
//	ISOBUILD_E2E_BASE_ISO       use this base ISO instead of building one
//	ISOBUILD_E2E_FLATCAR_ISO    the same for the Flatcar base ISO
//	ISOBUILD_E2E_DEBIAN_LIVE_ISO  use this Debian live base ISO instead of building one
//	ISOBUILD_E2E_UBUNTU_STYLE_ISO the same for the Ubuntu-style base ISO
//	ISOBUILD_E2E_JOBS           QEMU runs at a time (default: twice the number of CPUs)
//	ISOBUILD_E2E_ACCEL          auto (default: KVM only if a probe guest runs, probed
//	                            once; a failing KVM boot is retried under TCG), tcg or
//	                            kvm (forced, no retry)
//	ISOBUILD_E2E_KEEP           if set, keep the work directories (ISOs, serial logs)
//	BOOT_TIMEOUT                seconds per QEMU run (default 180)
//	OVMF_CODE, OVMF_VARS        UEFI firmware (as for scripts/boot-check.sh)
package e2e
