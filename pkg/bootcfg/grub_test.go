package bootcfg

import (
	"strings"
	"testing"
)

// TestRewriteGRUBCommands covers GRUB lines that hold several commands
// (";", "{ ... }" on one line) and commands continued over lines.
func TestRewriteGRUBCommands(t *testing.T) {
	both := Edit{Initrd: extra, Args: appendArgs(ignURL)}
	tests := []struct {
		name    string
		data    string
		edit    Edit
		entries int
		kernels string // kernels of the entries, joined by ","
		want    string
	}{
		{
			name:    "menuentry on one line",
			data:    "menuentry 'x' { linux /flatcar/vmlinuz quiet; initrd /flatcar/cpio.gz; }\n",
			edit:    both,
			entries: 1, kernels: "/flatcar/vmlinuz",
			want: "menuentry 'x' { linux /flatcar/vmlinuz quiet " + ignURL + "; initrd /flatcar/cpio.gz /flatcar/isobuild.img; }\n",
		},
		{
			name:    "menuentry on one line inside a submenu on one line",
			data:    "submenu 'more' { menuentry 'x' { linux /flatcar/vmlinuz quiet; initrd /flatcar/cpio.gz; } }\n",
			edit:    both,
			entries: 1, kernels: "/flatcar/vmlinuz",
			want: "submenu 'more' { menuentry 'x' { linux /flatcar/vmlinuz quiet " + ignURL + "; initrd /flatcar/cpio.gz /flatcar/isobuild.img; } }\n",
		},
		{
			name:    "linux and initrd on one line",
			data:    "menuentry 'x' {\n\tlinux /flatcar/vmlinuz quiet; initrd /flatcar/cpio.gz\n}\n",
			edit:    both,
			entries: 1, kernels: "/flatcar/vmlinuz",
			want: "menuentry 'x' {\n\tlinux /flatcar/vmlinuz quiet " + ignURL + "; initrd /flatcar/cpio.gz /flatcar/isobuild.img\n}\n",
		},
		{
			name:    "linux and initrd on one line, initrd only, no spaces around ;",
			data:    "menuentry \"a;b\" {\r\n  linux /k 'a;b'\"c;d\"\\;e;initrd /i.gz;echo done # x; linux /no\r\n}\r\n",
			edit:    Edit{Initrd: extra},
			entries: 1, kernels: "/k",
			want: "menuentry \"a;b\" {\r\n  linux /k 'a;b'\"c;d\"\\;e;initrd /i.gz /flatcar/isobuild.img;echo done # x; linux /no\r\n}\r\n",
		},
		{
			name:    "no initrd, block closed on the same line: initrd added after linux",
			data:    "menuentry 'x' { linux /k quiet }\nmenuentry 'y' { linux (cd0)/k; }",
			edit:    both,
			entries: 2, kernels: "/k,(cd0)/k",
			want: "menuentry 'x' { linux /k quiet " + ignURL + "; initrd /flatcar/isobuild.img }\n" +
				"menuentry 'y' { linux (cd0)/k " + ignURL + "; initrd (cd0)/flatcar/isobuild.img; }",
		},
		{
			name:    "no initrd, if on one line",
			data:    "if [ x ]; then linux16 /k; else linux16 /k2; fi\n",
			edit:    Edit{Initrd: extra},
			entries: 2, kernels: "/k,/k2",
			want: "if [ x ]; then linux16 /k; initrd16 /flatcar/isobuild.img; else linux16 /k2; initrd16 /flatcar/isobuild.img; fi\n",
		},
		{
			name:    "linux continued on the next lines",
			data:    "menuentry 'x' {\n  linux /flatcar/vmlinuz \\\n    quiet \\\n    --- console=ttyS0\n  initrd /flatcar/cpio.gz\n}\n",
			edit:    both,
			entries: 1, kernels: "/flatcar/vmlinuz",
			want: "menuentry 'x' {\n  linux /flatcar/vmlinuz \\\n    quiet " + ignURL + " \\\n    --- console=ttyS0\n  initrd /flatcar/cpio.gz /flatcar/isobuild.img\n}\n",
		},
		{
			name:    "linux continued, CRLF, no initrd: new line after the last line of the command",
			data:    "menuentry 'x' {\r\n\tlinux \\\r\n\t/k a\"b\\\r\nc\" d\r\n}\r\n",
			edit:    both,
			entries: 1, kernels: "/k",
			want: "menuentry 'x' {\r\n\tlinux \\\r\n\t/k a\"b\\\r\nc\" d " + ignURL + "\r\n\tinitrd /flatcar/isobuild.img\r\n}\r\n",
		},
		{
			name:    "initrd continued, args replaced",
			data:    "menuentry 'x' {\n linux /k a b\n initrd /i1 \\\n  /i2\n}\n",
			edit:    Edit{Initrd: extra, Args: func(Entry, string) (string, error) { return "c", nil }},
			entries: 1, kernels: "/k",
			want: "menuentry 'x' {\n linux /k c\n initrd /i1 \\\n  /i2 /flatcar/isobuild.img\n}\n",
		},
		{
			name:    "continued line followed by a command on the same line",
			data:    "menuentry 'x' {\n linux /k quiet \\\n  a; echo\n}",
			edit:    both,
			entries: 1, kernels: "/k",
			want: "menuentry 'x' {\n linux /k quiet \\\n  a " + ignURL + "; echo\n initrd /flatcar/isobuild.img\n}",
		},
		{
			name:    "quoted braces and a multi-line single-quoted title",
			data:    "menuentry 'a {\nlinux /not-a-command\n}' {\n linux /k '}' \"{\" \\{\n initrd /i\n}\n",
			edit:    Edit{Initrd: extra},
			entries: 1, kernels: "/k",
			want: "menuentry 'a {\nlinux /not-a-command\n}' {\n linux /k '}' \"{\" \\{\n initrd /i /flatcar/isobuild.img\n}\n",
		},
		{
			name:    "function on one line, memtest initrd ignored",
			data:    "function f { insmod gzio; }\nmenuentry m { linux16 /boot/memtest86+.bin; initrd16 /x }\n",
			edit:    both,
			entries: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, "boot/grub/grub.cfg", GRUB, tt.data)
			if len(c.Entries) != tt.entries {
				t.Fatalf("%d entries %+v, want %d", len(c.Entries), c.Entries, tt.entries)
			}
			var kernels []string
			for _, e := range c.Entries {
				kernels = append(kernels, e.Kernel)
			}
			if got := strings.Join(kernels, ","); got != tt.kernels {
				t.Errorf("kernels %q, want %q", got, tt.kernels)
			}
			out, changed, err := c.Rewrite(tt.edit)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = tt.data
			}
			if string(out) != want {
				t.Errorf("output:\n%q\nwant:\n%q", out, want)
			}
			if changed != (tt.want != "") {
				t.Errorf("changed = %v", changed)
			}
			c2 := mustParse(t, "boot/grub/grub.cfg", GRUB, string(out))
			if len(c2.Entries) != len(c.Entries) {
				t.Fatalf("output has %d entries, input %d", len(c2.Entries), len(c.Entries))
			}
			for i, e := range c2.Entries {
				if !lastIs(e, extra) {
					t.Errorf("output entry %d: initrds %q", i, e.Initrds)
				}
				if e.Kernel != c.Entries[i].Kernel || e.Line != c.Entries[i].Line {
					t.Errorf("output entry %d: kernel %q line %d, input %q line %d", i, e.Kernel, e.Line, c.Entries[i].Kernel, c.Entries[i].Line)
				}
				if tt.edit.Args != nil && strings.Contains(tt.data, "quiet") && !strings.HasSuffix(e.Args, ignURL) {
					t.Errorf("output entry %d: args %q", i, e.Args)
				}
			}
			if out2, changed2, err := c2.Rewrite(Edit{Initrd: extra}); err != nil || changed2 || string(out2) != string(out) {
				t.Errorf("second rewrite: changed=%v err=%v\n%q", changed2, err, out2)
			}
		})
	}
}

