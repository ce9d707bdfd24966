package bootcfg

import (
	"errors"
	"strings"
	"testing"
)

const ignURL = "ignition.config.url=http://10.0.2.2/config.ign"

func TestRewrite(t *testing.T) {
	both := Edit{Initrd: extra, Args: appendArgs(ignURL)}
	initrdOnly := Edit{Initrd: extra}
	fcosIso := readTestdata(t, "fcos/isolinux.cfg")
	fcosGrub := readTestdata(t, "fcos/grub.cfg")
	tests := []struct {
		name   string
		path   string
		syntax Syntax
		data   string
		edit   Edit
		want   string // "" = unchanged
	}{
		{
			name: "flatcar isolinux.cfg: no entries", path: "isolinux/isolinux.cfg", syntax: Syslinux,
			data: "INCLUDE /syslinux/syslinux.cfg\n", edit: both,
		},
		{
			name: "flatcar syslinux.cfg", path: "syslinux/syslinux.cfg", syntax: Syslinux, data: flatcarSyslinux, edit: both,
			want: `default flatcar
prompt 1
timeout 15
label flatcar
  menu default
  kernel /flatcar/vmlinuz
  append initrd=/flatcar/cpio.gz,/flatcar/isobuild.img flatcar.autologin ` + ignURL + `
`,
		},
		{
			name: "flatcar syslinux.cfg, initrd only: edited in place", path: "syslinux/syslinux.cfg", syntax: Syslinux,
			data: strings.ReplaceAll(flatcarSyslinux, "append initrd=/flatcar/cpio.gz flatcar.autologin", "append  initrd=/flatcar/cpio.gz\tflatcar.autologin  "),
			edit: initrdOnly,
			want: strings.ReplaceAll(flatcarSyslinux, "append initrd=/flatcar/cpio.gz flatcar.autologin", "append  initrd=/flatcar/cpio.gz,/flatcar/isobuild.img\tflatcar.autologin  "),
		},
		{
			name: "flatcar, CRLF and upper case keywords", path: "SYSLINUX/SYSLINUX.CFG", syntax: Syslinux,
			data: "DEFAULT flatcar\r\nPROMPT 1\r\nLABEL flatcar\r\n  MENU DEFAULT\r\n  KERNEL /flatcar/vmlinuz\r\n  APPEND initrd=/flatcar/cpio.gz flatcar.autologin\r\n# end\r\n",
			edit: both,
			want: "DEFAULT flatcar\r\nPROMPT 1\r\nLABEL flatcar\r\n  MENU DEFAULT\r\n  KERNEL /flatcar/vmlinuz\r\n  APPEND initrd=/flatcar/cpio.gz,/flatcar/isobuild.img flatcar.autologin " + ignURL + "\r\n# end\r\n",
		},
		{
			// The loaders match initrd= case-sensitively: INITRD= is an
			// ordinary argument.
			name: "syslinux: INITRD= in APPEND is not an initrd option", path: "syslinux.cfg", syntax: Syslinux,
			data: "LABEL A\n  KERNEL /VMLINUZ\n  APPEND INITRD=/X.GZ\n",
			edit: initrdOnly,
			want: "LABEL A\n  KERNEL /VMLINUZ\n  APPEND initrd=/flatcar/isobuild.img INITRD=/X.GZ\n",
		},
		{
			name: "fcos isolinux (real)", path: "isolinux/isolinux.cfg", syntax: Syslinux, data: fcosIso, edit: both,
			want: replaceLine(t, fcosIso,
				"  append initrd=/images/pxeboot/initrd.img,/images/ignition.img mitigations=auto,nosmt coreos.liveiso=fedora-coreos-38.20230718.dev.0 ignition.firstboot ignition.platform.id=metal",
				"  append initrd=/images/pxeboot/initrd.img,/images/ignition.img,/flatcar/isobuild.img mitigations=auto,nosmt coreos.liveiso=fedora-coreos-38.20230718.dev.0 ignition.firstboot ignition.platform.id=metal "+ignURL),
		},
		{
			name: "fcos grub (real)", path: "EFI/fedora/grub.cfg", syntax: GRUB, data: fcosGrub, edit: both,
			want: replaceLine(t, replaceLine(t, fcosGrub,
				"\tlinux /images/pxeboot/vmlinuz mitigations=auto,nosmt coreos.liveiso=fedora-coreos-38.20230718.dev.0 ignition.firstboot ignition.platform.id=metal",
				"\tlinux /images/pxeboot/vmlinuz mitigations=auto,nosmt coreos.liveiso=fedora-coreos-38.20230718.dev.0 ignition.firstboot ignition.platform.id=metal "+ignURL),
				"\tinitrd /images/pxeboot/initrd.img /images/ignition.img",
				"\tinitrd /images/pxeboot/initrd.img /images/ignition.img /flatcar/isobuild.img"),
		},
		{
			name: "ubuntu grub: before ---", path: "boot/grub/grub.cfg", syntax: GRUB, data: ubuntuGrub, edit: both,
			want: strings.NewReplacer(
				"\tlinux\t/casper/vmlinuz  ---\n", "\tlinux\t/casper/vmlinuz "+ignURL+" ---\n",
				"\tinitrd\t/casper/initrd\n", "\tinitrd\t/casper/initrd /flatcar/isobuild.img\n",
				"\tlinux\t/casper/hwe-vmlinuz  --- console=ttyS0\n", "\tlinux\t/casper/hwe-vmlinuz "+ignURL+" --- console=ttyS0\n",
				"\tinitrd\t/casper/hwe-initrd\n", "\tinitrd\t/casper/hwe-initrd /flatcar/isobuild.img\n",
			).Replace(ubuntuGrub),
		},
		{
			name: "ubuntu loopback", path: "boot/grub/loopback.cfg", syntax: GRUB, data: ubuntuLoopback, edit: both,
			want: `menuentry "Try or Install Ubuntu" {
	set gfxpayload=keep
	linux	/casper/vmlinuz file=/cdrom/preseed/ubuntu.seed maybe-ubiquity iso-scan/filename=${iso_path} quiet splash ` + ignURL + ` ---
	initrd	/casper/initrd /flatcar/isobuild.img
}
menuentry "Ubuntu (safe graphics)" {
	set gfxpayload=keep
	linux	/casper/vmlinuz nomodeset file=/cdrom/preseed/ubuntu.seed maybe-ubiquity iso-scan/filename=${iso_path} quiet splash ` + ignURL + ` ---
	initrd	/casper/initrd /flatcar/isobuild.img
}
`,
		},
		{
			name: "debian live.cfg: INITRD directive", path: "isolinux/live.cfg", syntax: Syslinux, data: debianLive, edit: both,
			want: `label live-amd64
	menu label ^Live system (amd64)
	menu default
	linux /live/vmlinuz-6.1.0-18-amd64
	initrd /live/initrd.img-6.1.0-18-amd64,/flatcar/isobuild.img
	append boot=live components quiet splash ` + ignURL + `

label live-amd64-failsafe
	menu label Live system (amd64 fail-safe mode)
	linux /live/vmlinuz-6.1.0-18-amd64
	initrd /live/initrd.img-6.1.0-18-amd64,/flatcar/isobuild.img
	append boot=live components memtest noapic noapm nodma nomce nolapic nosmp nosplash vga=788 ` + ignURL + `
`,
		},
		{
			name: "debian menu.cfg: nothing to edit", path: "isolinux/menu.cfg", syntax: Syslinux, data: debianMenu, edit: both,
		},
		{
			name: "debian installer txt.cfg: before ---", path: "isolinux/txt.cfg", syntax: Syslinux, data: debianInstallerTxt, edit: both,
			want: `default install
label install
	menu label ^Install
	kernel /install.amd/vmlinuz
	append initrd=/install.amd/initrd.gz,/flatcar/isobuild.img vga=788 ` + ignURL + ` --- quiet
`,
		},
		{
			name: "debian grub", path: "boot/grub/grub.cfg", syntax: GRUB, data: debianGrub, edit: initrdOnly,
			want: strings.ReplaceAll(debianGrub, "\tinitrd\t/live/initrd.img-6.1.0-18-amd64\n", "\tinitrd\t/live/initrd.img-6.1.0-18-amd64 /flatcar/isobuild.img\n"),
		},
		{
			name: "alpine syslinux: INITRD a,b,c", path: "boot/syslinux/syslinux.cfg", syntax: Syslinux, data: alpineSyslinux, edit: both,
			want: strings.NewReplacer(
				"INITRD /boot/intel-ucode.img,/boot/amd-ucode.img,/boot/initramfs-lts\n", "INITRD /boot/intel-ucode.img,/boot/amd-ucode.img,/boot/initramfs-lts,/flatcar/isobuild.img\n",
				"console=ttyS0,115200\n", "console=ttyS0,115200 "+ignURL+"\n",
			).Replace(alpineSyslinux),
		},
		{
			name: "alpine grub: no indentation", path: "boot/grub/grub.cfg", syntax: GRUB, data: alpineGrub, edit: both,
			want: `set timeout=1

menuentry "Linux lts" {
linux	/boot/vmlinuz-lts modules=loop,squashfs,sd-mod,usb-storage quiet console=tty0 console=ttyS0,115200 ` + ignURL + `
initrd	/boot/initramfs-lts /flatcar/isobuild.img
}
`,
		},
		{
			name: "arch sys-linux", path: "boot/syslinux/archiso_sys-linux.cfg", syntax: Syslinux, data: archSysLinux, edit: initrdOnly,
			want: strings.ReplaceAll(archSysLinux, "/x86_64/initramfs-linux.img\n", "/x86_64/initramfs-linux.img,/flatcar/isobuild.img\n"),
		},
		{
			name: "arch tail: unchanged", path: "boot/syslinux/archiso_tail.cfg", syntax: Syslinux, data: archTail, edit: both,
		},
		{
			name: "syslinux: global APPEND, APPEND -, initrd+=, no APPEND, mixed case, CRLF", path: "syslinux.cfg", syntax: Syslinux,
			data: "DeFaUlT a\r\n" +
				"Append initrd=/g.gz root=/dev/ram0\r\n" +
				"Label a\r\n" +
				"  KeRnEl /vmlinuz\r\n" +
				"label b\r\n" +
				"  LINUX /vmlinuz\r\n" +
				"  aPPEND -\r\n" +
				"LABEL c\r\n" +
				"  KERNEL /vmlinuz\r\n" +
				"  APPEND initrd=/a.gz initrd+=/b.gz quiet\r\n" +
				"LABEL d\r\n" +
				"  kernel menu.c32\r\n",
			edit: initrdOnly,
			want: "DeFaUlT a\r\n" +
				"Append initrd=/g.gz root=/dev/ram0\r\n" +
				"Label a\r\n" +
				"  KeRnEl /vmlinuz\r\n" +
				"  APPEND initrd=/g.gz,/flatcar/isobuild.img root=/dev/ram0\r\n" +
				"label b\r\n" +
				"  LINUX /vmlinuz\r\n" +
				"  aPPEND initrd=/flatcar/isobuild.img\r\n" +
				"LABEL c\r\n" +
				"  KERNEL /vmlinuz\r\n" +
				"  APPEND initrd=/a.gz initrd+=/b.gz,/flatcar/isobuild.img quiet\r\n" +
				"LABEL d\r\n" +
				"  kernel menu.c32\r\n",
		},
		{
			name: "syslinux: new APPEND line, lower case, last line without newline", path: "syslinux.cfg", syntax: Syslinux,
			data: "label a\n\tkernel /vmlinuz\nlabel b\n  kernel /vmlinuz",
			edit: both,
			want: "label a\n\tkernel /vmlinuz\n\tappend initrd=/flatcar/isobuild.img " + ignURL + "\nlabel b\n  kernel /vmlinuz\n  append initrd=/flatcar/isobuild.img " + ignURL,
		},
		{
			name: "syslinux: APPEND without initrd gets one in front; INITRD plus initrd= gets both", path: "syslinux.cfg", syntax: Syslinux,
			data: "LABEL a\n KERNEL /vmlinuz\n APPEND quiet\nLABEL b\n KERNEL /vmlinuz\n INITRD /x.gz\n APPEND initrd=/y.gz\nLABEL c\n KERNEL /vmlinuz\n APPEND\n",
			edit: initrdOnly,
			want: "LABEL a\n KERNEL /vmlinuz\n APPEND initrd=/flatcar/isobuild.img quiet\nLABEL b\n KERNEL /vmlinuz\n INITRD /x.gz,/flatcar/isobuild.img\n APPEND initrd=/y.gz,/flatcar/isobuild.img\nLABEL c\n KERNEL /vmlinuz\n APPEND initrd=/flatcar/isobuild.img\n",
		},
		{
			name: "syslinux: global APPEND with INITRD directive and args change", path: "syslinux.cfg", syntax: Syslinux,
			data: "APPEND quiet\nLABEL a\n  KERNEL /vmlinuz\n  INITRD /i.gz\nLABEL b\n  KERNEL /vmlinuz\n  INITRD /i.gz\n",
			edit: Edit{Initrd: extra, Args: func(e Entry, a string) (string, error) {
				if e.Label == "b" {
					return EditArgs(a, []string{"b=1"}, []string{"quiet"}, nil)
				}
				return a, nil
			}},
			want: "APPEND quiet\nLABEL a\n  KERNEL /vmlinuz\n  INITRD /i.gz,/flatcar/isobuild.img\nLABEL b\n  KERNEL /vmlinuz\n  APPEND b=1\n  INITRD /i.gz,/flatcar/isobuild.img\n",
		},
		{
			name: "syslinux: arguments emptied", path: "syslinux.cfg", syntax: Syslinux,
			data: "LABEL a\n  KERNEL /vmlinuz\n  APPEND quiet\n",
			edit: Edit{Args: func(Entry, string) (string, error) { return "", nil }},
			want: "LABEL a\n  KERNEL /vmlinuz\n  APPEND -\n",
		},
		{
			name: "grub: efi, outside menuentry, device prefix, missing initrd, comments and ;", path: "EFI/BOOT/grub.cfg", syntax: GRUB,
			data: "linux (loop)/vmlinuz 'quoted arg' \"$var\"\r\n" +
				"initrd (loop)/initrd.img\r\n" +
				"menuentry 'Install Fedora 39' --class fedora {\r\n" +
				"\tlinuxefi /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=Fedora-39 quiet\r\n" +
				"\tinitrdefi /images/pxeboot/initrd.img # comment\r\n" +
				"}\r\n" +
				"menuentry \"no initrd\" {\r\n" +
				"    linux16 /vmlinuz quiet # trailing comment\r\n" +
				"}\r\n" +
				"menuentry \"semicolon\" {\r\n" +
				"  linux /vmlinuz quiet; echo hi\r\n" +
				"}\r\n",
			edit: both,
			want: "linux (loop)/vmlinuz 'quoted arg' \"$var\" " + ignURL + "\r\n" +
				"initrd (loop)/initrd.img (loop)/flatcar/isobuild.img\r\n" +
				"menuentry 'Install Fedora 39' --class fedora {\r\n" +
				"\tlinuxefi /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=Fedora-39 quiet " + ignURL + "\r\n" +
				"\tinitrdefi /images/pxeboot/initrd.img /flatcar/isobuild.img # comment\r\n" +
				"}\r\n" +
				"menuentry \"no initrd\" {\r\n" +
				"    linux16 /vmlinuz quiet " + ignURL + " # trailing comment\r\n" +
				"    initrd16 /flatcar/isobuild.img\r\n" +
				"}\r\n" +
				"menuentry \"semicolon\" {\r\n" +
				"  linux /vmlinuz quiet " + ignURL + "; echo hi\r\n" +
				"  initrd /flatcar/isobuild.img\r\n" +
				"}\r\n",
		},
		{
			name: "grub: two linux lines in one block, if/else", path: "boot/grub/grub.cfg", syntax: GRUB,
			data: "menuentry x {\n if [ a ]; then\n  linux /a\n else\n  linux /b\n fi\n initrd /i\n}\n",
			edit: initrdOnly,
			want: "menuentry x {\n if [ a ]; then\n  linux /a\n  initrd /flatcar/isobuild.img\n else\n  linux /b\n fi\n initrd /i /flatcar/isobuild.img\n}\n",
		},
		{
			name: "grub: memtest not an entry", path: "boot/grub/grub.cfg", syntax: GRUB,
			data: "menuentry memtest {\n  linux16 /boot/memtest86+.bin\n}\n", edit: both,
		},
		{
			name: "no edit", path: "syslinux/syslinux.cfg", syntax: Syslinux, data: flatcarSyslinux, edit: Edit{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.path, tt.syntax, tt.data)
			out, changed, err := c.Rewrite(tt.edit)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = tt.data
			}
			if string(out) != want {
				t.Errorf("output:\n%s\nwant:\n%s", out, want)
			}
			if changed != (tt.want != "") {
				t.Errorf("changed = %v, want %v", changed, tt.want != "")
			}
			// The output parses again, to the same number of entries,
			// each with the extra initramfs last.
			c2 := mustParse(t, tt.path, tt.syntax, string(out))
			if len(c2.Entries) != len(c.Entries) {
				t.Fatalf("output has %d entries, input %d", len(c2.Entries), len(c.Entries))
			}
			for _, e := range c2.Entries {
				if tt.edit.Initrd != "" && !lastIs(e, tt.edit.Initrd) {
					t.Errorf("output entry %q (line %d): initrds %q", e.Label, e.Line, e.Initrds)
				}
				if tt.edit.Args != nil && e.Label != "b" && !strings.HasSuffix(e.Args, ignURL) && strings.Contains(tt.name, "flatcar") {
					t.Errorf("output entry %q: args %q", e.Label, e.Args)
				}
			}
			// Idempotence: rewriting the output again with the
			// initramfs only changes nothing.
			if tt.edit.Initrd != "" {
				out2, changed2, err := c2.Rewrite(Edit{Initrd: tt.edit.Initrd})
				if err != nil || changed2 || string(out2) != string(out) {
					t.Errorf("second rewrite: changed=%v err=%v\n%s", changed2, err, out2)
				}
			}
		})
	}
}

