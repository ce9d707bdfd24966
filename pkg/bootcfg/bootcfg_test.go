package bootcfg

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const extra = "/flatcar/isobuild.img"

// appendArgs returns an Edit.Args that appends args with EditArgs.
func appendArgs(args ...string) func(Entry, string) (string, error) {
	return func(_ Entry, a string) (string, error) { return EditArgs(a, args, nil, nil) }
}

// entryView is the exported part of an Entry, for comparisons.
type entryView struct {
	Line    int
	Label   string
	Kernel  string
	Initrds []string
	Args    string
	Trailer string
}

func views(es []Entry) []entryView {
	var out []entryView
	for _, e := range es {
		out = append(out, entryView{e.Line, e.Label, e.Kernel, e.Initrds, e.Args, e.Trailer})
	}
	return out
}

func mustParse(t *testing.T, path string, s Syntax, data string) *Config {
	t.Helper()
	c, err := Parse(path, s, []byte(data))
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return c
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replaceLine replaces the one line old of s by new, failing when old is
// not exactly one line of s.
func replaceLine(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, "\n"+old+"\n"); n != 1 {
		t.Fatalf("line %q found %d times", old, n)
	}
	return strings.Replace(s, "\n"+old+"\n", "\n"+new+"\n", 1)
}

const flatcarSyslinux = `default flatcar
prompt 1
timeout 15
label flatcar
  menu default
  kernel /flatcar/vmlinuz
  append initrd=/flatcar/cpio.gz flatcar.autologin
`

const ubuntuGrub = `set timeout=30

loadfont unicode

set menu_color_normal=white/black
set menu_color_highlight=black/light-gray

menuentry "Try or Install Ubuntu Server" {
	set gfxpayload=keep
	linux	/casper/vmlinuz  ---
	initrd	/casper/initrd
}
menuentry "Ubuntu Server with the HWE kernel" {
	set gfxpayload=keep
	linux	/casper/hwe-vmlinuz  --- console=ttyS0
	initrd	/casper/hwe-initrd
}
grub_platform
if [ "$grub_platform" = "efi" ]; then
menuentry 'Boot from next volume' {
	exit 1
}
menuentry 'UEFI Firmware Settings' {
	fwsetup
}
else
menuentry 'Test memory' {
	linux16 /boot/memtest86+.bin
}
fi
`

const ubuntuLoopback = `menuentry "Try or Install Ubuntu" {
	set gfxpayload=keep
	linux	/casper/vmlinuz file=/cdrom/preseed/ubuntu.seed maybe-ubiquity iso-scan/filename=${iso_path} quiet splash ---
	initrd	/casper/initrd
}
menuentry "Ubuntu (safe graphics)" {
	set gfxpayload=keep
	linux	/casper/vmlinuz nomodeset file=/cdrom/preseed/ubuntu.seed maybe-ubiquity iso-scan/filename=${iso_path} quiet splash ---
	initrd	/casper/initrd
}
`

const debianLive = `label live-amd64
	menu label ^Live system (amd64)
	menu default
	linux /live/vmlinuz-6.1.0-18-amd64
	initrd /live/initrd.img-6.1.0-18-amd64
	append boot=live components quiet splash

label live-amd64-failsafe
	menu label Live system (amd64 fail-safe mode)
	linux /live/vmlinuz-6.1.0-18-amd64
	initrd /live/initrd.img-6.1.0-18-amd64
	append boot=live components memtest noapic noapm nodma nomce nolapic nosmp nosplash vga=788
`

const debianMenu = `menu hshift 0
menu width 82

menu title Boot menu
include stdmenu.cfg
include live.cfg
menu begin advanced
    menu label ^Advanced options
	menu title Advanced options
	include stdmenu.cfg
	label mainmenu
		menu label ^Back..
		menu exit
	label hdt
		menu label ^Hardware Detection Tool (HDT)
		com32 hdt.c32
	label memtest
		menu label ^Memory Diagnostic Tool (memtest86+)
		linux /live/memtest
	label local
		menu label Boot from first hard disk
		localboot 0x80
	label chain
		kernel chain.c32
		append hd0
menu end
`

