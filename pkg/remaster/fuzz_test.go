package remaster

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzFindRecord: reading a reset record from untrusted bytes never
// panics, allocates at most maxRecordSize, and a record it accepts is
// consistent.
func FuzzFindRecord(f *testing.F) {
	good, err := newRecord(bytes.NewReader(make([]byte, 8192)), 8192, nil, Description{OS: "flatcar"}, 4096)
	if err != nil {
		f.Fatal(err)
	}
	img := append(make([]byte, 8192), good...)
	if err := sealRecord(good, 8192, bytes.NewReader(img)); err != nil {
		f.Fatal(err)
	}
	img = append(make([]byte, 8192), good...)
	f.Add(img)
	f.Add(append(make([]byte, 8192), []byte(recordMagic)...))
	huge := append([]byte(nil), img...)
	binary.LittleEndian.PutUint64(huge[8192+32:], 1<<62)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := FindRecord(bytes.NewReader(data), int64(len(data)))
		if err != nil || rec == nil {
			return
		}
		if rec.BaseSize <= 0 || rec.BaseSize > rec.Offset || len(rec.Ranges) != len(rec.originals) {
			t.Fatalf("inconsistent record %+v", rec)
		}
		for i, r := range rec.Ranges {
			if int64(len(rec.originals[i])) != r.Length || r.Offset+r.Length > rec.BaseSize {
				t.Fatalf("range %d %+v", i, r)
			}
		}
	})
}
