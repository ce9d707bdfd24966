package bootcfg

import (
	"bytes"
	"fmt"
	"path"
	"strings"
)

// Syntax is the language of a configuration file.
type Syntax int

// The configuration languages this package understands.
const (
	// Syslinux is the SYSLINUX/ISOLINUX/EXTLINUX language.
	Syslinux Syntax = iota + 1
	// GRUB is the GRUB 2 script language of grub.cfg.
	GRUB
)

// String returns "syslinux" or "grub".
func (s Syntax) String() string {
	switch s {
	case Syslinux:
		return "syslinux"
	case GRUB:
		return "grub"
	}
	return fmt.Sprintf("Syntax(%d)", int(s))
}

// MaxSize is the largest configuration file Parse accepts, in bytes.
const MaxSize = 1 << 20

// Config is one configuration file.
type Config struct {
	// Path is the path of the file, as given to Parse.
	Path string
	// Syntax is the language of the file.
	Syntax Syntax
	// Data is the content of the file.
	Data []byte
	// Includes are the paths of the files this one references (SYSLINUX
	// INCLUDE, MENU INCLUDE and CONFIG; GRUB source, "." and configfile),
	// in order, cleaned, absolute, without the leading slash. The case is
	// the one the file uses.
	Includes []string
	// Unresolved are the GRUB source/configfile arguments that hold
	// variables other than $prefix, verbatim. They are not followed.
	Unresolved []string
	// Entries are the Linux boot entries of the file, in file order.
	Entries []Entry

	lines []line
	conts []int // GRUB: offsets of the line continuations
}

// Entry is one Linux boot entry.
type Entry struct {
	// Path is the path of the file that holds the entry.
	Path string
	// Line is the 1-based line number of the kernel line (KERNEL/LINUX
	// for SYSLINUX, linux/linuxefi/linux16 for GRUB).
	Line int
	// Label is the SYSLINUX LABEL or the GRUB menuentry title (unquoted
	// when it holds no variables; empty for a linux line outside a
	// menuentry).
	Label string
	// Kernel is the kernel path as written.
	Kernel string
	// Initrds are the initramfs files the entry loads, in order.
	Initrds []string
	// Args are the kernel arguments: for SYSLINUX the words of the
	// effective APPEND line without initrd=/initrd+= options, joined by
	// single spaces ("" for "APPEND -"); for GRUB the text of the linux
	// line after the kernel path, verbatim. Neither holds Trailer.
	Args string
	// Trailer is the "---" separator and everything after it, verbatim,
	// or "" when there is none. Rewrite keeps it.
	Trailer string

	sys  *sysEntry
	grub *grubEntry
}

// Edit is a change applied to every entry of a configuration.
type Edit struct {
	// Initrd is the absolute ISO path ("/flatcar/isobuild.img") of an
	// initramfs appended as the last initramfs of every entry ("" =
	// none).
	Initrd string
	// Args returns the new kernel arguments of an entry, given the entry
	// and its current arguments (nil = unchanged). The arguments must not
	// hold control characters (such as a newline).
	Args func(entry Entry, args string) (string, error)
}

// line is one line of a file: text without its line ending, and the ending
// ("\n", "\r\n" or "" for a last line without one).
type line struct {
	text, eol string
}

func splitLines(data []byte) []line {
	var out []line
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			// A last line without "\n": a final "\r" is its ending.
			l := line{text: string(data)}
			if strings.HasSuffix(l.text, "\r") {
				l.text, l.eol = l.text[:len(l.text)-1], "\r"
			}
			out = append(out, l)
			break
		}
		l := line{text: string(data[:i]), eol: "\n"}
		if strings.HasSuffix(l.text, "\r") {
			l.text, l.eol = l.text[:len(l.text)-1], "\r\n"
		}
		out = append(out, l)
		data = data[i+1:]
	}
	return out
}

// Parse parses one configuration file. path is the file's path in the ISO
// (it names the file in errors and resolves relative includes).
func Parse(path string, syntax Syntax, data []byte) (*Config, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d bytes a boot configuration may have", path, len(data), MaxSize)
	}
	c := &Config{Path: path, Syntax: syntax, Data: data, lines: splitLines(data)}
	switch syntax {
	case Syslinux:
		c.parseSyslinux()
	case GRUB:
		if err := c.parseGRUB(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: unknown configuration syntax %d", path, int(syntax))
	}
	return c, nil
}

// resolve turns a referenced path into a cleaned absolute path without the
// leading slash, relative to the directory of the config.
func (c *Config) resolve(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = path.Join("/", path.Dir("/"+strings.TrimPrefix(c.Path, "/")), p)
	}
	return strings.TrimPrefix(path.Clean(p), "/")
}

func (c *Config) addInclude(p string) {
	if p == "" {
		return
	}
	r := c.resolve(p)
	if r == "" || r == "." {
		return
	}
	c.Includes = append(c.Includes, r)
}

// rewriter collects the changes to a file's lines.
type rewriter struct {
	lines   []line
	replace map[int]string   // line index -> new text
	after   map[int][]string // line index -> lines inserted after it
}

func (w *rewriter) text(i int) string {
	if t, ok := w.replace[i]; ok {
		return t
	}
	return w.lines[i].text
}