const debianInstallerTxt = `default install
label install
	menu label ^Install
	kernel /install.amd/vmlinuz
	append vga=788 initrd=/install.amd/initrd.gz --- quiet 
`

const debianGrub = `source /boot/grub/config.cfg

# Live boot
menuentry "Live system (amd64)" --hotkey=l {
	linux	/live/vmlinuz-6.1.0-18-amd64 boot=live components quiet splash findiso=${iso_path}
	initrd	/live/initrd.img-6.1.0-18-amd64
}
menuentry "Live system (amd64 fail-safe mode)" {
	linux	/live/vmlinuz-6.1.0-18-amd64 boot=live components memtest noapic noapm nodma nomce nolapic nosmp nosplash vga=788
	initrd	/live/initrd.img-6.1.0-18-amd64
}

# Installer (if any)
source	/boot/grub/install_start.cfg

submenu 'Utilities...' --hotkey=u {

	source /boot/grub/theme.cfg

	# Memtest (if any)
	if [ "${grub_platform}" = "efi" ]; then
		menuentry "UEFI Firmware Settings" {
			fwsetup
		}
	fi
}
`

const alpineSyslinux = `SERIAL 0 115200
TIMEOUT 10
PROMPT 1
DEFAULT lts

LABEL lts
MENU LABEL Linux lts
KERNEL /boot/vmlinuz-lts
INITRD /boot/intel-ucode.img,/boot/amd-ucode.img,/boot/initramfs-lts
FDTDIR /boot/dtbs-lts
APPEND modules=loop,squashfs,sd-mod,usb-storage quiet console=tty0 console=ttyS0,115200

MENU SEPARATOR
`

const alpineGrub = `set timeout=1

menuentry "Linux lts" {
linux	/boot/vmlinuz-lts modules=loop,squashfs,sd-mod,usb-storage quiet console=tty0 console=ttyS0,115200
initrd	/boot/initramfs-lts
}
`

const archSyslinux = `DEFAULT select

LABEL select
COM32 whichsys.c32
APPEND -pxe- pxe -sys- sys -iso- sys

LABEL pxe
CONFIG archiso_pxe.cfg

LABEL sys
CONFIG archiso_sys.cfg
`

const archSys = `INCLUDE archiso_head.cfg

DEFAULT arch64
TIMEOUT 150

INCLUDE archiso_sys-linux.cfg

INCLUDE archiso_tail.cfg
`

const archSysLinux = `LABEL arch64
TEXT HELP
Boot the Arch Linux install medium on BIOS.
KERNEL /not/a/kernel
APPEND it allows you to install Arch Linux or perform system maintenance.
ENDTEXT
MENU LABEL Arch Linux install medium (x86_64, BIOS)
LINUX /arch/boot/x86_64/vmlinuz-linux
INITRD /arch/boot/intel-ucode.img,/arch/boot/amd-ucode.img,/arch/boot/x86_64/initramfs-linux.img
APPEND archisobasedir=arch archisosearchuuid=2024-01-01-10-00-00-00

# Accessibility boot option
LABEL arch64speech
TEXT HELP
Boot the Arch Linux install medium on BIOS with speakup screen reader.
ENDTEXT
MENU LABEL Arch Linux install medium (x86_64, BIOS) with ^speech
LINUX /arch/boot/x86_64/vmlinuz-linux
INITRD /arch/boot/intel-ucode.img,/arch/boot/amd-ucode.img,/arch/boot/x86_64/initramfs-linux.img
APPEND archisobasedir=arch archisosearchuuid=2024-01-01-10-00-00-00 accessibility=on
`

