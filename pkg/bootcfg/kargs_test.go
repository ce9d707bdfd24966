package bootcfg_test

import (
	"strings"
	"testing"

	"github.com/isobuild/isobuild/pkg/bootcfg"
	"github.com/isobuild/isobuild/pkg/embed"
)

func TestEditArgs(t *testing.T) {
	tests := []struct {
		name                 string
		args                 string
		appendA, del, replac []string
		want                 string
		err                  string
	}{
		{name: "append", args: "quiet", appendA: []string{"a=1", " b "}, want: "quiet a=1 b"},
		{name: "append to empty", args: "", appendA: []string{"a"}, want: "a"},
		{name: "delete every exact match", args: "quiet foo quiet=1 bar quiet", del: []string{"quiet"}, want: "foo quiet=1 bar"},
		{name: "delete missing is not an error", args: "a b", del: []string{"c"}, want: "a b"},
		{name: "delete then append", args: "console=tty0 quiet", appendA: []string{"console=ttyS0"}, del: []string{"console=tty0"}, want: "quiet console=ttyS0"},
		{name: "replace", args: "a console=tty0 b", replac: []string{"console=tty0=ttyS0,115200"}, want: "a console=ttyS0,115200 b"},
		{name: "replace missing is not an error", args: "a", replac: []string{"console=tty0=ttyS0"}, want: "a"},
		{name: "replace after append", args: "a", appendA: []string{"x=1"}, replac: []string{"x=1=2"}, want: "a x=2"},
		{name: "bad replace", args: "a", replac: []string{"console=tty0"}, err: "KEY=OLD=NEW"},
		{name: "grub words kept", args: `"$var" 'q a'`, appendA: []string{"z"}, want: `"$var" 'q a' z`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bootcfg.EditArgs(tt.args, tt.appendA, tt.del, tt.replac)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("EditArgs = %q, %v; want %q", got, err, tt.want)
			}
			// Same semantics as the karg areas of package embed.
			ref, rerr := embed.KargsEdit{Append: tt.appendA, Delete: tt.del, Replace: tt.replac}.Apply(tt.args)
			if (rerr != nil) != (err != nil) || ref != got {
				t.Errorf("embed.KargsEdit.Apply = %q, %v; EditArgs = %q, %v", ref, rerr, got, err)
			}
		})
	}
}
