package bootcfg

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// grubEntry locates the commands of a GRUB entry (byte offsets into Data).
type grubEntry struct {
	cmd       string // linux, linuxefi or linux16
	kernelEnd int    // end of the kernel path word
	argsEnd   int    // end of the last argument word before "---" (kernelEnd when none)
	trailer   int    // start of the "---" word, or -1
	cmdEnd    int    // end of the last word of the linux command
	initrds   []grubInitrd
	// Where a missing initrd command goes: on a new line after lineEnd
	// (the end of the text of the line the linux command ends on) with
	// indent, or, when newLine is false, right after cmdEnd as "; initrd".
	newLine bool
	lineEnd int
	eol     string // ending of the new line; "" = the file's usual one
	indent  string
}

// grubInitrd is one initrd command of an entry.
type grubInitrd struct {
	words   int    // number of words, the command name included
	lastEnd int    // end of its last word
	lastRaw string // its last word, raw
}

// Token kinds of the GRUB lexer.
const (
	tokWord    = 'w'
	tokSemi    = ';'
	tokNewline = '\n'
	tokLBrace  = '{'
	tokRBrace  = '}'
	tokComment = '#'
)

// gtok is a token of a GRUB script: a word (raw, quotes kept, line
// continuations removed), ";", a newline, "{", "}" or a comment. start and
// end are byte offsets into the script.
type gtok struct {
	kind       byte
	start, end int
	raw        string
}

// gword is a word of a GRUB command.
type gword = gtok

// grubLexer splits a GRUB script into tokens the way GRUB's lexer does:
// blanks separate words; ";", newlines, "{" and "}" are tokens of their
// own unless quoted or escaped; "#" at the start of a word starts a comment
// up to the end of the line; single quotes keep everything up to the next
// single quote; double quotes keep everything up to the next unescaped
// double quote; a backslash escapes the next byte; a backslash before a
// newline (outside single quotes) joins the two lines. "${...}" is a
// variable, braces included.
type grubLexer struct {
	toks  []gtok
	conts []int // offsets of the backslashes of line continuations
	bad   int   // offset of an unterminated quote or a dangling backslash, or -1
}

// contLen returns the length of a line continuation at s[i] ("\\\n" or
// "\\\r\n"), or 0.
func contLen(s string, i int) int {
	if s[i] != '\\' {
		return 0
	}
	if i+1 < len(s) && s[i+1] == '\n' {
		return 2
	}
	if i+2 < len(s) && s[i+1] == '\r' && s[i+2] == '\n' {
		return 3
	}
	return 0
}

func lexGRUB(s string) *grubLexer {
	lx := &grubLexer{bad: -1}
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == ';' || c == '\n' || c == '{' || c == '}':
			lx.toks = append(lx.toks, gtok{kind: c, start: i, end: i + 1, raw: s[i : i+1]})
			i++
		case c == '#':
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				j = len(s) - i
			}
			lx.toks = append(lx.toks, gtok{kind: tokComment, start: i, end: i + j})
			i += j
		case contLen(s, i) > 0:
			lx.conts = append(lx.conts, i)
			i += contLen(s, i)
		default:
			j, ok := lx.word(s, i)
			if !ok {
				lx.bad = i
				return lx
			}
			i = j
		}
	}
	return lx
}