func (w *rewriter) set(i int, t string) {
	if t != w.lines[i].text {
		w.replace[i] = t
	} else {
		delete(w.replace, i)
	}
}

func (w *rewriter) insert(i int, t string) {
	w.after[i] = append(w.after[i], t)
}

func (w *rewriter) changed() bool {
	return len(w.replace) > 0 || len(w.after) > 0
}

func (w *rewriter) bytes() []byte {
	var b bytes.Buffer
	def := "\n"
	for _, l := range w.lines {
		if l.eol == "\n" || l.eol == "\r\n" {
			def = l.eol
			break
		}
	}
	for i, l := range w.lines {
		b.WriteString(w.text(i))
		ins := w.after[i]
		if len(ins) == 0 {
			b.WriteString(l.eol)
			continue
		}
		// Lines inserted after the last line, which has no "\n", are
		// separated by the file's usual ending and end like it did.
		eol, final := l.eol, ""
		if eol == "" || eol == "\r" {
			eol, final = def, l.eol
		}
		if eol == "\n" && strings.HasSuffix(w.text(i), "\r") {
			b.WriteString("\r\n") // "\r" then "\n" would read as one CRLF ending
		} else {
			b.WriteString(eol)
		}
		for j, t := range ins {
			b.WriteString(t)
			if j < len(ins)-1 {
				b.WriteString(eol)
			} else if final != "" || l.eol == eol {
				b.WriteString(l.eol)
			}
		}
	}
	return b.Bytes()
}

// Rewrite returns the file contents with the edit applied to every entry,
// and whether anything changed. Lines other than the edited ones are kept
// byte for byte. When nothing changed, the returned bytes are c.Data.
func (c *Config) Rewrite(e Edit) ([]byte, bool, error) {
	if e.Initrd != "" {
		if err := checkInitrd(c.Syntax, e.Initrd); err != nil {
			return nil, false, fmt.Errorf("%s: %w", c.Path, err)
		}
	}
	w := &rewriter{lines: c.lines, replace: map[int]string{}, after: map[int][]string{}}
	var sp []splice // GRUB edits
	for _, ent := range c.Entries {
		args := ent.Args
		if e.Args != nil {
			a, err := e.Args(ent, ent.Args)
			if err != nil {
				return nil, false, fmt.Errorf("%s:%d: kernel arguments of entry %q: %w", c.Path, ent.Line, ent.Label, err)
			}
			a = strings.TrimSpace(a)
			if err := checkArgs(c.Syntax, a); err != nil {
				return nil, false, fmt.Errorf("%s:%d: new kernel arguments of entry %q: %w", c.Path, ent.Line, ent.Label, err)
			}
			args = a
		}
		switch c.Syntax {
		case Syslinux:
			c.rewriteSyslinux(w, ent, e.Initrd, args)
		case GRUB:
			sp = c.rewriteGRUB(sp, ent, e.Initrd, args)
		}
	}
	if !w.changed() && len(sp) == 0 {
		return c.Data, false, nil
	}
	var out []byte
	if c.Syntax == GRUB {
		out = applySplices(c.Data, sp)
	} else {
		out = w.bytes()
	}
	if bytes.Equal(out, c.Data) {
		return c.Data, false, nil
	}
	return out, true, nil
}

func checkInitrd(s Syntax, p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("initramfs path %q must be absolute", p)
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`,;"'\$#{}|&<>()`+"`", r) {
			return fmt.Errorf("initramfs path %q holds %q, which boot loader configs cannot carry unquoted", p, r)
		}
	}
	return nil
}

func checkArgs(s Syntax, a string) error {
	for i, r := range a {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("control character %q at byte %d", r, i)
		}
	}
	if s == Syslinux {
		for _, w := range strings.Fields(a) {
			if isInitrdArg(w) {
				return fmt.Errorf("%q: set the initramfs with Edit.Initrd, not as an argument", w)
			}
		}
	}
	if s == GRUB {
		lx := lexGRUB(a)
		if lx.bad >= 0 {
			return fmt.Errorf("unbalanced quotes or a dangling backslash in %q", a)
		}
		for _, t := range lx.toks {
			switch t.kind {
			case tokSemi:
				return fmt.Errorf("unquoted %q at byte %d ends the GRUB command early (write it as \\%c, or put the argument in single quotes)", a[t.start], t.start, a[t.start])
			case tokComment:
				return fmt.Errorf("unquoted %q at byte %d starts a GRUB comment", a[t.start], t.start)
			case tokLBrace, tokRBrace:
				return fmt.Errorf("unquoted %q at byte %d", t.raw, t.start)
			}
		}
	}
	return nil
}

// splitTrailer splits argument words at the first "---" word.
func splitTrailer(words []string) (args, trailer []string) {
	for i, w := range words {
		if w == "---" {
			return words[:i], words[i:]
		}
	}
	return words, nil
}

// indentOf returns the leading spaces and tabs of s.
func indentOf(s string) string {
	return s[:len(s)-len(strings.TrimLeft(s, " \t"))]
}

// matchCase returns kw in lower case when model is lower case.
func matchCase(kw, model string) string {
	if model == strings.ToLower(model) {
		return strings.ToLower(kw)
	}
	return strings.ToUpper(kw)
}
