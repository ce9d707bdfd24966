package bootcfg

import (
	"fmt"
	"regexp"
	"strings"
)

var replaceRE = regexp.MustCompile(`^([^=]+)=([^=]+)=([^=]+)$`)

// EditArgs edits a kernel argument string the way isobuild edits the
// CoreOS karg areas (package embed, KargsEdit), which follows
// coreos-installer: first every delete, then every append, then every
// replace, whatever order they were given in.
//
//   - deleteArgs removes every whole-word occurrence of each argument,
//     value included: "quiet" removes "quiet", not "quiet=1".
//   - appendArgs adds each argument at the end; duplicates are allowed.
//   - replace holds KEY=OLD=NEW items; each turns the word "KEY=OLD" into
//     "KEY=NEW".
//
// An argument to delete or replace that is not present is not an error:
// the string is returned without that change. Only a replace item that is
// not of the form KEY=OLD=NEW is an error. Words are separated by single
// spaces; the result has no leading or trailing space.
func EditArgs(args string, appendArgs, deleteArgs []string, replace []string) (string, error) {
	s := " " + args + " "
	for _, d := range deleteArgs {
		s = strings.ReplaceAll(s, " "+strings.TrimSpace(d)+" ", " ")
	}
	for _, a := range appendArgs {
		s += strings.TrimSpace(a) + " "
	}
	for _, r := range replace {
		m := replaceRE.FindStringSubmatch(strings.TrimSpace(r))
		if m == nil {
			return "", fmt.Errorf("kernel argument replacement %q is not of the form KEY=OLD=NEW", r)
		}
		s = strings.ReplaceAll(s, " "+m[1]+"="+m[2]+" ", " "+m[1]+"="+m[3]+" ")
	}
	return strings.TrimSpace(s), nil
}