// word scans the word at s[i:], appends it and returns its end. ok is false
// for an unterminated quote or a backslash that escapes nothing usable.
func (lx *grubLexer) word(s string, i int) (int, bool) {
	var b strings.Builder
	start, j, plain := i, i, true
scan:
	for j < len(s) {
		c := s[j]
		if c == ' ' || c == '\t' || c == '\r' || c == ';' || c == '\n' || c == '{' || c == '}' {
			break
		}
		switch c {
		case '\\':
			if n := contLen(s, j); n > 0 {
				// The word goes on after the continuations only
				// when a word byte follows them.
				k := j
				for k < len(s) && contLen(s, k) > 0 {
					k += contLen(s, k)
				}
				if k >= len(s) || strings.IndexByte(" \t\r;\n{}", s[k]) >= 0 {
					break scan
				}
				if plain {
					b.WriteString(s[start:j])
					plain = false
				}
				for ; j < k; j += contLen(s, j) {
					lx.conts = append(lx.conts, j)
				}
				continue
			}
			if j+1 >= len(s) || s[j+1] == '\r' {
				return j, false
			}
			j += 2
			if !plain {
				b.WriteString(s[j-2 : j])
			}
			continue
		case '\'':
			k := strings.IndexByte(s[j+1:], '\'')
			if k < 0 {
				return j, false
			}
			if !plain {
				b.WriteString(s[j : j+k+2])
			}
			j += k + 2
			continue
		case '"':
			k := j + 1
			for k < len(s) && s[k] != '"' {
				if n := contLen(s, k); n > 0 {
					lx.conts = append(lx.conts, k)
					if plain {
						b.WriteString(s[start:k])
						plain = false
					} else {
						b.WriteString(s[j:k])
					}
					k += n
					j = k
					continue
				}
				if s[k] == '\\' {
					if k+1 >= len(s) || s[k+1] == '\r' {
						return k, false
					}
					k++
				}
				k++
			}
			if k >= len(s) {
				return j, false
			}
			if !plain {
				b.WriteString(s[j : k+1])
			}
			j = k + 1
			continue
		case '$':
			if j+1 < len(s) && s[j+1] == '{' {
				if k := strings.IndexByte(s[j+2:], '}'); k >= 0 && !strings.ContainsAny(s[j+2:j+2+k], " \t\r\n;{'\"\\") {
					if !plain {
						b.WriteString(s[j : j+k+3])
					}
					j += k + 3
					continue
				}
			}
		}
		if !plain {
			b.WriteByte(c)
		}
		j++
	}
	raw := s[start:j]
	if !plain {
		raw = b.String()
	}
	lx.toks = append(lx.toks, gtok{kind: tokWord, start: start, end: j, raw: raw})
	return j, true
}