// lastIs reports whether the last initramfs of e is p, ignoring a GRUB
// device.
func lastIs(e Entry, p string) bool {
	if len(e.Initrds) == 0 {
		return false
	}
	last := e.Initrds[len(e.Initrds)-1]
	return strings.TrimPrefix(last, devicePrefix(last)) == p
}

func TestRewriteArgsSeeEntry(t *testing.T) {
	c := mustParse(t, "isolinux/live.cfg", Syslinux, debianLive)
	var seen []string
	_, _, err := c.Rewrite(Edit{Args: func(e Entry, a string) (string, error) {
		if a != e.Args {
			t.Errorf("args %q != entry args %q", a, e.Args)
		}
		seen = append(seen, e.Label)
		return a, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != "live-amd64,live-amd64-failsafe" {
		t.Errorf("Args called for %q", seen)
	}
}

func TestRewriteErrors(t *testing.T) {
	sys := mustParse(t, "syslinux/syslinux.cfg", Syslinux, flatcarSyslinux)
	grub := mustParse(t, "boot/grub/grub.cfg", GRUB, ubuntuGrub)
	boom := errors.New("boom")
	ret := func(s string) func(Entry, string) (string, error) {
		return func(Entry, string) (string, error) { return s, nil }
	}
	tests := []struct {
		name string
		c    *Config
		edit Edit
		want string
	}{
		{"relative initrd", sys, Edit{Initrd: "flatcar/x.img"}, "must be absolute"},
		{"comma in initrd", sys, Edit{Initrd: "/a,b"}, `holds ','`},
		{"space in initrd", grub, Edit{Initrd: "/a b"}, `holds ' '`},
		{"args func error", sys, Edit{Args: func(Entry, string) (string, error) { return "", boom }}, "syslinux/syslinux.cfg:6: kernel arguments of entry \"flatcar\": boom"},
		{"newline", sys, Edit{Args: ret("a\nlabel evil")}, "control character"},
		{"initrd= as argument", sys, Edit{Args: ret("initrd=/x")}, "Edit.Initrd"},
		{"grub quote", grub, Edit{Args: ret(`a "b`)}, "unbalanced quotes"},
		{"grub semicolon", grub, Edit{Args: ret(`a; reboot`)}, `unquoted ';'`},
		{"grub brace", grub, Edit{Args: ret(`a }`)}, `unquoted "}"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.c.Rewrite(tt.edit)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			if errors.Is(boom, boom) && tt.name == "args func error" && !errors.Is(err, boom) {
				t.Errorf("err = %v does not wrap the Args error", err)
			}
		})
	}
}