const archTail = `LABEL existing
TEXT HELP
Boot an existing operating system.
ENDTEXT
MENU LABEL Boot existing OS
COM32 chain.c32
APPEND hd0 0

LABEL memtest
MENU LABEL Run Memtest86+ (RAM test)
LINUX /arch/boot/memtest86+/memtest

LABEL reboot
MENU LABEL Reboot
COM32 reboot.c32
`

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		syntax   Syntax
		data     string
		includes []string
		entries  []entryView
	}{
		{
			name: "flatcar isolinux", path: "isolinux/isolinux.cfg", syntax: Syslinux,
			data:     "INCLUDE /syslinux/syslinux.cfg\n",
			includes: []string{"syslinux/syslinux.cfg"},
		},
		{
			name: "flatcar syslinux", path: "syslinux/syslinux.cfg", syntax: Syslinux, data: flatcarSyslinux,
			entries: []entryView{{6, "flatcar", "/flatcar/vmlinuz", []string{"/flatcar/cpio.gz"}, "flatcar.autologin", ""}},
		},
		{
			name: "ubuntu grub", path: "boot/grub/grub.cfg", syntax: GRUB, data: ubuntuGrub,
			entries: []entryView{
				{10, "Try or Install Ubuntu Server", "/casper/vmlinuz", []string{"/casper/initrd"}, "", "---"},
				{15, "Ubuntu Server with the HWE kernel", "/casper/hwe-vmlinuz", []string{"/casper/hwe-initrd"}, "", "--- console=ttyS0"},
			},
		},
		{
			name: "ubuntu loopback", path: "boot/grub/loopback.cfg", syntax: GRUB, data: ubuntuLoopback,
			entries: []entryView{
				{3, "Try or Install Ubuntu", "/casper/vmlinuz", []string{"/casper/initrd"}, "file=/cdrom/preseed/ubuntu.seed maybe-ubiquity iso-scan/filename=${iso_path} quiet splash", "---"},
				{8, "Ubuntu (safe graphics)", "/casper/vmlinuz", []string{"/casper/initrd"}, "nomodeset file=/cdrom/preseed/ubuntu.seed maybe-ubiquity iso-scan/filename=${iso_path} quiet splash", "---"},
			},
		},
		{
			name: "debian live.cfg", path: "isolinux/live.cfg", syntax: Syslinux, data: debianLive,
			entries: []entryView{
				{4, "live-amd64", "/live/vmlinuz-6.1.0-18-amd64", []string{"/live/initrd.img-6.1.0-18-amd64"}, "boot=live components quiet splash", ""},
				{10, "live-amd64-failsafe", "/live/vmlinuz-6.1.0-18-amd64", []string{"/live/initrd.img-6.1.0-18-amd64"}, "boot=live components memtest noapic noapm nodma nomce nolapic nosmp nosplash vga=788", ""},
			},
		},
		{
			name: "debian menu.cfg: menu.c32, com32, memtest, localboot, chain", path: "isolinux/menu.cfg", syntax: Syslinux, data: debianMenu,
			includes: []string{"isolinux/stdmenu.cfg", "isolinux/live.cfg", "isolinux/stdmenu.cfg"},
		},
		{
			name: "debian installer txt.cfg", path: "isolinux/txt.cfg", syntax: Syslinux, data: debianInstallerTxt,
			entries: []entryView{{4, "install", "/install.amd/vmlinuz", []string{"/install.amd/initrd.gz"}, "vga=788", "--- quiet"}},
		},
		{
			name: "debian grub", path: "boot/grub/grub.cfg", syntax: GRUB, data: debianGrub,
			includes: []string{"boot/grub/config.cfg", "boot/grub/install_start.cfg", "boot/grub/theme.cfg"},
			entries: []entryView{
				{5, "Live system (amd64)", "/live/vmlinuz-6.1.0-18-amd64", []string{"/live/initrd.img-6.1.0-18-amd64"}, "boot=live components quiet splash findiso=${iso_path}", ""},
				{9, "Live system (amd64 fail-safe mode)", "/live/vmlinuz-6.1.0-18-amd64", []string{"/live/initrd.img-6.1.0-18-amd64"}, "boot=live components memtest noapic noapm nodma nomce nolapic nosmp nosplash vga=788", ""},
			},
		},
		{
			name: "alpine syslinux", path: "boot/syslinux/syslinux.cfg", syntax: Syslinux, data: alpineSyslinux,
			entries: []entryView{{8, "lts", "/boot/vmlinuz-lts", []string{"/boot/intel-ucode.img", "/boot/amd-ucode.img", "/boot/initramfs-lts"}, "modules=loop,squashfs,sd-mod,usb-storage quiet console=tty0 console=ttyS0,115200", ""}},
		},
		{
			name: "arch syslinux", path: "boot/syslinux/syslinux.cfg", syntax: Syslinux, data: archSyslinux,
			includes: []string{"boot/syslinux/archiso_pxe.cfg", "boot/syslinux/archiso_sys.cfg"},
		},
		{
			name: "arch sys", path: "boot/syslinux/archiso_sys.cfg", syntax: Syslinux, data: archSys,
			includes: []string{"boot/syslinux/archiso_head.cfg", "boot/syslinux/archiso_sys-linux.cfg", "boot/syslinux/archiso_tail.cfg"},
		},
		{
			name: "arch sys-linux: TEXT HELP blocks", path: "boot/syslinux/archiso_sys-linux.cfg", syntax: Syslinux, data: archSysLinux,
			entries: []entryView{
				{8, "arch64", "/arch/boot/x86_64/vmlinuz-linux", []string{"/arch/boot/intel-ucode.img", "/arch/boot/amd-ucode.img", "/arch/boot/x86_64/initramfs-linux.img"}, "archisobasedir=arch archisosearchuuid=2024-01-01-10-00-00-00", ""},
				{18, "arch64speech", "/arch/boot/x86_64/vmlinuz-linux", []string{"/arch/boot/intel-ucode.img", "/arch/boot/amd-ucode.img", "/arch/boot/x86_64/initramfs-linux.img"}, "archisobasedir=arch archisosearchuuid=2024-01-01-10-00-00-00 accessibility=on", ""},
			},
		},
		{name: "arch tail: no Linux entries", path: "boot/syslinux/archiso_tail.cfg", syntax: Syslinux, data: archTail},
		{
			name: "mixed case, CRLF, global append, initrd+=, APPEND -", path: "syslinux.cfg", syntax: Syslinux,
			data: "DeFaUlT a\r\nAppend initrd=/g.gz root=/dev/ram0\r\nLabel a\r\n  KeRnEl /vmlinuz\r\nlabel b\r\n  LINUX /vmlinuz\r\n  aPPEND -\r\nLABEL c\r\n  KERNEL /vmlinuz\r\n  APPEND initrd=/a.gz initrd+=/b.gz quiet\r\nLABEL d\r\n  kernel menu.c32\r\n",
			entries: []entryView{
				{4, "a", "/vmlinuz", []string{"/g.gz"}, "root=/dev/ram0", ""},
				{6, "b", "/vmlinuz", nil, "", ""},
				{9, "c", "/vmlinuz", []string{"/a.gz", "/b.gz"}, "quiet", ""},
			},
		},
		{
			name: "grub: efi commands, outside menuentry, variables, quotes, sources", path: "EFI/BOOT/grub.cfg", syntax: GRUB,
			data: `set prefix=($root)/EFI/BOOT
source ${prefix}/theme.cfg
configfile "($root)/boot/grub/x86_64-efi/grub.cfg"
source $cfgdir/other.cfg
linux ($root)/vmlinuz 'quoted arg' "$var" root=live:CDLABEL=Fedora
initrd ($root)/initrd.img
menuentry 'Install Fedora 39' --class fedora {
	linuxefi /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=Fedora-39 quiet
	initrdefi /images/pxeboot/initrd.img
}
menuentry "no initrd" {
	linux /vmlinuz quiet # trailing comment
}
function load_video {
	insmod all_video
}
`,
			includes: []string{"EFI/BOOT/theme.cfg", "boot/grub/x86_64-efi/grub.cfg"},
			entries: []entryView{
				{5, "", "($root)/vmlinuz", []string{"($root)/initrd.img"}, `'quoted arg' "$var" root=live:CDLABEL=Fedora`, ""},
				{8, "Install Fedora 39", "/images/pxeboot/vmlinuz", []string{"/images/pxeboot/initrd.img"}, "inst.stage2=hd:LABEL=Fedora-39 quiet", ""},
				{12, "no initrd", "/vmlinuz", nil, "quiet", ""},
			},
		},
		{
			name: "fcos isolinux (real)", path: "isolinux/isolinux.cfg", syntax: Syslinux, data: readTestdata(t, "fcos/isolinux.cfg"),
			entries: []entryView{{69, "linux", "/images/pxeboot/vmlinuz", []string{"/images/pxeboot/initrd.img", "/images/ignition.img"}, "mitigations=auto,nosmt coreos.liveiso=fedora-coreos-38.20230718.dev.0 ignition.firstboot ignition.platform.id=metal", ""}},
		},
		{
			name: "fcos grub (real)", path: "EFI/fedora/grub.cfg", syntax: GRUB, data: readTestdata(t, "fcos/grub.cfg"),
			entries: []entryView{{33, "Fedora CoreOS (Live)", "/images/pxeboot/vmlinuz", []string{"/images/pxeboot/initrd.img", "/images/ignition.img"}, "mitigations=auto,nosmt coreos.liveiso=fedora-coreos-38.20230718.dev.0 ignition.firstboot ignition.platform.id=metal", ""}},
		},
		{
			name: "rhcos grub (real, 2020)", path: "EFI/redhat/grub.cfg", syntax: GRUB, data: readTestdata(t, "rhcos/grub.cfg"),
			entries: []entryView{{31, "RHEL CoreOS (Live)", "/images/pxeboot/vmlinuz", []string{"/images/pxeboot/initrd.img", "/images/ignition.img"}, "random.trust_cpu=on rd.luks.options=discard coreos.liveiso=rhcos-46.82.202112161843-0 ignition.firstboot ignition.platform.id=metal", ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.path, tt.syntax, tt.data)
			if !reflect.DeepEqual(c.Includes, tt.includes) {
				t.Errorf("Includes = %q, want %q", c.Includes, tt.includes)
			}
			if got := views(c.Entries); !reflect.DeepEqual(got, tt.entries) {
				t.Errorf("Entries =\n%+v\nwant\n%+v", got, tt.entries)
			}
			for _, e := range c.Entries {
				if e.Path != tt.path {
					t.Errorf("entry %q: Path = %q", e.Label, e.Path)
				}
			}
		})
	}
}

