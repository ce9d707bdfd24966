package remaster

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// A record that lies before a partition far from the end of the image (a
// remaster that moved an appended ESP behind its data) is found through
// the partition table; without the entry it is not (the search is
// bounded).
func TestFindRecordBeforePartition(t *testing.T) {
	const at = 64 << 10
	rec, err := newRecord(bytes.NewReader(make([]byte, at)), at, nil, Description{OS: "test"}, 4096)
	if err != nil {
		t.Fatal(err)
	}
	partStart := int64(at + len(rec) + 2048)
	img := make([]byte, partStart+recordSearch+(4<<20))
	copy(img[at:], rec)
	if err := sealRecord(rec, at, bytes.NewReader(img)); err != nil {
		t.Fatal(err)
	}
	copy(img[at:], rec)

	if got, err := FindRecord(bytes.NewReader(img), int64(len(img))); err != nil || got != nil {
		t.Fatalf("without a partition entry: %+v, %v; want nothing found", got, err)
	}
	img[510], img[511] = 0x55, 0xAA
	e := img[446+16:]
	e[4] = 0xEF
	binary.LittleEndian.PutUint32(e[8:], uint32(partStart/512))
	binary.LittleEndian.PutUint32(e[12:], 8192)
	got, err := FindRecord(bytes.NewReader(img), int64(len(img)))
	if err != nil || got == nil || got.Offset != at || got.Description.OS != "test" {
		t.Fatalf("with MBR partition 2 at byte %d: %+v, %v; want the record at %d", partStart, got, err, at)
	}
}