func TestParseGRUBCommandParts(t *testing.T) {
	c := mustParse(t, "boot/grub/grub.cfg", GRUB,
		"menuentry \"T\" {\n  linux /k a \\\n   b --- \\\n   c\n  initrd /i1; initrd \"/i 2\" \\\n /i3\n}\n")
	if len(c.Entries) != 1 {
		t.Fatalf("entries %+v", c.Entries)
	}
	e := c.Entries[0]
	if e.Label != "T" || e.Line != 2 || e.Kernel != "/k" || e.Args != "a    b" || e.Trailer != "---    c" ||
		strings.Join(e.Initrds, ",") != "/i 2,/i3" {
		t.Errorf("entry %+v", e)
	}
}

func TestParseGRUBErrors(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"initrd before linux", "menuentry x {\n  initrd /i\n  linux /k\n}\n", "boot/grub/grub.cfg:2: initrd command with no linux command"},
		{"initrd outside any entry", "\n\ninitrdefi /i\n", "boot/grub/grub.cfg:3: initrdefi command"},
		{"initrd in its own block", "menuentry x { linux /k; { initrd /i; } }\n", "boot/grub/grub.cfg:1: initrd command"},
		{"linux without kernel", "menuentry x {\n linux\n}\n", "boot/grub/grub.cfg:2: linux command without a kernel path"},
		{"quoted command name", "menuentry x {\n 'initrd' /i\n}\n", "boot/grub/grub.cfg:2: initrd command"},
		{"linux opening a block", "linux /k {\n}\n", "boot/grub/grub.cfg:1: linux command followed by \"{\""},
		{"unterminated quote", "menuentry 'x {\n linux /k\n}\n", "boot/grub/grub.cfg:1: unterminated quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("boot/grub/grub.cfg", GRUB, []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// An unterminated quote with no kernel after it is not an error.
	if _, err := Parse("boot/grub/grub.cfg", GRUB, []byte("echo 'x\n")); err != nil {
		t.Errorf("unterminated quote without linux: %v", err)
	}
}

func TestCheckArgsGRUB(t *testing.T) {
	for _, a := range []string{"a #b", "a {", "a\\", "x'y", "a;b"} {
		if err := checkArgs(GRUB, a); err == nil {
			t.Errorf("checkArgs(%q) = nil", a)
		}
	}
	for _, a := range []string{"a 'b;c' \"d}\" \\#e f#g ${x}", ""} {
		if err := checkArgs(GRUB, a); err != nil {
			t.Errorf("checkArgs(%q) = %v", a, err)
		}
	}
}
