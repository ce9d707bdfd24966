package sysarea

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// TestMain prints one line about skipped tests (see fixture.Main).
func TestMain(m *testing.M) { fixture.Main(m) }

const (
	isohdpfx    = "/usr/lib/ISOLINUX/isohdpfx.bin"
	isolinuxBin = "/usr/lib/ISOLINUX/isolinux.bin"
	growBy      = 5 << 20
)

func needFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing; .ci/run must install it", path)
		}
		fixture.Skipf(t, "%s is missing", path)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(fixture.NeedTool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tree makes a small ISO source tree with isolinux and, when efi is set,
// a FAT image efiboot.img; it returns the tree and the FAT image path.
func tree(t *testing.T, efi bool) (string, string) {
	t.Helper()
	needFile(t, isolinuxBin)
	needFile(t, isohdpfx)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "isolinux"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(isolinuxBin)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"isolinux/isolinux.bin": bin,
		"hello.txt":             []byte("hello\n"),
	} {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	esp := filepath.Join(dir, "esp.img")
	if efi {
		run(t, "mkfs.vfat", "-C", esp, "1440")
	}
	return root, esp
}

var eltorito = []string{"-R", "-J", "-V", "SYSAREA", "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
	"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"}

func xorrisoISO(t *testing.T, extra ...string) string {
	t.Helper()
	root, esp := tree(t, true)
	out := filepath.Join(t.TempDir(), "x.iso")
	args := append([]string{"-as", "mkisofs", "-quiet", "-o", out}, eltorito...)
	args = append(args, "-isohybrid-mbr", isohdpfx)
	for _, a := range extra {
		if a == "ESP" {
			a = esp
		}
		args = append(args, a)
	}
	if !strings.Contains(strings.Join(extra, " "), "append_partition") {
		if err := os.Rename(esp, filepath.Join(root, "efiboot.img")); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-eltorito-alt-boot", "-e", "efiboot.img", "-no-emul-boot")
	} else {
		args = append(args, "-eltorito-alt-boot", "-e", "--interval:appended_partition_2:all::", "-no-emul-boot")
	}
	run(t, "xorriso", append(args, root)...)
	return out
}

func isohybridISO(t *testing.T, uefi bool) string {
	t.Helper()
	root, esp := tree(t, uefi)
	out := filepath.Join(t.TempDir(), "g.iso")
	args := append([]string{"-quiet", "-o", out}, eltorito...)
	if uefi {
		if err := os.Rename(esp, filepath.Join(root, "efiboot.img")); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-eltorito-alt-boot", "-e", "efiboot.img", "-no-emul-boot")
	}
	run(t, "genisoimage", append(args, root)...)
	if uefi {
		run(t, "isohybrid", "--uefi", out)
	} else {
		run(t, "isohybrid", out)
	}
	return out
}

// volumeEnd returns the end of the ISO 9660 volume from the PVD at LBA 16.
func volumeEnd(t *testing.T, img []byte) int64 {
	t.Helper()
	pvd := img[16*2048:]
	if string(pvd[1:6]) != "CD001" || pvd[0] != 1 {
		t.Fatalf("no primary volume descriptor at LBA 16")
	}
	return int64(binary.LittleEndian.Uint32(pvd[80:])) * 2048
}

// applyGrowth writes the grown image as a remaster would: old bytes with
// the patches, new data after the old end, the PVD volume size repointed,
// the moved partitions, zeros up to the tail and the tail. It returns the path.
func applyGrowth(t *testing.T, old []byte, gr *Growth, newVolEnd int64, withTail bool) string {
	t.Helper()
	img := make([]byte, gr.Size)
	copy(img, old)
	for _, p := range gr.Patches {
		if p.Off < 0 || p.Off+int64(len(p.Data)) > int64(len(old)) {
			t.Fatalf("patch at %d+%d is outside the old image of %d bytes", p.Off, len(p.Data), len(old))
		}
		copy(img[p.Off:], p.Data)
	}
	for i := int64(len(old)); i < newVolEnd; i++ {
		img[i] = byte(i*7 + 1) // appended data
	}
	for _, m := range gr.Moves {
		if m.To < newVolEnd || m.To+m.Length > gr.Size-int64(len(gr.Tail)) || m.From+m.Length > int64(len(old)) {
			t.Fatalf("move %+v: not from the old image to between the volume end %d and the tail", m, newVolEnd)
		}
		copy(img[m.To:], old[m.From:m.From+m.Length])
	}
	if withTail {
		if gr.Size-int64(len(gr.Tail)) < newVolEnd {
			t.Fatalf("tail of %d bytes overlaps the volume ending at %d in an image of %d", len(gr.Tail), newVolEnd, gr.Size)
		}
		copy(img[gr.Size-int64(len(gr.Tail)):], gr.Tail)
	}
	pvd := img[16*2048:]
	binary.LittleEndian.PutUint32(pvd[80:], uint32(newVolEnd/2048))
	binary.BigEndian.PutUint32(pvd[84:], uint32(newVolEnd/2048))
	out := filepath.Join(t.TempDir(), "grown.iso")
	if err := os.WriteFile(out, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

type sfdiskTable struct {
	PartitionTable struct {
		Label      string `json:"label"`
		LastLBA    uint64 `json:"lastlba"`
		Partitions []struct {
			Node  string `json:"node"`
			Start uint64 `json:"start"`
			Size  uint64 `json:"size"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

func sfdiskJSON(t *testing.T, path string) sfdiskTable {
	t.Helper()
	out, err := exec.Command(fixture.NeedTool(t, "sfdisk"), "--json", path).Output()
	if err != nil {
		t.Fatalf("sfdisk --json %s: %v", path, err)
	}
	var st sfdiskTable
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("sfdisk --json: %v\n%s", err, out)
	}
	return st
}

// problemCount runs a verifier and returns its count of problems.
func sgdiskProblems(t *testing.T, path string) (int, string) {
	t.Helper()
	out, _ := exec.Command(fixture.NeedTool(t, "sgdisk"), "-v", path).CombinedOutput()
	s := string(out)
	if strings.Contains(s, "No problems found") {
		return 0, s
	}
	m := regexp.MustCompile(`Identified (\d+) problems?`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("sgdisk -v %s: no verdict in\n%s", path, s)
	}
	n, _ := strconv.Atoi(m[1])
	return n, s
}

func sfdiskErrors(t *testing.T, path string) (int, string) {
	t.Helper()
	out, _ := exec.Command(fixture.NeedTool(t, "sfdisk"), "-V", path).CombinedOutput()
	s := string(out)
	if strings.Contains(s, "No errors detected") {
		return 0, s
	}
	m := regexp.MustCompile(`(\d+) errors? detected`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("sfdisk -V %s: no verdict in\n%s", path, s)
	}
	n, _ := strconv.Atoi(m[1])
	return n, s
}

// xorrisoReport returns the -report_system_area lines and the problems
// among them.
func xorrisoReport(t *testing.T, path string) (string, []string) {
	t.Helper()
	out := run(t, "xorriso", "-indev", path, "-report_system_area", "plain")
	var bad []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "problems") || strings.Contains(line, "WARNING") ||
			strings.Contains(line, "FAILURE") || strings.Contains(line, "SORRY") || strings.Contains(line, "wrong") {
			bad = append(bad, line)
		}
	}
	return out, bad
}

type growCase struct {
	name       string
	build      func(t *testing.T) string
	wantOffset int64
	has        string // tables expected: subset of "mbr gpt apm ee"
	// tail is appended to the tool-made image before Read: bytes after
	// the backup GPT, which is then no longer at the last sector.
	tail []byte
	// check tests the expected new values; old and new are the layouts
	// before and after, newVol the new volume end.
	check func(t *testing.T, old, new *Layout, newVol int64)
}

func TestGrowRealImages(t *testing.T) {
	cases := []growCase{
		{
			name:  "xorriso-gpt-basdat",
			build: func(t *testing.T) string { return xorrisoISO(t, "-isohybrid-gpt-basdat") },
			has:   "mbr gpt",
			check: func(t *testing.T, old, new *Layout, newVol int64) {
				wantMBR(t, new, 0, 0, uint32(new.Size/512)) // whole image
				wantMBRSame(t, old, new, 1)                 // 0xEF
				lu := new.GPT.LastUsable
				wantGPTLast(t, new, 0, (lu+1)&^3-1) // xorriso's ISO partition
				wantGPTSame(t, old, new, 1)
			},
		},
		{
			name:  "xorriso-gpt-apm",
			build: func(t *testing.T) string { return xorrisoISO(t, "-isohybrid-gpt-basdat", "-isohybrid-apm-hfsplus") },
			has:   "mbr gpt apm",
			check: func(t *testing.T, old, new *Layout, newVol int64) {
				wantMBR(t, new, 0, 0, uint32(new.Size/512))
				wantGPTLast(t, new, 0, (new.GPT.LastUsable+1)&^3-1)
				if old.GPT.EntryLBA != 12 || new.GPT.EntryLBA != 12 {
					t.Errorf("GPT array LBA %d -> %d, want 12 after the APM blocks", old.GPT.EntryLBA, new.GPT.EntryLBA)
				}
				// The last APM entry is the EFI image: it must stay.
				if len(new.APM.Entries) != 2 || new.APM.Entries[1] != old.APM.Entries[1] || new.APM.Entries[1].Name != "EFI" {
					t.Errorf("APM entries %+v -> %+v, want the EFI entry unchanged", old.APM.Entries, new.APM.Entries)
				}
			},
		},
		{
			name: "xorriso-hfsplus-apm2048",
			build: func(t *testing.T) string {
				return xorrisoISO(t, "-isohybrid-gpt-basdat", "-hfsplus", "-apm-block-size", "2048")
			},
			has: "mbr gpt apm",
			check: func(t *testing.T, old, new *Layout, newVol int64) {
				wantAPMEnd(t, new, 2048)
			},
		},
		{
			name:  "xorriso-hfsplus-apm512",
			build: func(t *testing.T) string { return xorrisoISO(t, "-hfsplus", "-apm-block-size", "512") },
			has:   "mbr apm",
			check: func(t *testing.T, old, new *Layout, newVol int64) {
				wantMBR(t, new, 0, 0, uint32(new.Size/512))
				wantAPMEnd(t, new, 512)
			},
		},
		{
			name: "xorriso-partition-offset-appended-esp",
			build: func(t *testing.T) string {
				return xorrisoISO(t, "-partition_offset", "16", "-append_partition", "2", "0xef", "ESP", "-appended_part_as_gpt")
			},
			wantOffset: 32768,
			has:        "mbr gpt ee",
			check: func(t *testing.T, old, new *Layout, newVol int64) {
				total := uint64(new.Size / 512)
				wantMBR(t, new, 0, 1, uint32(min(total-1, 0xFFFFFFFF)))
				wantGPTSame(t, old, new, 0) // ISO9660 64..: not at the volume end
				wantGPTSame(t, old, new, 1) // Appended2 (ESP)
				wantGPTLast(t, new, 2, (new.GPT.LastUsable+1)&^3-1)
				if p := findGPT(new, 2); p == nil || p.Name != "Gap1" {
					t.Errorf("GPT partition 3 = %+v, want Gap1", p)
				}
			},
		},
		{
			name:  "isohybrid",
			build: func(t *testing.T) string { return isohybridISO(t, false) },
			has:   "mbr",
			check: func(t *testing.T, old, new *Layout, newVol int64) {
				wantMBR(t, new, 0, 0, uint32(new.Size/512))
			},
		},
		{
			name:  "isohybrid-uefi",
			build: func(t *testing.T) string { return isohybridISO(t, true) },
			has:   "mbr gpt",
			check: func(t *testing.T, old, new *Layout, newVol int64) {
				wantMBR(t, new, 0, 0, uint32(new.Size/512))
				wantMBRSame(t, old, new, 1)
				wantGPTLast(t, new, 0, uint64(newVol/512)-1) // "ISOHybrid ISO" = the volume
				wantGPTSame(t, old, new, 1)
				if new.GPT.LastUsable != new.GPT.BackupLBA-33 {
					t.Errorf("LastUsable %d, want %d", new.GPT.LastUsable, new.GPT.BackupLBA-33)
				}
			},
		},
	}
	// The same images with bytes appended after the backup GPT, as in
	// (cat base.iso; head -c 4096 /dev/zero) > tail.iso: zeros, junk, and
	// lengths that are not a multiple of 512.
	junk := func(n int) []byte { return bytes.Repeat([]byte{0xa5}, n) }
	tails := map[string][][]byte{
		"isohybrid-uefi":                        {make([]byte, 4096), make([]byte, 1000), junk(4096)},
		"xorriso-gpt-basdat":                    {make([]byte, 4096), junk(3000)},
		"xorriso-gpt-apm":                       {junk(2048)},
		"isohybrid":                             {make([]byte, 1000)},
		"xorriso-partition-offset-appended-esp": {make([]byte, 4096)},
	}
	for _, c := range cases[:len(cases):len(cases)] {
		for _, tail := range tails[c.name] {
			d := c
			d.name = fmt.Sprintf("%s+tail%d", c.name, len(tail))
			if tail[0] != 0 {
				d.name += "junk"
			}
			d.tail = tail
			if c.name == "isohybrid" {
				// Without a GPT nothing tells where the old image
				// ended: the MBR entry ending before the stray bytes
				// stays (see Grow).
				d.check = func(t *testing.T, old, new *Layout, newVol int64) { wantMBRSame(t, old, new, 0) }
			}
			cases = append(cases, d)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { testGrow(t, c) })
	}
}

func testGrow(t *testing.T, c growCase) {
	path := c.build(t)
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.tail != nil {
		old = append(old, c.tail...)
		path += ".tail"
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	size := int64(len(old))
	before, err := Read(bytes.NewReader(old), size)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for _, tab := range []struct {
		name string
		got  bool
	}{{"mbr", before.MBR != nil}, {"gpt", before.GPT != nil}, {"apm", before.APM != nil}} {
		if want := strings.Contains(c.has, tab.name); tab.got != want {
			t.Fatalf("%s present = %v, want %v", tab.name, tab.got, want)
		}
	}
	err = before.Verify()
	switch {
	case c.tail != nil && before.GPT != nil:
		// The backup is found where AlternateLBA points, not at the end.
		if b := before.BackupGPT; b == nil || b.MyLBA != before.GPT.BackupLBA || uint64(size/512)-1 == b.MyLBA {
			t.Fatalf("backup GPT %+v, want the one at AlternateLBA %d", b, before.GPT.BackupLBA)
		}
		if err == nil || !strings.Contains(err.Error(), "AlternateLBA") {
			t.Errorf("Verify with %d bytes after the backup GPT: %v, want AlternateLBA not at the last sector", len(c.tail), err)
		}
	case err != nil:
		t.Fatalf("Verify of the tool-made image: %v", err)
	}
	if got := before.PartitionOffset(); got != c.wantOffset {
		t.Errorf("PartitionOffset = %d, want %d", got, c.wantOffset)
	}
	// Our CHS encoding reproduces the end CHS the tool wrote.
	if m := before.MBR; m != nil {
		h, s := m.geometry()
		for i, p := range m.Partitions {
			if p.Sectors != 0 && p.Type != 0xEF {
				if want := chs(uint64(p.Start)+uint64(p.Sectors)-1, h, s); want != p.EndCHS {
					t.Errorf("MBR partition %d from the tool: end CHS % x, chs() gives % x", i+1, p.EndCHS, want)
				}
			}
		}
	}
	oldVol := volumeEnd(t, old)
	newVol := (size+2047)/2048*2048 + growBy // the caller pads to 2048
	gr, err := before.Grow(oldVol, newVol)
	if err != nil {
		t.Fatalf("Grow: %v", err)
	}
	// Size: the padding convention and room for the tail.
	if gr.Size%2048 != 0 || (size%mib == 0 && gr.Size%mib != 0) || gr.Size-int64(len(gr.Tail)) < newVol || gr.Size-newVol > int64(len(gr.Tail))+mib {
		t.Errorf("new size %d for volume end %d, tail %d, old size %d", gr.Size, newVol, len(gr.Tail), size)
	}
	if (before.GPT != nil) != (gr.Tail != nil) {
		t.Errorf("tail of %d bytes with GPT = %v", len(gr.Tail), before.GPT != nil)
	}
	grown := applyGrowth(t, old, gr, newVol, true)
	img, err := os.ReadFile(grown)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img[:446], old[:446]) {
		t.Errorf("bytes 0-445 (boot code, isolinux LBA, disk signature) changed")
	}
	after, err := Read(bytes.NewReader(img), gr.Size)
	if err != nil {
		t.Fatalf("Read of the grown image: %v", err)
	}
	if err := after.Verify(); err != nil {
		t.Errorf("Verify of the grown image: %v", err)
	}
	if after.MBR != nil && after.MBR.Signature != before.MBR.Signature {
		t.Errorf("disk signature %#x -> %#x", before.MBR.Signature, after.MBR.Signature)
	}
	if g := after.GPT; g != nil {
		last := uint64(gr.Size/512) - 1
		if g.BackupLBA != last || after.BackupGPT == nil || after.BackupGPT.MyLBA != last {
			t.Errorf("backup GPT at %d (header says %d), want %d", after.BackupGPT.MyLBA, g.BackupLBA, last)
		}
		if g.DiskGUID != before.GPT.DiskGUID || len(g.Partitions) != len(before.GPT.Partitions) {
			t.Errorf("GPT disk GUID or partition count changed")
		}
		for i, p := range g.Partitions {
			q := before.GPT.Partitions[i]
			if p.GUID != q.GUID || p.Type != q.Type || p.Name != q.Name || p.First != q.First || p.Attributes != q.Attributes {
				t.Errorf("GPT partition %d: %+v -> %+v, only Last may change", p.Index+1, q, p)
			}
		}
		if d := g.LastUsable - before.GPT.LastUsable; d != last-before.GPT.BackupLBA {
			t.Errorf("LastUsable moved by %d, backup by %d", d, last-before.GPT.BackupLBA)
		}
		// The old backup header is gone.
		if off := before.GPT.BackupLBA * 512; string(img[off:off+8]) == gptSignature {
			t.Errorf("old backup GPT header at byte offset %d was not zeroed", off)
		}
		for _, p := range g.Partitions {
			if p.Last > g.LastUsable && findGPT(before, p.Index).Last <= before.GPT.LastUsable {
				t.Errorf("GPT partition %d ends at %d, beyond LastUsable %d", p.Index+1, p.Last, g.LastUsable)
			}
		}
	}
	c.check(t, before, after, newVol)

	compareSfdisk(t, path, grown, after)
	if n0, out0 := sgdiskProblems(t, path); true {
		n1, out := sgdiskProblems(t, grown)
		if n1 > n0 || strings.Contains(out, "CRC") || strings.Contains(out, "secondary header") || strings.Contains(out, "ERROR") ||
			(strings.Contains(out, "overlaps the last partition") && !strings.Contains(out0, "overlaps the last partition")) {
			t.Errorf("sgdisk -v: %d problems, the original had %d:\n%s", n1, n0, out)
		}
	}
	if n0, _ := sfdiskErrors(t, path); true {
		if n1, out := sfdiskErrors(t, grown); n1 > n0 {
			t.Errorf("sfdisk -V: %d errors, the original had %d:\n%s", n1, n0, out)
		}
	}
	out, bad := xorrisoReport(t, grown)
	if len(bad) > 0 {
		t.Errorf("xorriso -report_system_area reports problems: %q\n%s", bad, out)
	}
	if g := after.GPT; g != nil {
		want := regexp.MustCompile(`GPT lba range\s*:\s*` + strconv.FormatUint(g.FirstUsable, 10) + `\s+` +
			strconv.FormatUint(g.LastUsable, 10) + `\s+` + strconv.FormatUint(g.BackupLBA, 10) + `\b`)
		if !want.MatchString(out) {
			t.Errorf("xorriso -report_system_area: want GPT lba range %d %d %d in\n%s", g.FirstUsable, g.LastUsable, g.BackupLBA, out)
		}
	}
	if after.MBR != nil {
		p := after.MBR.Partitions[0]
		want := regexp.MustCompile(`MBR partition\s*:\s*1\s+0x[0-9a-f]{2}\s+0x[0-9a-f]{2}\s+` +
			strconv.FormatUint(uint64(p.Start), 10) + `\s+` + strconv.FormatUint(uint64(p.Sectors), 10) + `\b`)
		if !want.MatchString(out) {
			t.Errorf("xorriso -report_system_area: want MBR partition 1 %d %d in\n%s", p.Start, p.Sectors, out)
		}
	}
}

// compareSfdisk checks that sfdisk reads the grown tables as Read does.
func compareSfdisk(t *testing.T, orig, grown string, l *Layout) {
	t.Helper()
	st0, st := sfdiskJSON(t, orig), sfdiskJSON(t, grown)
	pt := st.PartitionTable
	if pt.Label != st0.PartitionTable.Label {
		t.Errorf("sfdisk label %q -> %q", st0.PartitionTable.Label, pt.Label)
	}
	type span struct{ start, size uint64 }
	var want []span
	switch pt.Label {
	case "dos":
		for _, p := range l.MBR.Partitions {
			if p.Sectors != 0 {
				want = append(want, span{uint64(p.Start), uint64(p.Sectors)})
			}
		}
	case "gpt":
		for _, p := range l.GPT.Partitions {
			want = append(want, span{p.First, p.Last - p.First + 1})
		}
		if pt.LastLBA != l.GPT.LastUsable {
			t.Errorf("sfdisk lastlba %d, want %d", pt.LastLBA, l.GPT.LastUsable)
		}
	default:
		t.Fatalf("sfdisk label %q", pt.Label)
	}
	var got []span
	for _, p := range pt.Partitions {
		got = append(got, span{p.Start, p.Size})
	}
	if len(got) != len(want) {
		t.Fatalf("sfdisk partitions %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("sfdisk partition %d: %v, want %v", i+1, got[i], want[i])
		}
	}
}

func wantMBR(t *testing.T, l *Layout, i int, start, sectors uint32) {
	t.Helper()
	p := l.MBR.Partitions[i]
	if p.Start != start || p.Sectors != sectors {
		t.Errorf("MBR partition %d: start %d size %d, want %d %d", i+1, p.Start, p.Sectors, start, sectors)
	}
	h, s := l.MBR.geometry()
	if want := chs(uint64(start)+uint64(sectors)-1, h, s); p.EndCHS != want {
		t.Errorf("MBR partition %d: end CHS % x, want % x", i+1, p.EndCHS, want)
	}
}

func wantMBRSame(t *testing.T, old, new *Layout, i int) {
	t.Helper()
	if old.MBR.Partitions[i] != new.MBR.Partitions[i] {
		t.Errorf("MBR partition %d changed: %+v -> %+v", i+1, old.MBR.Partitions[i], new.MBR.Partitions[i])
	}
}

func findGPT(l *Layout, index int) *GPTPartition {
	for i := range l.GPT.Partitions {
		if l.GPT.Partitions[i].Index == index {
			return &l.GPT.Partitions[i]
		}
	}
	return nil
}

func wantGPTLast(t *testing.T, l *Layout, index int, last uint64) {
	t.Helper()
	if p := findGPT(l, index); p == nil || p.Last != last {
		t.Errorf("GPT partition %d = %+v, want Last %d", index+1, p, last)
	}
}

func wantGPTSame(t *testing.T, old, new *Layout, index int) {
	t.Helper()
	p, q := findGPT(old, index), findGPT(new, index)
	if p == nil || q == nil || *p != *q {
		t.Errorf("GPT partition %d changed: %+v -> %+v", index+1, p, q)
	}
}

func wantAPMEnd(t *testing.T, l *Layout, bs int) {
	t.Helper()
	if l.APM.BlockSize != bs {
		t.Errorf("APM block size %d, want %d", l.APM.BlockSize, bs)
	}
	e := l.APM.Entries[len(l.APM.Entries)-1]
	if end := int64(e.Start+e.Count) * int64(bs); end != l.Size || e.LogicalCount != e.Count {
		t.Errorf("last APM entry %+v ends at byte %d, want the image end %d with logical count = count", e, end, l.Size)
	}
}

// TestGrowChecksCanFail feeds the verifiers a grown image whose tail (the
// new backup GPT) was left out: each must notice.
func TestGrowChecksCanFail(t *testing.T) {
	path := xorrisoISO(t, "-isohybrid-gpt-basdat")
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Read(bytes.NewReader(old), int64(len(old)))
	if err != nil {
		t.Fatal(err)
	}
	newVol := int64(len(old)) + growBy
	gr, err := l.Grow(volumeEnd(t, old), newVol)
	if err != nil {
		t.Fatal(err)
	}
	bad := applyGrowth(t, old, gr, newVol, false)
	img, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	after, err := Read(bytes.NewReader(img), gr.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := after.Verify(); err == nil || !strings.Contains(err.Error(), "backup header missing") {
		t.Errorf("Verify without the tail: %v, want a missing backup header", err)
	}
	n0, _ := sgdiskProblems(t, path)
	if n1, out := sgdiskProblems(t, bad); n1 <= n0 {
		t.Errorf("sgdisk -v without the tail: %d problems, original %d:\n%s", n1, n0, out)
	}
	if out, probs := xorrisoReport(t, bad); len(probs) == 0 {
		t.Errorf("xorriso -report_system_area saw no problem without the tail:\n%s", out)
	}
}
