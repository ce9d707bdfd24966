package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// hintedError is an error with a hint for the user, printed on its own
// line after the message.
type hintedError struct {
	err  error
	hint string
}

func (e hintedError) Error() string { return e.err.Error() }
func (e hintedError) Unwrap() error { return e.err }

// usageHint is a usage error (exit status 2) with a hint.
func usageHint(hint string, format string, args ...any) error {
	return usageError{hintedError{fmt.Errorf(format, args...), hint}}
}

// strictCommands makes every command of the tree under c that only groups
// others (iso, pxe, iso ignition, ...) fail with a usage error when it is
// run without a known subcommand, instead of printing its help and
// succeeding: "isobuild iso customise x.iso" must not look like it worked.
// Unknown names get cobra's suggestions.
func strictCommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictCommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.SuggestionsMinimumDistance = 2
	c.RunE = func(cmd *cobra.Command, args []string) error {
		var names []string
		for _, s := range cmd.Commands() {
			if s.IsAvailableCommand() {
				names = append(names, s.Name())
			}
		}
		list := strings.Join(names, ", ")
		if len(args) == 0 {
			return usageHint(fmt.Sprintf("run '%s --help' for what each does", cmd.CommandPath()),
				"%s needs a command: %s", cmd.CommandPath(), list)
		}
		hint := fmt.Sprintf("the commands of %s are %s (see '%s --help')", cmd.CommandPath(), list, cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf("did you mean '%s %s'?", cmd.CommandPath(), strings.Join(s, "' or '"+cmd.CommandPath()+" "))
		}
		return usageHint(hint, "unknown command %q for %q", args[0], cmd.CommandPath())
	}
}

// newHelpCmd is "isobuild help [command]": cobra's, except that an
// unknown topic is a usage error with suggestions instead of the root help
// and success.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help shows the help of any command: isobuild help iso customize.",
		Example: `  isobuild help build
  isobuild help iso customize`,
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				parent := cmd
				if parent == nil {
					parent = root
				}
				name := strings.Join(args, " ")
				if len(rest) > 0 {
					name = rest[0]
				}
				hint := fmt.Sprintf("see '%s --help' for the commands", parent.CommandPath())
				parent.SuggestionsMinimumDistance = 2
				if s := parent.SuggestionsFor(name); len(s) > 0 {
					hint = fmt.Sprintf("did you mean 'isobuild help %s'?", strings.TrimPrefix(parent.CommandPath()+" "+s[0], root.Name()+" "))
				}
				return usageHint(hint, "no help topic %q: there is no such command", strings.Join(args, " "))
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// flagAliases are names users bring from other tools, mapped to isobuild's:
// coreos-installer's iso customize calls the live kernel arguments
// --live-karg-*, build calls them --karg-*.
var flagAliases = map[string]string{
	"live-karg-append":  "karg-append",
	"live-karg-delete":  "karg-delete",
	"live-karg-replace": "karg-replace",
	"karg-append":       "live-karg-append",
	"karg-delete":       "live-karg-delete",
	"karg-replace":      "live-karg-replace",
	"live-butane":       "butane",
	"dest-bu":           "dest-butane",
	"out":               "output",
}

var unknownFlagRE = regexp.MustCompile(`^unknown flag: --([^ =]+)`)

// flagError turns a flag parsing error into a usage error, with a "did you
// mean" hint for an unknown flag that is close to a known one.
func flagError(c *cobra.Command, err error) error {
	msg := fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	m := unknownFlagRE.FindStringSubmatch(err.Error())
	if m == nil {
		return usageError{msg}
	}
	if (m[1] == "butane" || m[1] == "dest-butane") && c.Flags().Lookup(m[1]) == nil {
		return usageError{hintedError{msg, fmt.Sprintf("%s takes Ignition configs: translate the Butane file first (isobuild butane -o config.ign config.bu), or use 'isobuild build --%s'", c.CommandPath(), m[1])}}
	}
	if s := suggestFlags(c, m[1]); len(s) > 0 {
		return usageError{hintedError{msg, "did you mean --" + strings.Join(s, " or --") + "?"}}
	}
	return usageError{msg}
}

// suggestFlags returns the flags of c whose names are close to name: an
// alias from another tool, a small edit away, or a name that contains it or
// that it contains (--live-karg-append for --karg-append).
func suggestFlags(c *cobra.Command, name string) []string {
	known := map[string]bool{}
	visit := func(f *pflag.Flag) {
		if !f.Hidden {
			known[f.Name] = true
		}
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	if a, ok := flagAliases[name]; ok && known[a] {
		return []string{a}
	}
	// Typos first: when a name is a small edit away, the looser
	// matches are noise.
	var typos, related []string
	for k := range known {
		if k == "help" {
			continue
		}
		d := levenshtein(name, k)
		switch {
		case d <= 2 || d <= len(name)/5:
			typos = append(typos, k)
		case len(k) >= 4 && (strings.HasSuffix(name, "-"+k) || strings.HasPrefix(name, k+"-")),
			len(name) >= 4 && strings.Contains(k, name):
			related = append(related, k)
		}
	}
	out := typos
	if len(out) == 0 {
		out = related
	}
	sort.Strings(out)
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

// levenshtein is the edit distance between a and b.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
