package sysarea

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"unicode/utf16"
)

// synth describes a hand-made image for the unit tests and fuzz seeds.
type synth struct {
	size      int64
	mbr       []MBRPartition
	gpt       bool
	entries   uint32 // GPT entry count (128 if 0)
	entryLBA  uint64 // 2 if 0
	parts     []GPTPartition
	apmBS     int // 0: no APM
	apm       []APMEntry
	noBackup  bool
	corruptFn func([]byte)
}

func (s synth) bytes() []byte {
	img := make([]byte, s.size)
	le := binary.LittleEndian
	if s.apmBS != 0 {
		img[0], img[1] = 'E', 'R'
		binary.BigEndian.PutUint16(img[2:], uint16(s.apmBS))
		for i, e := range s.apm {
			b := img[(i+1)*s.apmBS:]
			b[0], b[1] = 'P', 'M'
			binary.BigEndian.PutUint32(b[apmMapCount:], uint32(len(s.apm)))
			putAPM(b, e)
			copy(b[apmName:apmName+32], e.Name)
			copy(b[apmType:apmType+32], e.Type)
		}
	}
	binary.LittleEndian.PutUint32(img[440:], 0xdeadbeef)
	for i, p := range s.mbr {
		p.marshal(img[mbrTableOff+16*i:])
	}
	img[510], img[511] = 0x55, 0xAA
	if s.gpt {
		count := s.entries
		if count == 0 {
			count = 128
		}
		elba := s.entryLBA
		if elba == 0 {
			elba = 2
		}
		arr := make([]byte, count*128)
		for _, p := range s.parts {
			e := arr[p.Index*128:]
			copy(e[0:], p.Type[:])
			copy(e[16:], p.GUID[:])
			le.PutUint64(e[32:], p.First)
			le.PutUint64(e[40:], p.Last)
			le.PutUint64(e[48:], p.Attributes)
			for j, c := range utf16.Encode([]rune(p.Name)) {
				le.PutUint16(e[56+2*j:], c)
			}
		}
		last := uint64(s.size/512) - 1
		arrSec := uint64(len(arr)+511) / 512
		hdr := func(my, alt, entryLBA uint64) []byte {
			h := make([]byte, 92)
			copy(h, gptSignature)
			le.PutUint32(h[8:], 0x00010000)
			le.PutUint32(h[12:], 92)
			le.PutUint64(h[24:], my)
			le.PutUint64(h[32:], alt)
			le.PutUint64(h[40:], elba+arrSec)
			le.PutUint64(h[48:], last-arrSec-1)
			copy(h[56:], "disk-guid-123456")
			le.PutUint64(h[72:], entryLBA)
			le.PutUint32(h[80:], count)
			le.PutUint32(h[84:], 128)
			le.PutUint32(h[88:], crc32.ChecksumIEEE(arr))
			le.PutUint32(h[16:], headerCRC(h))
			return h
		}
		copy(img[512:], hdr(1, last, elba))
		copy(img[elba*512:], arr)
		if !s.noBackup {
			copy(img[(last-arrSec)*512:], arr)
			copy(img[last*512:], hdr(last, 1, last-arrSec))
		}
	}
	if s.corruptFn != nil {
		s.corruptFn(img)
	}
	return img
}

