package bootcfg

import (
	"path"
	"regexp"
	"strings"
)

// grubEntry locates the lines of a GRUB entry (indexes into lines).
type grubEntry struct {
	linuxLine   int
	cmd         string // linux, linuxefi or linux16
	initrdLines []int  // initrd lines that follow the linux line in its block
}

// gword is a word of a GRUB command line, raw (quotes kept).
type gword struct {
	start, end int
	raw        string
}

// grubWords splits the first command of a GRUB line into words. end is
// where the command ends (an unquoted ";" or a "#" that starts a word, or
// len(s)). ok is false for a line with an unterminated quote or a final
// backslash, whose meaning depends on the next line.
func grubWords(s string) (words []gword, end int, ok bool) {
	ok = true
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return words, len(s), ok
		}
		if s[i] == '#' || s[i] == ';' {
			return words, i, ok
		}
		j := i
	word:
		for j < len(s) {
			switch s[j] {
			case ' ', '\t', ';':
				break word
			case '\\':
				if j+1 >= len(s) {
					ok = false
				}
				j += 2
			case '\'':
				k := strings.IndexByte(s[j+1:], '\'')
				if k < 0 {
					ok = false
					j = len(s)
				} else {
					j += k + 2
				}
			case '"':
				k := j + 1
				for k < len(s) && s[k] != '"' {
					if s[k] == '\\' {
						k++
					}
					k++
				}
				if k >= len(s) {
					ok = false
					j = len(s)
				} else {
					j = k + 1
				}
			default:
				j++
			}
		}
		if j > len(s) {
			j = len(s)
		}
		words = append(words, gword{i, j, s[i:j]})
		i = j
	}
}

// grubUnquote removes GRUB quoting from a word. hasVar reports a "$" that
// GRUB would expand.
func grubUnquote(w string) (s string, hasVar bool) {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		switch c := w[i]; c {
		case '\\':
			if i+1 < len(w) {
				i++
				b.WriteByte(w[i])
			}
		case '\'':
			k := strings.IndexByte(w[i+1:], '\'')
			if k < 0 {
				b.WriteString(w[i+1:])
				return b.String(), hasVar
			}
			b.WriteString(w[i+1 : i+1+k])
			i += k + 1
		case '"':
			i++
			for ; i < len(w) && w[i] != '"'; i++ {
				if w[i] == '\\' && i+1 < len(w) && strings.IndexByte("$\"\\", w[i+1]) >= 0 {
					i++
				} else if w[i] == '$' {
					hasVar = true
				}
				b.WriteByte(w[i])
			}
		case '$':
			hasVar = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), hasVar
}

var devicePrefixRE = regexp.MustCompile(`^\([A-Za-z0-9_,.:${}-]*\)`)

// devicePrefix returns the GRUB device ("(loop)") a path starts with, or "".
func devicePrefix(p string) string {
	return devicePrefixRE.FindString(p)
}

var prefixVarRE = regexp.MustCompile(`\$\{prefix\}|\$prefix\b`)

type grubFrame struct {
	title     string
	lastLinux int // index into Entries of the last linux line of the block, or -1
}

var linuxCmds = map[string]string{"linux": "initrd", "linuxefi": "initrdefi", "linux16": "initrd16"}
var initrdCmds = map[string]bool{"initrd": true, "initrdefi": true, "initrd16": true}

