package ignconfig

import (
	"fmt"
	"sync"
)

// Versions returns the spec versions that [Parse] accepts, oldest first,
// for example "3.0.0", …, "3.5.0", "3.6.0-experimental". The list is found
// by asking the Ignition library (an empty config of each candidate
// version), so it follows the library when it is upgraded.
func Versions() []string {
	versionsOnce.Do(func() {
		for minor := 0; minor < 20; minor++ {
			for _, suffix := range []string{"", "-experimental"} {
				v := fmt.Sprintf("3.%d.0%s", minor, suffix)
				raw := []byte(`{"ignition":{"version":"` + v + `"}}`)
				if _, err := Parse("probe", raw); err == nil {
					versions = append(versions, v)
				}
			}
		}
	})
	return append([]string(nil), versions...)
}

var (
	versionsOnce sync.Once
	versions     []string
)