func read(t *testing.T, img []byte) *Layout {
	t.Helper()
	l, err := Read(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return l
}

var basicData = [16]byte{0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7}

// hybrid is a 1 MiB image like isohybrid --uefi makes: whole-image MBR
// entry with 64/32 geometry, an 0xEF entry, GPT partition 1 = the volume.
func hybrid() synth {
	return synth{
		size: 1 << 20,
		mbr: []MBRPartition{
			{Status: 0x80, Type: 0, Start: 0, Sectors: 2048, StartCHS: [3]byte{0, 1, 0}, EndCHS: [3]byte{63, 32, 0}},
			{Type: 0xEF, Start: 100, Sectors: 64, EndCHS: [3]byte{0xfe, 0xff, 0xff}},
		},
		gpt: true,
		parts: []GPTPartition{
			{Index: 0, Type: basicData, GUID: [16]byte{1}, First: 0, Last: 1599, Name: "ISOHybrid ISO"},
			{Index: 1, Type: basicData, GUID: [16]byte{2}, First: 100, Last: 163, Name: "ISOHybrid"},
		},
	}
}

func TestCHS(t *testing.T) {
	for _, c := range []struct {
		lba, h, s uint64
		want      [3]byte
	}{
		{0, 64, 32, [3]byte{0, 1, 0}},
		{4095, 64, 32, [3]byte{63, 32, 1}},
		{16383, 64, 32, [3]byte{63, 32, 7}},
		{5591, 64, 32, [3]byte{46, 24, 2}},               // xorriso's 0xEE end for 5592 sectors
		{1024*2048 - 1, 64, 32, [3]byte{63, 0xe0, 0xff}}, // cylinder 1023: high bits in byte 1
		{1024 * 2048, 64, 32, [3]byte{0xfe, 0xff, 0xff}}, // cylinder 1024
		{255*63*2 - 1, 255, 63, [3]byte{254, 63, 1}},     // 255/63 geometry
		{255 * 63 * 1024, 255, 63, [3]byte{0xfe, 0xff, 0xff}},
	} {
		if got := chs(c.lba, c.h, c.s); got != c.want {
			t.Errorf("chs(%d, %d, %d) = % x, want % x", c.lba, c.h, c.s, got, c.want)
		}
	}
}

func TestGeometry(t *testing.T) {
	m := &MBR{}
	m.Partitions[0] = MBRPartition{Start: 0, Sectors: 255 * 63 * 3, EndCHS: chs(255*63*3-1, 255, 63)}
	if h, s := m.geometry(); h != 255 || s != 63 {
		t.Errorf("geometry = %d/%d, want 255/63", h, s)
	}
	m.Partitions[0].EndCHS = [3]byte{0xfe, 0xff, 0xff}
	if h, s := m.geometry(); h != 64 || s != 32 {
		t.Errorf("geometry without a usable entry = %d/%d, want the default 64/32", h, s)
	}
}

func TestGrowSynthetic(t *testing.T) {
	s := hybrid()
	img := s.bytes()
	l := read(t, img)
	if err := l.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	gr, err := l.Grow(1600*512, 3<<20)
	if err != nil {
		t.Fatal(err)
	}
	// 3 MiB + 33 sectors of backup, rounded up to 1 MiB.
	if gr.Size != 4<<20 || len(gr.Tail) != 33*512 {
		t.Fatalf("size %d tail %d, want %d %d", gr.Size, len(gr.Tail), 4<<20, 33*512)
	}
	out := make([]byte, gr.Size)
	copy(out, img)
	for _, p := range gr.Patches {
		copy(out[p.Off:], p.Data)
	}
	copy(out[gr.Size-int64(len(gr.Tail)):], gr.Tail)
	n := read(t, out)
	if err := n.Verify(); err != nil {
		t.Fatalf("Verify after Grow: %v", err)
	}
	if !bytes.Equal(out[:446], img[:446]) {
		t.Error("bytes 0-445 changed")
	}
	p := n.MBR.Partitions[0]
	if p.Sectors != 8192 || p.EndCHS != [3]byte{63, 32, 3} || p.Status != 0x80 || p.StartCHS != [3]byte{0, 1, 0} {
		t.Errorf("MBR partition 1 = %+v, want 8192 sectors ending at CHS 3/63/32", p)
	}
	if n.MBR.Partitions[1] != l.MBR.Partitions[1] {
		t.Errorf("0xEF entry changed: %+v", n.MBR.Partitions[1])
	}
	g := n.GPT
	if g.BackupLBA != 8191 || g.LastUsable != 8191-33 || n.BackupGPT.EntryLBA != 8191-32 {
		t.Errorf("GPT backup %d, last usable %d, backup array %d", g.BackupLBA, g.LastUsable, n.BackupGPT.EntryLBA)
	}
	if g.Partitions[0].Last != 3<<20/512-1 || g.Partitions[1] != l.GPT.Partitions[1] {
		t.Errorf("GPT partitions %+v", g.Partitions)
	}
	for i := 2048 - 33; i < 2048; i++ {
		if !bytes.Equal(out[i*512:i*512+512], make([]byte, 512)) {
			t.Fatalf("old backup sector %d not zeroed", i)
		}
	}

	// Without a backup header at the last sector nothing there is zeroed:
	// those bytes may be data.
	nb := hybrid()
	nb.noBackup = true
	l2 := read(t, nb.bytes())
	gr2, err := l2.Grow(1600*512, 3<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range gr2.Patches {
		if p.Off >= 32768 {
			t.Errorf("patch at %d+%d in an image without a backup GPT", p.Off, len(p.Data))
		}
	}

	// Not a multiple of 1 MiB: align to 2048 only.
	s.size = 1<<20 + 2048
	l = read(t, s.bytes())
	gr, err = l.Grow(1600*512, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2<<20 + 36*512 /* 33 sectors rounded up to 2048 bytes */); gr.Size != want {
		t.Errorf("size %d, want %d", gr.Size, want)
	}
	for _, c := range [][2]int64{{2047, 2 << 20}, {2048, 1 << 20}, {4 << 20, 8 << 20}} {
		if _, err := l.Grow(c[0], c[1]); err == nil {
			t.Errorf("Grow(%d, %d) accepted", c[0], c[1])
		}
	}
}

func TestProtectiveClamp(t *testing.T) {
	const tib = int64(1) << 40
	l := &Layout{Size: tib, MBR: &MBR{}}
	l.MBR.Partitions[0] = MBRPartition{Type: 0xEE, Start: 1, Sectors: uint32(tib/512 - 1), EndCHS: [3]byte{0xfe, 0xff, 0xff}}
	if err := l.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, c := range []struct {
		newEnd int64
		want   uint32
	}{
		{2 * tib, 0xFFFFFFFF}, // 2^32 sectors: total-1 fits exactly
		{3 * tib, 0xFFFFFFFF}, // clamped
		{tib + mib, uint32((tib+mib)/512 - 1)},
	} {
		gr, err := l.Grow(2048, c.newEnd)
		if err != nil {
			t.Fatal(err)
		}
		if len(gr.Patches) != 1 || gr.Patches[0].Off != 446 {
			t.Fatalf("patches %v", gr.Patches)
		}
		e := gr.Patches[0].Data
		if got := binary.LittleEndian.Uint32(e[12:]); got != c.want || !bytes.Equal(e[5:8], []byte{0xfe, 0xff, 0xff}) {
			t.Errorf("new end %d: 0xEE size %d CHS % x, want %d fe ff ff", c.newEnd, got, e[5:8], c.want)
		}
	}
	// Small image: the 0xEE end CHS is computed, not 0xFEFFFF.
	s := synth{size: 5592 * 512, mbr: []MBRPartition{{Type: 0xEE, Start: 1, Sectors: 5591, StartCHS: [3]byte{0, 2, 0}, EndCHS: [3]byte{46, 24, 2}}}}
	l = read(t, s.bytes())
	gr, err := l.Grow(2048, 5592*512+2048)
	if err != nil {
		t.Fatal(err)
	}
	e := gr.Patches[0].Data
	if got := binary.LittleEndian.Uint32(e[12:]); got != 5595 || !bytes.Equal(e[5:8], []byte{46, 28, 2}) {
		t.Errorf("0xEE size %d CHS % x, want 5595 and 2e 1c 02", got, e[5:8])
	}
	// A wrong protective size is reported with its offset.
	l.MBR.Partitions[0].Sectors = 100
	if err := l.Verify(); err == nil || !strings.Contains(err.Error(), "byte offset 458") {
		t.Errorf("Verify of a short 0xEE entry: %v", err)
	}
	// A whole-image entry cannot describe more than 2^32-1 sectors.
	l = &Layout{Size: mib, MBR: &MBR{}}
	l.MBR.Partitions[0] = MBRPartition{Start: 0, Sectors: mib / 512}
	if _, err := l.Grow(2048, 3*tib); err == nil || !strings.Contains(err.Error(), "byte offset 458") {
		t.Errorf("Grow beyond MBR limits: %v", err)
	}
}

func TestAPMBlockSizes(t *testing.T) {
	for _, bs := range []int{512, 2048} {
		size := int64(1 << 20)
		blocks := uint32(size / int64(bs))
		s := synth{size: size, apmBS: bs, apm: []APMEntry{
			{Start: 1, Count: 3, Name: "Apple", Type: "Apple_partition_map", LogicalCount: 3},
			{Start: 10, Count: 20, Name: "EFI", Type: "Apple_HFS", LogicalCount: 20},
			{Start: 30, Count: blocks - 30, Name: "Gap1", Type: "ISO9660_data", LogicalCount: blocks - 30},
		}}
		img := s.bytes()
		l := read(t, img)
		if l.APM == nil || l.APM.BlockSize != bs || len(l.APM.Entries) != 3 || l.APM.Entries[2].Name != "Gap1" || l.APM.Entries[1].Type != "Apple_HFS" {
			t.Fatalf("bs %d: APM %+v", bs, l.APM)
		}
		if err := l.Verify(); err != nil {
			t.Fatalf("bs %d: Verify: %v", bs, err)
		}
		gr, err := l.Grow(2048, 3<<20)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, gr.Size)
		copy(out, img)
		for _, p := range gr.Patches {
			copy(out[p.Off:], p.Data)
		}
		n := read(t, out)
		e := n.APM.Entries[2]
		want := uint32(gr.Size/int64(bs)) - 30
		if e.Count != want || e.LogicalCount != want || e.Start != 30 || e.Name != "Gap1" {
			t.Errorf("bs %d: last entry %+v, want count %d", bs, e, want)
		}
		if n.APM.Entries[1] != l.APM.Entries[1] || n.APM.Entries[0] != l.APM.Entries[0] {
			t.Errorf("bs %d: other entries changed", bs)
		}
		if err := n.Verify(); err != nil {
			t.Errorf("bs %d: Verify after Grow: %v", bs, err)
		}
		// A last entry that does not reach the image end stays.
		l.APM.Entries[2].Count--
		if gr, _ := l.Grow(2048, 3<<20); len(gr.Patches) != 0 {
			t.Errorf("bs %d: patched a last entry that ends before the image end: %v", bs, gr.Patches)
		}
	}
}

func TestNoMBR(t *testing.T) {
	for _, n := range []int{0, 100, 512, 40000} {
		l, err := Read(bytes.NewReader(make([]byte, n)), int64(n))
		if err != nil || l.MBR != nil || l.GPT != nil || l.APM != nil || l.Size != int64(n) {
			t.Errorf("%d zero bytes: %+v, %v", n, l, err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		name string
		s    synth
		want string
	}{
		{"header size", synth{size: mib, gpt: true, corruptFn: func(b []byte) { le.PutUint32(b[512+12:], 40) }}, "byte offset 524"},
		{"entry size", synth{size: mib, gpt: true, corruptFn: func(b []byte) { le.PutUint32(b[512+84:], 64) }}, "byte offset 596"},
		{"entry count", synth{size: mib, gpt: true, corruptFn: func(b []byte) { le.PutUint32(b[512+80:], 5000) }}, "byte offset 592"},
		{"array size", synth{size: mib, gpt: true, corruptFn: func(b []byte) {
			le.PutUint32(b[512+80:], 4096)
			le.PutUint32(b[512+84:], 4096)
		}}, "exceeds 1048576"},
		{"array beyond end", synth{size: mib, gpt: true, corruptFn: func(b []byte) { le.PutUint64(b[512+72:], 1<<60) }}, "byte offset 584"},
		{"array over the MBR", synth{size: mib, gpt: true, corruptFn: func(b []byte) { le.PutUint64(b[512+72:], 0) }}, "LBA 0 (field at byte offset 584) overlaps"},
		{"backup array over its header", synth{size: mib, gpt: true, corruptFn: func(b []byte) { le.PutUint64(b[mib-512+72:], mib/512-32) }}, "field at byte offset 1048136) overlaps"},
		{"backup entry size", synth{size: mib, gpt: true, corruptFn: func(b []byte) { le.PutUint32(b[mib-512+84:], 0) }},
			"backup gpt: gpt header at byte offset 1048064: entry size 0 at byte offset 1048148"},
		{"apm block size", synth{size: mib, apmBS: 2048, apm: []APMEntry{{Start: 1, Count: 1}}, corruptFn: func(b []byte) { b[2], b[3] = 4, 0 }}, "block size 1024 at byte offset 2"},
		{"apm count", synth{size: mib, apmBS: 2048, apm: []APMEntry{{Start: 1, Count: 1}}, corruptFn: func(b []byte) { b[2048+7] = 99 }}, "count 99 at byte offset 2052"},
		{"apm signature", synth{size: mib, apmBS: 2048, apm: []APMEntry{{Start: 1, Count: 2}, {Start: 3, Count: 4}}, corruptFn: func(b []byte) { b[4096] = 'X' }}, "entry 2 at byte offset 4096"},
	} {
		img := c.s.bytes()
		_, err := Read(bytes.NewReader(img), int64(len(img)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Read error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		name string
		fn   func(b []byte)
		want []string
	}{
		{"array byte", func(b []byte) { b[1024+100] ^= 1 }, []string{"primary array CRC at byte offset 600"}},
		{"header byte", func(b []byte) { b[512+40] ^= 1 }, []string{"primary header CRC at byte offset 528"}},
		{"backup header byte", func(b []byte) { b[mib-512+56] ^= 1 }, []string{"backup header CRC at byte offset 1048080"}},
		{"backup array byte", func(b []byte) { b[mib-33*512] ^= 1 }, []string{"backup array CRC at byte offset 1048152"}},
		{"no backup", func(b []byte) { copy(b[mib-512:], make([]byte, 512)) }, []string{"backup header missing", "byte offset 1048064"}},
		{"alternate", func(b []byte) {
			le.PutUint64(b[512+32:], 5)
			le.PutUint32(b[512+16:], 0)
			le.PutUint32(b[512+16:], headerCRC(b[512:604]))
		}, []string{"AlternateLBA at byte offset 544 is 5"}},
	} {
		s := hybrid()
		s.corruptFn = c.fn
		l := read(t, s.bytes())
		err := l.Verify()
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Verify error %v, want one containing %q", c.name, err, w)
			}
		}
	}
	// A GPT that is fine but sits in a truncated image: the backup is not
	// at the last sector.
	img := hybrid().bytes()
	l := read(t, img[:len(img)-2048])
	if err := l.Verify(); err == nil || !strings.Contains(err.Error(), "want the last sector 2043") {
		t.Errorf("Verify of a truncated image: %v", err)
	}
}

func TestPartitionOffset(t *testing.T) {
	s := synth{size: 2 * mib, mbr: []MBRPartition{{Type: 0xEE, Start: 1, Sectors: 4095}}, gpt: true,
		parts: []GPTPartition{{Index: 0, Type: basicData, First: 64, Last: 2047, Name: "ISO9660"}}}
	img := s.bytes()
	if got := read(t, img).PartitionOffset(); got != 0 {
		t.Errorf("without a twin PVD: offset %d, want 0", got)
	}
	copy(img[32768+16*2048:], "\x01CD001")
	if got := read(t, img).PartitionOffset(); got != 32768 {
		t.Errorf("offset %d, want 32768", got)
	}
	l := &Layout{Size: 2 * mib, MBR: &MBR{}}
	l.MBR.Partitions[0] = MBRPartition{Start: 64, Sectors: 4032, Type: 0x83}
	if got := l.PartitionOffset(); got != 32768 {
		t.Errorf("hand-made MBR layout: offset %d, want 32768", got)
	}
}

func putAPM(b []byte, e APMEntry) {
	be := binary.BigEndian
	be.PutUint32(b[apmStart:], e.Start)
	be.PutUint32(b[apmCount:], e.Count)
	be.PutUint32(b[apmLogStart:], e.LogicalStart)
	be.PutUint32(b[apmLogCount:], e.LogicalCount)
}

// TestGrowTrailingBytes grows the hybrid image with bytes after its backup
// GPT (whole sectors and a size that is not a multiple of 512): the delta
// is measured from AlternateLBA, the old backup there is zeroed, entries
// ending at AlternateLBA+1 are stretched and none ends beyond LastUsable.
func TestGrowTrailingBytes(t *testing.T) {
	for _, extra := range []int{4096, 1000, 512} {
		s := hybrid()
		// GPT partition 1 ends at the image end (over the backup
		// tables): a stretched end is clamped to LastUsable.
		s.parts[0].Last = 2047
		base := s.bytes()
		img := append(bytes.Clone(base), bytes.Repeat([]byte{0xa5}, extra)...)
		l := read(t, img)
		if l.BackupGPT == nil || l.BackupGPT.MyLBA != 2047 {
			t.Fatalf("extra %d: backup GPT %+v, want the one at AlternateLBA 2047", extra, l.BackupGPT)
		}
		if err := l.Verify(); err == nil || !strings.Contains(err.Error(), "AlternateLBA") {
			t.Errorf("extra %d: Verify = %v, want AlternateLBA not at the last sector", extra, err)
		}
		newVol := (int64(len(img))+2047)/2048*2048 + 2<<20
		gr, err := l.Grow(1600*512, newVol)
		if err != nil {
			t.Fatalf("extra %d: Grow: %v", extra, err)
		}
		out := make([]byte, gr.Size)
		copy(out, img)
		for _, p := range gr.Patches {
			if p.Off+int64(len(p.Data)) > int64(len(img)) {
				t.Fatalf("extra %d: patch %d+%d beyond the old image %d", extra, p.Off, len(p.Data), len(img))
			}
			copy(out[p.Off:], p.Data)
		}
		copy(out[gr.Size-int64(len(gr.Tail)):], gr.Tail)
		n := read(t, out)
		if err := n.Verify(); err != nil {
			t.Errorf("extra %d: Verify after Grow: %v", extra, err)
		}
		last := uint64(gr.Size/512) - 1
		g := n.GPT
		if g.BackupLBA != last || g.LastUsable != last-33 {
			t.Errorf("extra %d: backup %d LastUsable %d, want %d %d", extra, g.BackupLBA, g.LastUsable, last, last-33)
		}
		if g.Partitions[0].Last != g.LastUsable || g.Partitions[1] != l.GPT.Partitions[1] {
			t.Errorf("extra %d: GPT partitions %+v, want 1 clamped to LastUsable %d, 2 unchanged", extra, g.Partitions, g.LastUsable)
		}
		if p := n.MBR.Partitions[0]; uint64(p.Sectors) != last+1 {
			t.Errorf("extra %d: MBR partition 1 has %d sectors, want the whole image %d", extra, p.Sectors, last+1)
		}
		for i := 2048 - 33; i < 2048; i++ {
			if !bytes.Equal(out[i*512:i*512+512], make([]byte, 512)) {
				t.Fatalf("extra %d: old backup sector %d not zeroed", extra, i)
			}
		}
		if !bytes.Equal(out[len(base):len(img)], img[len(base):]) {
			t.Errorf("extra %d: the bytes after the old backup GPT changed", extra)
		}
	}
}
