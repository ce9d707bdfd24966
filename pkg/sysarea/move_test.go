package sysarea

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

var espType = [16]byte{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b}

// appended is a 1 MiB image laid out like xorriso -partition_offset 16
// with an appended ESP, MBR-style as in Arch's ISOs: MBR partition 1 is
// the ISO from the partition offset, MBR partition 2 the 0xEF ESP; the GPT
// has the ISO, the ESP and a gap partition up to LastUsable.
func appended() synth {
	return synth{
		size: 1 << 20,
		mbr: []MBRPartition{
			{Status: 0x80, Type: 0x83, Start: 64, Sectors: 1600 - 64, StartCHS: chs(64, 64, 32), EndCHS: chs(1599, 64, 32)},
			{Type: 0xEF, Start: 1600, Sectors: 256, StartCHS: chs(1600, 64, 32), EndCHS: chs(1855, 64, 32)},
		},
		gpt: true,
		parts: []GPTPartition{
			{Index: 0, Type: basicData, GUID: [16]byte{1}, First: 64, Last: 1599, Name: "ISO9660"},
			{Index: 1, Type: espType, GUID: [16]byte{2}, First: 1600, Last: 1855, Name: "Appended2"},
			{Index: 2, Type: basicData, GUID: [16]byte{3}, First: 1856, Last: (2048-34)&^3 - 1, Name: "Gap1"},
		},
	}
}

func TestGrowMovesAppendedPartitions(t *testing.T) {
	img := appended().bytes()
	for i := 1600 * 512; i < 1856*512; i++ {
		img[i] = byte(i % 251) // the ESP's contents
	}
	l := read(t, img)
	if err := l.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := l.NewOverlaps(nil); err != nil {
		t.Fatalf("the base overlaps: %v", err)
	}
	const newVol = 3 << 20
	gr, err := l.Grow(1600*512, newVol)
	if err != nil {
		t.Fatal(err)
	}
	// 1600*512 = 25*32768: the run keeps its 32 KiB alignment.
	want := Move{From: 1600 * 512, To: newVol, Length: ((2048-34)&^3 - 1600) * 512}
	if len(gr.Moves) != 1 || gr.Moves[0] != want {
		t.Fatalf("moves %+v, want %+v", gr.Moves, want)
	}
	out := make([]byte, gr.Size)
	copy(out, img)
	for _, p := range gr.Patches {
		copy(out[p.Off:], p.Data)
	}
	for _, m := range gr.Moves {
		copy(out[m.To:m.To+m.Length], img[m.From:m.From+m.Length])
	}
	copy(out[gr.Size-int64(len(gr.Tail)):], gr.Tail)
	n := read(t, out)
	if err := n.Verify(); err != nil {
		t.Fatalf("Verify after Grow: %v", err)
	}
	if err := n.NewOverlaps(nil); err != nil {
		t.Errorf("overlaps after Grow: %v", err)
	}
	d := uint32(want.To-want.From) / 512
	h, s := l.MBR.geometry()
	p1, p2 := n.MBR.Partitions[0], n.MBR.Partitions[1]
	if p1.Start != 64 || p1.Sectors != newVol/512-64 || p1.EndCHS != chs(newVol/512-1, h, s) {
		t.Errorf("MBR partition 1 = %+v, want 64 up to the new volume end", p1)
	}
	if p2.Start != 1600+d || p2.Sectors != 256 || p2.StartCHS != chs(uint64(1600+d), h, s) || p2.EndCHS != chs(uint64(1600+d+255), h, s) || p2.Type != 0xEF {
		t.Errorf("MBR partition 2 = %+v, want the ESP moved by %d sectors", p2, d)
	}
	g := n.GPT
	if g.Partitions[0].First != 64 || g.Partitions[0].Last != newVol/512-1 {
		t.Errorf("GPT partition 1 = %+v", g.Partitions[0])
	}
	if e := g.Partitions[1]; e.First != 1600+uint64(d) || e.Last != 1855+uint64(d) || e.GUID != [16]byte{2} {
		t.Errorf("GPT partition 2 = %+v, want moved by %d", e, d)
	}
	if e := g.Partitions[2]; e.First != 1856+uint64(d) || e.Last != (g.LastUsable+1)&^3-1 {
		t.Errorf("GPT partition 3 = %+v, want moved and ending before LastUsable %d", e, g.LastUsable)
	}
	if !bytes.Equal(out[(1600+d)*512:(1856+d)*512], img[1600*512:1856*512]) {
		t.Error("the moved ESP does not hold the old bytes")
	}

	// A volume that already covers everything moves nothing.
	gr, err = l.Grow(1<<20, newVol)
	if err != nil {
		t.Fatal(err)
	}
	if len(gr.Moves) != 0 {
		t.Errorf("moves %+v for a volume that covers the partitions", gr.Moves)
	}

	// A partition beyond the image end cannot be moved.
	bad := appended()
	bad.mbr[1].Sectors = 4096
	lb := read(t, bad.bytes())
	if _, err := lb.Grow(1600*512, newVol); err == nil || !strings.Contains(err.Error(), "mbr partition 2") {
		t.Errorf("Grow with a partition past the end: %v", err)
	}
}

