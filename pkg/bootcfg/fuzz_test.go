package bootcfg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{flatcarSyslinux, debianLive, debianMenu, debianInstallerTxt, alpineSyslinux, archSyslinux, archSysLinux, archTail} {
		f.Add([]byte(s), false)
	}
	for _, s := range []string{ubuntuGrub, ubuntuLoopback, debianGrub, alpineGrub} {
		f.Add([]byte(s), true)
	}
	files, _ := filepath.Glob("testdata/*/*.cfg")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, strings.HasSuffix(p, "grub.cfg"))
		}
	}
	f.Add([]byte("LABEL a\r\nKERNEL /k\r\nAPPEND -\r\nLABEL b\nLINUX /k\nINITRD ,\nAPPEND initrd= initrd+=x ---"), false)
	f.Add([]byte("menuentry 'a' {\nlinux (loop)/k a --- b\ninitrd\n}\nlinux16 /k; initrd16 /i\nsource \"$prefix/x\"\n}}}\n"), true)
	for _, s := range []string{
		"menuentry 'x' { linux /flatcar/vmlinuz quiet; initrd /flatcar/cpio.gz; }\n",
		"submenu s { menuentry 'x' { linux /k quiet; initrd /i; } }",
		"menuentry x {\n linux /k quiet; initrd /i\n}\n",
		"menuentry x {\r\n linux /k \\\r\n  a \\\n --- b\r\n initrd /i \\\n /j\r\n}\r\n",
		"menuentry x { linux /k }\nif a; then linux /k; else linux16 /k2; fi\n",
		"menuentry 'a\n{' { linux /k \"a;b\\\"\" 'c}' \\; ${x}; echo; }\n",
		"menuentry x {\n linux /k a \\\n b; echo\n}",
		"function f { linux16 /memtest86+.bin; initrd16 /x; }\nlinux /k #c\\\n",
	} {
		f.Add([]byte(s), true)
	}
}

func syntaxOf(grub bool) Syntax {
	if grub {
		return GRUB
	}
	return Syslinux
}

func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, grub bool) {
		c, err := Parse("boot/x.cfg", syntaxOf(grub), data)
		if err != nil {
			return
		}
		for _, e := range c.Entries {
			if e.Line < 1 || e.Line > len(c.lines) {
				t.Fatalf("entry line %d of %d", e.Line, len(c.lines))
			}
		}
		for _, p := range c.Includes {
			if strings.HasPrefix(p, "/") || p == "" {
				t.Fatalf("include %q", p)
			}
		}
	})
}

func FuzzRewrite(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, grub bool) {
		s := syntaxOf(grub)
		c, err := Parse("boot/x.cfg", s, data)
		if err != nil {
			return
		}
		// The initramfs alone never fails.
		out, changed, err := c.Rewrite(Edit{Initrd: extra})
		if err != nil {
			t.Fatalf("Rewrite(initrd): %v", err)
		}
		if !changed && string(out) != string(data) {
			t.Fatal("unchanged output differs from the input")
		}
		check := func(out []byte, wantArg string) *Config {
			c2, err := Parse("boot/x.cfg", s, out)
			if err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			if len(c2.Entries) != len(c.Entries) {
				t.Fatalf("output has %d entries, input %d:\n%q", len(c2.Entries), len(c.Entries), out)
			}
			for i, e := range c2.Entries {
				if !lastIs(e, extra) {
					t.Fatalf("entry %d (line %d): initrds %q\n%q", i, e.Line, e.Initrds, out)
				}
				if wantArg != "" && !strings.HasSuffix(e.Args, wantArg) {
					t.Fatalf("entry %d (line %d): args %q\n%q", i, e.Line, e.Args, out)
				}
			}
			return c2
		}
		c2 := check(out, "")
		// Idempotent for the initramfs.
		if out2, changed, err := c2.Rewrite(Edit{Initrd: extra}); err != nil || changed || string(out2) != string(out) {
			t.Fatalf("second rewrite: changed=%v err=%v", changed, err)
		}
		// With arguments: may refuse entries whose arguments GRUB
		// could not carry, but must keep the invariants otherwise.
		out, _, err = c.Rewrite(Edit{Initrd: extra, Args: appendArgs("isobuild.x=1")})
		if err != nil {
			return
		}
		check(out, "isobuild.x=1")
	})
}
