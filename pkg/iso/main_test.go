package iso_test

import (
	"testing"

	"github.com/isobuild/isobuild/internal/fixture"
)

// TestMain prints one line about skipped tests (see fixture.Main).
func TestMain(m *testing.M) { fixture.Main(m) }