func TestNewOverlaps(t *testing.T) {
	l := read(t, appended().bytes())
	o := read(t, appended().bytes())
	o.GPT.Partitions[1].First = 1500 // into partition 1
	o.MBR.Partitions[1].Start = 1500
	err := o.NewOverlaps(l)
	if err == nil || !strings.Contains(err.Error(), "gpt partitions 1 (sectors 64..1599) and 2") || !strings.Contains(err.Error(), "mbr partitions 1") {
		t.Errorf("NewOverlaps = %v, want the new GPT and MBR overlaps", err)
	}
	// Overlaps the base has already are accepted; with nil, none is.
	if err := o.NewOverlaps(o); err != nil {
		t.Errorf("NewOverlaps of itself: %v", err)
	}
	if err := read(t, hybrid().bytes()).NewOverlaps(nil); err == nil {
		t.Error("the isohybrid layout's intended overlaps not reported with a nil base")
	}
}

// The tables of an Ubuntu-style image (scripts/make-ubuntu-style-iso.sh),
// grown with its ESP and gap partition moved, are valid for sgdisk, fdisk,
// sfdisk and xorriso, and the ESP's FAT reads at its new place.
func TestGrowUbuntuStyle(t *testing.T) {
	for _, tool := range []string{"xorriso", "grub-mkimage", "mkfs.vfat", "mcopy", "mmd", "cpio", "gzip", "mdir"} {
		fixture.NeedTool(t, tool)
	}
	needFile(t, "/bin/busybox")
	needFile(t, "/usr/lib/grub/i386-pc/boot_hybrid.img")
	needFile(t, "/usr/lib/grub/x86_64-efi/linux.mod")
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernel, bytes.Repeat([]byte("k"), 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ubuntu.iso")
	cmd := exec.Command("../../scripts/make-ubuntu-style-iso.sh", path)
	cmd.Env = append(os.Environ(), "ISOBUILD_E2E_VMLINUZ="+kernel, "TMPDIR="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-ubuntu-style-iso.sh: %v\n%s", err, b)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := read(t, old)
	if err := l.Verify(); err != nil {
		t.Fatalf("Verify of the tool-made image: %v", err)
	}
	if l.PartitionOffset() != 32768 || len(l.GPT.Partitions) < 2 {
		t.Fatalf("partition offset %d, GPT %+v", l.PartitionOffset(), l.GPT.Partitions)
	}
	// The ISO data ends where the twin volume does (its PVD at the
	// partition offset + 16 blocks).
	oldVol := 32768 + int64(binary.LittleEndian.Uint32(old[32768+16*2048+80:]))*2048
	esp := l.GPT.Partitions[1]
	if int64(esp.First)*512 != oldVol {
		t.Fatalf("ESP at sector %d, want right after the ISO data at byte %d", esp.First, oldVol)
	}
	newVol := (int64(len(old))+2047)/2048*2048 + growBy
	gr, err := l.Grow(oldVol, newVol)
	if err != nil {
		t.Fatal(err)
	}
	if len(gr.Moves) != 1 || gr.Moves[0].From != oldVol || gr.Moves[0].To < newVol || (gr.Moves[0].To-gr.Moves[0].From)%2048 != 0 {
		t.Fatalf("moves %+v", gr.Moves)
	}
	grown := applyGrowth(t, old, gr, newVol, true)
	img, err := os.ReadFile(grown)
	if err != nil {
		t.Fatal(err)
	}
	n := read(t, img)
	if err := n.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := n.NewOverlaps(nil); err != nil {
		t.Errorf("overlaps: %v", err)
	}
	if p := n.GPT.Partitions[0]; p.First != 64 || int64(p.Last+1)*512 != newVol {
		t.Errorf("GPT partition 1 = %d..%d, want 64..%d", p.First, p.Last, newVol/512-1)
	}
	m := gr.Moves[0]
	e := n.GPT.Partitions[1]
	if int64(e.First)*512 != m.To || e.Last-e.First != esp.Last-esp.First {
		t.Errorf("ESP %d..%d, want %d sectors at %d", e.First, e.Last, esp.Last-esp.First+1, m.To/512)
	}
	if n.MBR.Partitions[0].Type != 0xEE || uint64(n.MBR.Partitions[0].Sectors) != uint64(gr.Size/512)-1 {
		t.Errorf("protective MBR entry %+v", n.MBR.Partitions[0])
	}
	if out := run(t, "mdir", "-i", grown+"@@"+strconv.FormatInt(m.To, 10), "::/EFI/BOOT"); !strings.Contains(out, "BOOTX64") {
		t.Errorf("mdir on the moved ESP:\n%s", out)
	}
	if n, out := sgdiskProblems(t, grown); n != 0 {
		t.Errorf("sgdisk -v:\n%s", out)
	}
	if n, out := sfdiskErrors(t, grown); n != 0 {
		t.Errorf("sfdisk -V:\n%s", out)
	}
	fd, err := exec.Command(fixture.NeedTool(t, "fdisk"), "-l", grown).CombinedOutput()
	if err != nil || strings.Contains(strings.ToLower(string(fd)), "warning") || strings.Contains(string(fd), "overlap") {
		t.Errorf("fdisk -l: %v\n%s", err, fd)
	}
	if out, bad := xorrisoReport(t, grown); len(bad) > 0 {
		t.Errorf("xorriso -report_system_area reports problems: %q\n%s", bad, out)
	}
	compareSfdisk(t, path, grown, n)
}