// logical returns s[start:end] without the line continuations in it.
func (lx *grubLexer) logical(s string, start, end int) string {
	i := sort.SearchInts(lx.conts, start)
	if i == len(lx.conts) || lx.conts[i] >= end {
		return s[start:end]
	}
	var b strings.Builder
	for ; i < len(lx.conts) && lx.conts[i] < end; i++ {
		b.WriteString(s[start:lx.conts[i]])
		start = lx.conts[i] + contLen(s, lx.conts[i])
	}
	if start < end {
		b.WriteString(s[start:end])
	}
	return b.String()
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

// Values of grubFrame.lastLinux besides an index into Entries.
const (
	noLinux      = -1 // no linux command yet in the block
	skippedLinux = -2 // the last linux command loads a memory tester
)

type grubFrame struct {
	title     string
	lastLinux int // index into Entries of the last linux command of the block, or noLinux/skippedLinux
}

var linuxCmds = map[string]string{"linux": "initrd", "linuxefi": "initrdefi", "linux16": "initrd16"}
var initrdCmds = map[string]bool{"initrd": true, "initrdefi": true, "initrd16": true}

// leadWords are the reserved words after which a command starts.
var leadWords = map[string]bool{"then": true, "else": true, "do": true, "if": true, "elif": true, "while": true, "until": true, "!": true}

// blockWords are words that, later on the line of a linux command, make a
// new line after it the wrong place for a missing initrd command.
var blockWords = map[string]bool{"fi": true, "else": true, "elif": true, "then": true, "do": true, "done": true, "esac": true,
	"if": true, "while": true, "until": true, "for": true, "case": true, "menuentry": true, "submenu": true, "function": true}

// grubParser holds the state of parseGRUB.
type grubParser struct {
	c      *Config
	s      string
	lx     *grubLexer
	starts []int // byte offset of the start of each line
	stack  []grubFrame
	prefix string
}

// lineOf returns the 0-based line index of byte offset off.
func (p *grubParser) lineOf(off int) int {
	return sort.Search(len(p.starts), func(i int) bool { return p.starts[i] > off }) - 1
}

func (p *grubParser) errorf(off int, format string, a ...any) error {
	return fmt.Errorf("%s:%d: %s", p.c.Path, p.lineOf(off)+1, fmt.Sprintf(format, a...))
}

func (c *Config) parseGRUB() error {
	p := &grubParser{c: c, s: string(c.Data), stack: []grubFrame{{lastLinux: noLinux}}}
	off := 0
	for _, l := range c.lines {
		p.starts = append(p.starts, off)
		off += len(l.text) + len(l.eol)
	}
	p.lx = lexGRUB(p.s)
	c.conts = p.lx.conts
	// prefix stands for $prefix: the directory of the file, or the
	// value of the last "set prefix=" with no other variable.
	p.prefix = path.Dir("/" + strings.TrimPrefix(c.Path, "/"))
	if p.prefix == "/" {
		p.prefix = ""
	}
	var words []gword
	for ti, t := range p.lx.toks {
		switch t.kind {
		case tokWord:
			words = append(words, t)
			continue
		case tokComment:
			continue
		}
		if t.kind == tokLBrace {
			// A block header: menuentry, submenu, function.
			if h := stripLead(words); len(h) > 0 && isLoadCmd(h[0].raw) {
				return p.errorf(h[0].start, "%s command followed by \"{\": isobuild cannot edit this boot entry", h[0].raw)
			}
			f := grubFrame{lastLinux: noLinux}
			if len(words) > 1 && (words[0].raw == "menuentry" || words[0].raw == "submenu") {
				f.title, _ = grubUnquote(words[1].raw)
			}
			p.stack = append(p.stack, f)
			words = nil
			continue
		}
		if err := p.command(words, ti); err != nil {
			return err
		}
		words = nil
		if t.kind == tokRBrace && len(p.stack) > 1 {
			p.stack = p.stack[:len(p.stack)-1]
		}
	}
	if err := p.command(words, len(p.lx.toks)); err != nil {
		return err
	}
	if p.lx.bad >= 0 {
		// GRUB cannot parse the file. That matters only to a file
		// with boot entries.
		if len(c.Entries) > 0 || strings.Contains(p.s[p.lx.bad:], "linux") {
			return p.errorf(p.lx.bad, "unterminated quote or dangling backslash: GRUB cannot parse this file, and isobuild cannot edit its boot entries")
		}
	}
	return nil
}

// isLoadCmd reports whether a raw command word names a kernel or initramfs
// loading command.
func isLoadCmd(raw string) bool {
	name, _ := grubUnquote(raw)
	return linuxCmds[name] != "" || initrdCmds[name]
}

// stripLead drops the reserved words before a command.
func stripLead(words []gword) []gword {
	for len(words) > 0 && leadWords[words[0].raw] {
		words = words[1:]
	}
	return words
}

// command handles one command; next is the index of the token after it.
func (p *grubParser) command(words []gword, next int) error {
	words = stripLead(words)
	if len(words) == 0 {
		return nil
	}
	c := p.c
	top := &p.stack[len(p.stack)-1]
	cmd, _ := grubUnquote(words[0].raw)
	switch {
	case linuxCmds[cmd] != "":
		if len(words) < 2 {
			return p.errorf(words[0].start, "%s command without a kernel path", cmd)
		}
		if k, _ := grubUnquote(words[1].raw); isMemtest(k) {
			top.lastLinux = skippedLinux
			return nil
		}
		last := words[len(words)-1]
		li := p.lineOf(words[0].start)
		ge := &grubEntry{cmd: cmd, kernelEnd: words[1].end, argsEnd: last.end, trailer: -1, cmdEnd: last.end}
		ent := Entry{Path: c.Path, Line: li + 1, Kernel: words[1].raw, grub: ge}
		for j := len(p.stack) - 1; j >= 0; j-- {
			if p.stack[j].title != "" {
				ent.Label = p.stack[j].title
				break
			}
		}
		for k := 2; k < len(words); k++ {
			if words[k].raw == "---" {
				ent.Trailer = p.lx.logical(p.s, words[k].start, last.end)
				ge.trailer = words[k].start
				ge.argsEnd = words[k-1].end
				break
			}
		}
		if ge.argsEnd > ge.kernelEnd {
			ent.Args = strings.Trim(p.lx.logical(p.s, ge.kernelEnd, ge.argsEnd), " \t\r")
		}
		p.placeInitrd(ge, li, next)
		top.lastLinux = len(c.Entries)
		c.Entries = append(c.Entries, ent)
	case initrdCmds[cmd]:
		if top.lastLinux == skippedLinux {
			return nil
		}
		if top.lastLinux < 0 {
			return p.errorf(words[0].start, "%s command with no linux command before it in its block: isobuild cannot tell which boot entry it belongs to", cmd)
		}
		ent := &c.Entries[top.lastLinux]
		last := words[len(words)-1]
		ent.grub.initrds = append(ent.grub.initrds, grubInitrd{words: len(words), lastEnd: last.end, lastRaw: last.raw})
		ent.Initrds = nil
		for _, w := range words[1:] {
			s, hasVar := grubUnquote(w.raw)
			if hasVar {
				s = w.raw
			}
			ent.Initrds = append(ent.Initrds, s)
		}
	case cmd == "set" && len(words) == 2 && strings.HasPrefix(words[1].raw, "prefix="):
		if v, ok := grubPath(strings.TrimPrefix(words[1].raw, "prefix="), p.prefix); ok {
			p.prefix = strings.TrimSuffix(path.Clean("/"+v), "/")
		} else {
			p.prefix = "$prefix" // unknown: paths using it stay unresolved
		}
	case cmd == "source" || cmd == "." || cmd == "configfile":
		if len(words) < 2 {
			return nil
		}
		if v, ok := grubPath(words[1].raw, p.prefix); ok {
			c.addInclude(v)
		} else {
			c.Unresolved = append(c.Unresolved, words[1].raw)
		}
	}
	return nil
}

// placeInitrd decides where a missing initrd command of the linux command
// ending at ge.cmdEnd would go: on a new line after the line it ends on when
// the rest of that line holds only simple commands, else right after it.
func (p *grubParser) placeInitrd(ge *grubEntry, first, next int) {
	li := p.lineOf(ge.cmdEnd - 1)
	l := p.c.lines[li]
	ge.lineEnd = p.starts[li] + len(l.text)
	ge.indent = indentOf(p.c.lines[first].text)
	if l.eol == "\n" || l.eol == "\r\n" {
		ge.eol = l.eol
	}
	ge.newLine = true
	for _, t := range p.lx.toks[next:] {
		if t.start >= ge.lineEnd {
			break
		}
		if t.kind == tokComment {
			continue
		}
		if t.end > ge.lineEnd || t.kind == tokLBrace || t.kind == tokRBrace ||
			t.kind == tokWord && (blockWords[t.raw] || isLoadCmd(t.raw)) {
			ge.newLine = false
			return
		}
	}
	// A line continued on the next one cannot take a new line after it.
	if i := sort.SearchInts(p.lx.conts, ge.cmdEnd); i < len(p.lx.conts) && p.lx.conts[i] <= ge.lineEnd {
		ge.newLine = false
	}
}

// splice replaces Data[start:end] with text.
type splice struct {
	start, end int
	text       string
}

func (c *Config) rewriteGRUB(sp []splice, ent Entry, initrd, args string) []splice {
	e := ent.grub
	if suffix, ok := strings.CutPrefix(args, ent.Args); ok && args != ent.Args && ent.Args != "" &&
		strings.HasPrefix(suffix, " ") && c.hasCont(e.kernelEnd, e.argsEnd) {
		// Arguments appended to ones continued over several lines:
		// keep the lines as they are.
		sp = append(sp, splice{e.argsEnd, e.argsEnd, suffix})
	} else if args != ent.Args {
		t := ""
		if args != "" {
			t = " " + args
		}
		end := e.argsEnd
		if e.trailer >= 0 {
			t += " "
			end = e.trailer
		}
		sp = append(sp, splice{e.kernelEnd, end, t})
	}
	if initrd == "" {
		return sp
	}
	for _, in := range e.initrds {
		add := initrd
		if in.words > 1 {
			s, _ := grubUnquote(in.lastRaw)
			dev := devicePrefix(s)
			if strings.TrimPrefix(s, dev) == initrd {
				continue
			}
			add = dev + initrd
		}
		sp = append(sp, splice{in.lastEnd, in.lastEnd, " " + add})
	}
	if len(e.initrds) == 0 {
		k, _ := grubUnquote(ent.Kernel)
		cmd := linuxCmds[e.cmd] + " " + devicePrefix(k) + initrd
		if e.newLine {
			eol := e.eol
			if eol == "" {
				eol = c.defaultEOL()
			}
			sp = append(sp, splice{e.lineEnd, e.lineEnd, eol + e.indent + cmd})
		} else {
			sp = append(sp, splice{e.cmdEnd, e.cmdEnd, "; " + cmd})
		}
	}
	return sp
}

// hasCont reports whether Data[start:end] holds a line continuation.
func (c *Config) hasCont(start, end int) bool {
	i := sort.SearchInts(c.conts, start)
	return i < len(c.conts) && c.conts[i] < end
}

// defaultEOL returns the first "\n" or "\r\n" line ending of the file, or
// "\n".
func (c *Config) defaultEOL() string {
	for _, l := range c.lines {
		if l.eol == "\n" || l.eol == "\r\n" {
			return l.eol
		}
	}
	return "\n"
}

// applySplices applies non-overlapping splices, in order of start (stable).
func applySplices(data []byte, sp []splice) []byte {
	sort.SliceStable(sp, func(i, j int) bool { return sp[i].start < sp[j].start })
	var b strings.Builder
	pos := 0
	for _, s := range sp {
		if s.start < pos {
			continue // overlapping: cannot happen for splices of distinct commands
		}
		b.Write(data[pos:s.start])
		b.WriteString(s.text)
		pos = s.end
	}
	b.Write(data[pos:])
	return []byte(b.String())
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
