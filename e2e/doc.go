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
// Environment:
//
//	ISOBUILD_E2E_CACHE     download and build cache of the scripts
//	ISOBUILD_E2E_BASE_ISO  use this base ISO instead of building one
//	ISOBUILD_E2E_JOBS      QEMU runs at a time (default: twice the number of CPUs)
//	ISOBUILD_E2E_ACCEL     auto (default: KVM only if a probe guest runs), tcg or kvm
//	ISOBUILD_E2E_KEEP      if set, keep the work directory (ISOs, serial logs)
//	BOOT_TIMEOUT           seconds per QEMU run (default 180)
package e2e
