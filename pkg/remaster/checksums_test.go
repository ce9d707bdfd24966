package remaster

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestUpdateChecksums(t *testing.T) {
	changed := []File{{Path: "/boot/grub/grub.cfg", Data: []byte("new\n")}, {Path: "/live/isobuild.img", Reader: strings.NewReader("x"), Size: 1}}
	md5hex := func(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }
	list := "0123456789abcdef0123456789abcdef  ./boot/grub/grub.cfg\n" +
		"fedcba9876543210fedcba9876543210  ./casper/vmlinuz\n"
	got, ok, err := updateChecksums([]byte(list), changed, md5.New)
	if err != nil {
		t.Fatal(err)
	}
	want := md5hex([]byte("new\n")) + "  ./boot/grub/grub.cfg\n" +
		"fedcba9876543210fedcba9876543210  ./casper/vmlinuz\n" +
		md5hex([]byte("x")) + "  ./live/isobuild.img\n"
	if !ok || string(got) != want {
		t.Errorf("md5sum.txt:\n%s\nwant\n%s", got, want)
	}
	// sha256sum's binary marker, no "./" prefix and no final newline are
	// kept.
	list = "0000000000000000000000000000000000000000000000000000000000000000 *boot/grub/grub.cfg"
	got, ok, _ = updateChecksums([]byte(list), changed[:1], sha256.New)
	h := sha256.Sum256([]byte("new\n"))
	if want := hex.EncodeToString(h[:]) + " *boot/grub/grub.cfg"; !ok || string(got) != want {
		t.Errorf("sha256sum.txt: %q, want %q", got, want)
	}
	if _, ok, _ := updateChecksums([]byte("not a checksum list\n"), changed, md5.New); ok {
		t.Error("a file without checksum lines was changed")
	}
}
