package release

import "time"

// specRelease says which Ignition release first accepted a stable config
// spec version, and when that release came out.
type specRelease struct {
	spec     string    // config spec version, "3.4.0"
	ignition string    // first Ignition release that reads it, "2.15.0"
	date     time.Time // release day of that Ignition, UTC midnight
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// specTable lists the stable Ignition config spec versions, oldest first,
// with the first Ignition release that accepts each one and its release day.
//
// Spec version → Ignition release: the Ignition documentation,
// "Configuration specifications" (https://coreos.github.io/ignition/specs/,
// docs/specs.md in the github.com/coreos/ignition/v2 v2.23.0 module), table
// "Specification versions and Ignition releases". Every release in it also
// accepts the older spec 3 versions.
//
// Release days: the headings of the Ignition release notes
// (https://coreos.github.io/ignition/release-notes/, docs/release-notes.md
// in the v2.23.0 module, read from the local module cache), checked against
// the Time of each version in the Go module proxy (`go list -m -json
// github.com/coreos/ignition/v2@vX.Y.Z`, run for each release below; the
// proxy's data is also on https://deps.dev/go/github.com%2Fcoreos%2Fignition%2Fv2,
// which was not consulted):
//
//	release  release notes  module proxy (UTC)
//	2.0.0    03-Jun-2019    2019-06-03T21:36:17Z
//	2.3.0    05-May-2020    2020-05-05T21:45:38Z
//	2.7.0    13-Oct-2020    2020-10-14T05:13:05Z
//	2.11.0   25-Jun-2021    2021-06-26T02:22:06Z
//	2.15.0   2023-02-21     2023-02-21T19:33:10Z
//	2.20.0   2024-10-22     2024-10-22T23:01:27Z
//
// Where the two differ (the proxy time is past midnight UTC), the earlier
// day, that of the release notes, is used: an image built on it may just
// have the release, and a config that may work is never refused.
//
// Ignition 2.0.0 came out on 2019-06-03 (both sources agree), not in
// August 2019. Its alpha (2019-03-25) and beta (2019-04-26) read spec 3.0.0
// too; an image built before 2019-06-03 is nevertheless taken to read no
// spec 3 config, like the RHCOS releases before 4.6, whose Ignition 0.x
// reads spec 2 only.
var specTable = []specRelease{
	{"3.0.0", "2.0.0", day(2019, time.June, 3)},
	{"3.1.0", "2.3.0", day(2020, time.May, 5)},
	{"3.2.0", "2.7.0", day(2020, time.October, 13)},
	{"3.3.0", "2.11.0", day(2021, time.June, 25)},
	{"3.4.0", "2.15.0", day(2023, time.February, 21)},
	{"3.5.0", "2.20.0", day(2024, time.October, 22)},
}