func (c *Config) parseGRUB() {
	stack := []grubFrame{{lastLinux: -1}}
	// prefix stands for $prefix: the directory of the file, or the
	// value of the last "set prefix=" with no other variable.
	prefix := path.Dir("/" + strings.TrimPrefix(c.Path, "/"))
	if prefix == "/" {
		prefix = ""
	}
	for i, l := range c.lines {
		words, _, ok := grubWords(l.text)
		if !ok || len(words) == 0 {
			continue
		}
		top := &stack[len(stack)-1]
		cmd := words[0].raw
		switch {
		case cmd == "}":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		case words[len(words)-1].raw == "{":
			f := grubFrame{lastLinux: -1}
			if (cmd == "menuentry" || cmd == "submenu") && len(words) > 2 {
				f.title, _ = grubUnquote(words[1].raw)
			}
			stack = append(stack, f)
			continue
		}
		switch {
		case linuxCmds[cmd] != "":
			if len(words) < 2 {
				continue
			}
			if k, _ := grubUnquote(words[1].raw); isMemtest(k) {
				continue
			}
			ent := Entry{Path: c.Path, Line: i + 1, Kernel: words[1].raw, grub: &grubEntry{linuxLine: i, cmd: cmd}}
			for j := len(stack) - 1; j >= 0; j-- {
				if stack[j].title != "" {
					ent.Label = stack[j].title
					break
				}
			}
			argsEnd := words[len(words)-1].end
			for k := 2; k < len(words); k++ {
				if words[k].raw == "---" {
					ent.Trailer = l.text[words[k].start:words[len(words)-1].end]
					argsEnd = words[k].start
					break
				}
			}
			if argsEnd > words[1].end {
				ent.Args = strings.Trim(l.text[words[1].end:argsEnd], " \t")
			}
			top.lastLinux = len(c.Entries)
			c.Entries = append(c.Entries, ent)
		case initrdCmds[cmd]:
			if top.lastLinux < 0 {
				continue
			}
			ent := &c.Entries[top.lastLinux]
			ent.grub.initrdLines = append(ent.grub.initrdLines, i)
			ent.Initrds = nil
			for _, w := range words[1:] {
				s, hasVar := grubUnquote(w.raw)
				if hasVar {
					s = w.raw
				}
				ent.Initrds = append(ent.Initrds, s)
			}
		case cmd == "set" && len(words) == 2 && strings.HasPrefix(words[1].raw, "prefix="):
			if p, ok := grubPath(strings.TrimPrefix(words[1].raw, "prefix="), prefix); ok {
				prefix = strings.TrimSuffix(path.Clean("/"+p), "/")
			} else {
				prefix = "$prefix" // unknown: paths using it stay unresolved
			}
		case cmd == "source" || cmd == "." || cmd == "configfile":
			if len(words) < 2 {
				continue
			}
			if p, ok := grubPath(words[1].raw, prefix); ok {
				c.addInclude(p)
			} else {
				c.Unresolved = append(c.Unresolved, words[1].raw)
			}
		}
	}
}

func (c *Config) rewriteGRUB(w *rewriter, ent Entry, initrd, args string) {
	e := ent.grub
	if args != ent.Args {
		text := w.text(e.linuxLine)
		words, _, _ := grubWords(text)
		head := text[:words[1].end]
		rest := text[words[len(words)-1].end:]
		t := head
		if args != "" {
			t += " " + args
		}
		if ent.Trailer != "" {
			t += " " + ent.Trailer
		}
		w.set(e.linuxLine, t+rest)
	}
	if initrd == "" {
		return
	}
	for _, li := range e.initrdLines {
		text := w.text(li)
		words, _, _ := grubWords(text)
		last := words[len(words)-1]
		add := initrd
		if len(words) > 1 {
			s, _ := grubUnquote(last.raw)
			dev := devicePrefix(s)
			if strings.TrimPrefix(s, dev) == initrd {
				continue
			}
			add = dev + initrd
		}
		w.set(li, text[:last.end]+" "+add+text[last.end:])
	}
	if len(e.initrdLines) == 0 {
		kl := c.lines[e.linuxLine].text
		k, _ := grubUnquote(ent.Kernel)
		w.insert(e.linuxLine, indentOf(kl)+linuxCmds[e.cmd]+" "+devicePrefix(k)+initrd)
	}
}

// grubPath resolves a path word: $prefix and ${prefix} become prefix, a
// GRUB device ("($root)", "(cd0)") is dropped, and quotes are removed. ok
// is false when another variable remains.
func grubPath(raw, prefix string) (string, bool) {
	s, hasVar := grubUnquote(prefixVarRE.ReplaceAllLiteralString(raw, prefix))
	dev := devicePrefix(s)
	s = strings.TrimPrefix(s, dev)
	if hasVar && dev != "" && !strings.Contains(s, "$") {
		hasVar = false // only the device was a variable
	}
	return s, !hasVar
}