func TestParseUnresolved(t *testing.T) {
	c := mustParse(t, "EFI/BOOT/grub.cfg", GRUB, "source $cfgdir/other.cfg\n. /boot/grub/dot.cfg\nsource\n"+
		"source $prefix/a.cfg\nset prefix=($root)/boot/grub\nconfigfile ${prefix}/grub.cfg\nset prefix=$x\nsource \"$prefix/b.cfg\"\n")
	if want := []string{"$cfgdir/other.cfg", `"$prefix/b.cfg"`}; !reflect.DeepEqual(c.Unresolved, want) {
		t.Errorf("Unresolved = %q, want %q", c.Unresolved, want)
	}
	if want := []string{"boot/grub/dot.cfg", "EFI/BOOT/a.cfg", "boot/grub/grub.cfg"}; !reflect.DeepEqual(c.Includes, want) {
		t.Errorf("Includes = %q, want %q", c.Includes, want)
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse("x.cfg", Syntax(7), nil); err == nil || !strings.Contains(err.Error(), "x.cfg") {
		t.Errorf("unknown syntax: err = %v", err)
	}
	if _, err := Parse("big.cfg", GRUB, make([]byte, MaxSize+1)); err == nil || !strings.Contains(err.Error(), "big.cfg") {
		t.Errorf("oversized file: err = %v", err)
	}
	if s := Syntax(9).String(); s != "Syntax(9)" {
		t.Errorf("String = %q", s)
	}
	if Syslinux.String() != "syslinux" || GRUB.String() != "grub" {
		t.Errorf("String: %q %q", Syslinux, GRUB)
	}
}
