package bootcfg

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func paths(cs []*Config) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Path+":"+c.Syntax.String())
	}
	return out
}

func TestDiscover(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want []string
	}{
		{
			name: "flatcar",
			fs: fstest.MapFS{
				"isolinux/isolinux.cfg": file("INCLUDE /syslinux/syslinux.cfg\n"),
				"isolinux/isolinux.bin": file("bin"),
				"syslinux/syslinux.cfg": file(flatcarSyslinux),
				"flatcar/vmlinuz":       file("k"),
			},
			// syslinux/syslinux.cfg is also a root: found once.
			want: []string{"isolinux/isolinux.cfg:syslinux", "syslinux/syslinux.cfg:syslinux"},
		},
		{
			name: "upper-case ISO 9660 names, arch include chain with a cycle",
			fs: fstest.MapFS{
				"BOOT/SYSLINUX/SYSLINUX.CFG":          file(archSyslinux),
				"BOOT/SYSLINUX/ARCHISO_SYS.CFG":       file(archSys),
				"BOOT/SYSLINUX/ARCHISO_SYS-LINUX.CFG": file(archSysLinux),
				"BOOT/SYSLINUX/ARCHISO_TAIL.CFG":      file(archTail + "INCLUDE archiso_sys.cfg\nINCLUDE SYSLINUX.CFG\n"),
				"BOOT/SYSLINUX/ARCHISO_HEAD.CFG":      file("MENU TITLE Arch\n"),
				// archiso_pxe.cfg is missing: skipped.
				"EFI/BOOT/BOOTX64.EFI": file("efi"),
			},
			want: []string{
				"BOOT/SYSLINUX/SYSLINUX.CFG:syslinux", "BOOT/SYSLINUX/ARCHISO_SYS.CFG:syslinux",
				"BOOT/SYSLINUX/ARCHISO_HEAD.CFG:syslinux", "BOOT/SYSLINUX/ARCHISO_SYS-LINUX.CFG:syslinux",
				"BOOT/SYSLINUX/ARCHISO_TAIL.CFG:syslinux",
			},
		},
		{
			name: "fcos: isolinux and EFI/fedora, EFI/BOOT without grub.cfg",
			fs: fstest.MapFS{
				"isolinux/isolinux.cfg": file(readTestdata(t, "fcos/isolinux.cfg")),
				"EFI/fedora/grub.cfg":   file(readTestdata(t, "fcos/grub.cfg")),
				"EFI/BOOT/BOOTX64.EFI":  file("efi"),
				"images/efiboot.img":    file("fat"),
			},
			want: []string{"isolinux/isolinux.cfg:syslinux", "EFI/fedora/grub.cfg:grub"},
		},
		{
			name: "debian live: menu includes, grub sources, ${prefix}, loopback",
			fs: fstest.MapFS{
				"isolinux/isolinux.cfg":        file("include menu.cfg\ndefault vesamenu.c32\nprompt 0\ntimeout 0\n"),
				"isolinux/menu.cfg":            file(debianMenu),
				"isolinux/stdmenu.cfg":         file("menu background splash.png\n"),
				"isolinux/live.cfg":            file(debianLive),
				"boot/grub/grub.cfg":           file(debianGrub),
				"boot/grub/config.cfg":         file("set timeout=5\nsource ${prefix}/extra.cfg\n"),
				"boot/grub/extra.cfg":          file("configfile /boot/grub/grub.cfg\n"),
				"boot/grub/theme.cfg":          file("set theme=/boot/grub/theme/1\n"),
				"boot/grub/loopback.cfg":       file(ubuntuLoopback),
				"boot/grub/install_start.cfg/": {Mode: 0o755 | 1<<31}, // a directory: skipped
			},
			want: []string{
				"isolinux/isolinux.cfg:syslinux", "boot/grub/grub.cfg:grub", "boot/grub/loopback.cfg:grub",
				"isolinux/menu.cfg:syslinux", "boot/grub/config.cfg:grub", "boot/grub/theme.cfg:grub",
				"isolinux/stdmenu.cfg:syslinux", "isolinux/live.cfg:syslinux", "boot/grub/extra.cfg:grub",
			},
		},
		{
			name: "ubuntu: mixed case names, every EFI directory",
			fs: fstest.MapFS{
				"Boot/Grub/Grub.Cfg":     file(ubuntuGrub),
				"boot/grub/LOOPBACK.CFG": file(ubuntuLoopback),
				"boot/grub/grub.cfg":     file("# twin of Boot/Grub/Grub.Cfg\n"),
				"efi/boot/grub.cfg":      file("search --set=root --file /.disk/info\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n"),
				"efi/ubuntu/GRUB.CFG":    file("configfile ($root)/boot/grub/grub.cfg\n"),
			},
			// "boot" matches exactly, yet Boot/Grub/Grub.Cfg is found.
			want: []string{"boot/grub/grub.cfg:grub", "Boot/Grub/Grub.Cfg:grub", "efi/boot/grub.cfg:grub", "efi/ubuntu/GRUB.CFG:grub", "boot/grub/LOOPBACK.CFG:grub"},
		},
		{name: "empty", fs: fstest.MapFS{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := Discover(tt.fs)
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(cs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Discover =\n%q\nwant\n%q", got, tt.want)
			}
			for _, c := range cs {
				if string(c.Data) != string(tt.fs[c.Path].Data) {
					t.Errorf("%s: Data differs from the file", c.Path)
				}
			}
		})
	}
}

func TestDiscoverEntries(t *testing.T) {
	fsys := fstest.MapFS{
		"ISOLINUX/ISOLINUX.CFG": file("INCLUDE /SYSLINUX/SYSLINUX.CFG\n"),
		"SYSLINUX/SYSLINUX.CFG": file(flatcarSyslinux),
	}
	cs, err := Discover(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, c := range cs {
		for _, e := range c.Entries {
			n++
			if e.Path != "SYSLINUX/SYSLINUX.CFG" || e.Kernel != "/flatcar/vmlinuz" {
				t.Errorf("entry %+v", e)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d entries, want 1", n)
	}
}

func TestDiscoverLimits(t *testing.T) {
	// A chain of MaxDepth+2 files, each including the next.
	chain := fstest.MapFS{}
	for i := 0; i <= MaxDepth+1; i++ {
		name := fmt.Sprintf("isolinux/c%d.cfg", i)
		if i == 0 {
			name = "isolinux/isolinux.cfg"
		}
		chain[name] = file(fmt.Sprintf("INCLUDE c%d.cfg\n", i+1))
	}
	if _, err := Discover(chain); err == nil || !strings.Contains(err.Error(), "deeper than") {
		t.Errorf("deep chain: err = %v", err)
	}
	// One file including more than MaxFiles others.
	wide := fstest.MapFS{}
	var b strings.Builder
	for i := 0; i < MaxFiles+1; i++ {
		fmt.Fprintf(&b, "INCLUDE w%d.cfg\n", i)
		wide[fmt.Sprintf("isolinux/w%d.cfg", i)] = file("")
	}
	wide["isolinux/isolinux.cfg"] = file(b.String())
	if _, err := Discover(wide); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("wide: err = %v", err)
	}
	big := fstest.MapFS{"boot/grub/grub.cfg": {Data: make([]byte, MaxSize+1)}}
	if _, err := Discover(big); err == nil || !strings.Contains(err.Error(), "boot/grub/grub.cfg") {
		t.Errorf("big file: err = %v", err)
	}
}
