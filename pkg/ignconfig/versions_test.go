package ignconfig

import (
	"slices"
	"testing"
)

func TestVersions(t *testing.T) {
	got := Versions()
	// The library in go.mod (ignition v2.23.0) reads 3.0.0 to 3.5.0 and
	// the experimental 3.6.0; a library upgrade changes this on purpose.
	want := []string{"3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0", "3.5.0", "3.6.0-experimental"}
	if !slices.Equal(got, want) {
		t.Fatalf("Versions() = %v, want %v", got, want)
	}
	for _, bad := range []string{"2.3.0", "3.6.0", "3.5.0-experimental"} {
		if slices.Contains(got, bad) {
			t.Errorf("Versions() lists %s", bad)
		}
	}
}
