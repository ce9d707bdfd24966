package initrd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestZZDebug(t *testing.T) {
	m, _ := filepath.Glob("/tmp/fuzzcur-*")
	for _, p := range m {
		data, _ := os.ReadFile(p)
		start := time.Now()
		_, err := Decode(bytes.NewReader(data), nil)
		t.Logf("%s: %v in %v", p, err, time.Since(start))
	}
}
