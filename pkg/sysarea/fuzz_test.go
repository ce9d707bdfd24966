package sysarea

import (
	"io"
	"testing"
)

// sparse is an image of size bytes whose first bytes are data and the rest
// zeros, so that the fuzzer can declare big images cheaply.
type sparse struct {
	data []byte
	size int64
}

func (s sparse) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.size {
		return 0, io.EOF
	}
	var err error
	if rest := s.size - off; int64(len(p)) > rest {
		p, err = p[:rest], io.EOF
	}
	n := 0
	if off < int64(len(s.data)) {
		n = copy(p, s.data[off:])
	}
	clear(p[n:])
	return len(p), err
}

func FuzzRead(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input byte by byte.
	f.Add(synth{size: 4096, gpt: true, entries: 4,
		mbr:   []MBRPartition{{Status: 0x80, Sectors: 8, EndCHS: [3]byte{0, 8, 0}}, {Type: 0xEF, Start: 4, Sectors: 2}},
		parts: []GPTPartition{{Index: 0, Type: basicData, Last: 5, Name: "ISO"}, {Index: 3, Type: basicData, First: 4, Last: 5}}}.bytes(), uint32(0))
	f.Add(synth{size: 4096, gpt: true, entries: 4, mbr: []MBRPartition{{Type: 0xEE, Start: 1, Sectors: 7}}}.bytes(), uint32(1000))
	f.Add(synth{size: 2048, apmBS: 512, apm: []APMEntry{{Start: 1, Count: 2}, {Start: 3, Count: 1}}}.bytes(), uint32(0))
	f.Add(synth{size: 8192, apmBS: 2048, gpt: true, entries: 4, entryLBA: 12,
		apm: []APMEntry{{Start: 1, Count: 2}, {Start: 3, Count: 1}}}.bytes(), uint32(7))
	f.Add(synth{size: 4096, gpt: true, entries: 4, noBackup: true}.bytes(), uint32(1<<20))
	f.Add([]byte{}, uint32(0))

	f.Fuzz(func(t *testing.T, data []byte, extra uint32) {
		if len(data) > 4<<20 {
			return
		}
		size := int64(len(data)) + int64(extra%(1<<24))*512
		l, err := Read(sparse{data, size}, size)
		if err != nil {
			return
		}
		_ = l.Verify()
		_ = l.PartitionOffset()
		oldVol := size / 2048 * 2048
		if oldVol == 0 {
			return
		}
		for _, add := range []int64{0, 2048, 5 << 20} {
			newVol := (size+2047)/2048*2048 + add
			gr, err := l.Grow(oldVol, newVol)
			if err != nil {
				continue
			}
			if gr.Size%2048 != 0 || gr.Size-int64(len(gr.Tail)) < newVol {
				t.Fatalf("size %d, tail %d, new volume end %d", gr.Size, len(gr.Tail), newVol)
			}
			for _, p := range gr.Patches {
				if p.Off < 446 || p.Off+int64(len(p.Data)) > size {
					t.Fatalf("patch %d+%d outside [446, %d)", p.Off, len(p.Data), size)
				}
			}
		}
	})
}
