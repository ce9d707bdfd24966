package bootcfg

import (
	"path"
	"strings"
)

// sysEntry locates the lines of a SYSLINUX label (indexes into lines; -1
// for none).
type sysEntry struct {
	kernelLine int
	kernelKw   string // the kernel keyword as written, for the case of new lines
	appendLine int    // the label's own last APPEND
	globalLine int    // the global APPEND in effect when the label ended
	initrdLine int    // the label's last INITRD directive
}

// tok is a word of a line: its byte range.
type tok struct{ start, end int }

func isSpace(b byte) bool { return b <= ' ' }

// sysTrim removes the bytes SYSLINUX counts as spaces from both ends.
func sysTrim(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// sysTokens splits s into words separated by bytes <= ' ', as SYSLINUX
// does.
func sysTokens(s string) []tok {
	var out []tok
	for i := 0; i < len(s); {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		out = append(out, tok{i, j})
		i = j
	}
	return out
}

// sysDirective splits a line into its lower-cased keyword and the byte
// offset of its value (the first word after the keyword, or len(s)).
func sysDirective(s string) (kw string, toks []tok, valueStart int) {
	toks = sysTokens(s)
	if len(toks) == 0 || s[toks[0].start] == '#' {
		return "", nil, len(s)
	}
	kw = strings.ToLower(s[toks[0].start:toks[0].end])
	if len(toks) > 1 {
		return kw, toks, toks[1].start
	}
	return kw, toks, len(s)
}

// moduleExts are the file extensions SYSLINUX does not boot as a Linux
// kernel under KERNEL.
var moduleExts = map[string]bool{
	".c32": true, ".com": true, ".cbt": true, ".bss": true, ".bs": true,
	".bin": true, ".0": true, ".img": true,
}

func isLinuxKernel(p string) bool {
	base := strings.ToLower(path.Base(p))
	if base == "memdisk" {
		return false // a disk emulator that takes its image as initrd=
	}
	return !moduleExts[path.Ext(base)] && !isMemtest(p)
}

// isMemtest reports a memory tester, which some configs boot with the
// Linux loader (LINUX /live/memtest, linux16 /boot/memtest86+.bin): it is
// not a Linux entry.
func isMemtest(p string) bool {
	base := strings.ToLower(path.Base(p))
	return strings.Contains(base, "memtest") || strings.HasPrefix(base, "mt86")
}

func isInitrdArg(w string) bool {
	return strings.HasPrefix(w, "initrd=") || strings.HasPrefix(w, "initrd+=")
}

func initrdArgList(w string) []string {
	_, v, _ := strings.Cut(w, "=")
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

type sysLabel struct {
	name       string
	kernel     string
	isLinux    bool
	e          sysEntry
	kernelLine int
}

func (c *Config) parseSyslinux() {
	global := -1
	var cur *sysLabel
	closeLabel := func() {
		if cur != nil && cur.kernel != "" && cur.isLinux {
			cur.e.globalLine = global
			c.Entries = append(c.Entries, c.sysEntryOf(cur))
		}
		cur = nil
	}
	inText := false
	for i, l := range c.lines {
		kw, toks, vs := sysDirective(l.text)
		if inText {
			if kw == "endtext" {
				inText = false
			}
			continue
		}
		first := ""
		if len(toks) > 1 {
			first = l.text[toks[1].start:toks[1].end]
		}
		switch kw {
		case "label":
			closeLabel()
			cur = &sysLabel{name: sysTrim(l.text[vs:]), e: sysEntry{kernelLine: -1, appendLine: -1, globalLine: -1, initrdLine: -1}}
		case "kernel", "linux":
			if cur != nil {
				cur.kernel, cur.e.kernelLine, cur.e.kernelKw = first, i, l.text[toks[0].start:toks[0].end]
				cur.isLinux = first != "" && (kw == "linux" && !isMemtest(first) || isLinuxKernel(first))
			}
		case "boot", "bss", "pxe", "fdimage", "comboot", "com32", "localboot":
			if cur != nil {
				cur.kernel, cur.isLinux = kw, false
			}
		case "config":
			c.addInclude(first)
			if cur != nil {
				cur.kernel, cur.isLinux = kw, false
			}
		case "include":
			c.addInclude(first)
		case "menu":
			if len(toks) > 1 {
				switch strings.ToLower(first) {
				case "include":
					if len(toks) > 2 {
						c.addInclude(l.text[toks[2].start:toks[2].end])
					}
				case "begin", "end":
					closeLabel()
				}
			}
		case "text":
			if strings.EqualFold(first, "help") {
				inText = true
			}
		case "append":
			if cur != nil {
				cur.e.appendLine = i
			} else {
				global = i
			}
		case "initrd":
			if cur != nil {
				cur.e.initrdLine = i
			}
		}
	}
	closeLabel()
}

// appendValue returns the words of an APPEND line's value; "-" is none.
func appendWords(text string) []string {
	_, toks, _ := sysDirective(text)
	var out []string
	for _, t := range toks[1:] {
		out = append(out, text[t.start:t.end])
	}
	if len(out) == 1 && out[0] == "-" {
		return nil
	}
	return out
}

func (c *Config) sysEntryOf(l *sysLabel) Entry {
	e := l.e
	ent := Entry{Path: c.Path, Line: e.kernelLine + 1, Label: l.name, Kernel: l.kernel, sys: &e}
	if e.initrdLine >= 0 {
		text := c.lines[e.initrdLine].text
		if _, toks, _ := sysDirective(text); len(toks) > 1 {
			for _, f := range strings.Split(text[toks[1].start:toks[len(toks)-1].end], ",") {
				if f = sysTrim(f); f != "" {
					ent.Initrds = append(ent.Initrds, f)
				}
			}
		}
	}
	ap := e.appendLine
	if ap < 0 {
		ap = e.globalLine
	}
	if ap >= 0 {
		var args []string
		for _, w := range appendWords(c.lines[ap].text) {
			if isInitrdArg(w) {
				ent.Initrds = append(ent.Initrds, initrdArgList(w)...)
			} else {
				args = append(args, w)
			}
		}
		a, tr := splitTrailer(args)
		ent.Args, ent.Trailer = strings.Join(a, " "), strings.Join(tr, " ")
	}
	return ent
}

// lastItem returns the last non-empty comma-separated item of s.
func lastItem(s string) string {
	items := strings.Split(s, ",")
	for i := len(items) - 1; i >= 0; i-- {
		if t := sysTrim(items[i]); t != "" {
			return t
		}
	}
	return ""
}

func (c *Config) rewriteSyslinux(w *rewriter, ent Entry, initrd, args string) {
	e := ent.sys
	argsChanged := args != ent.Args
	if initrd != "" && e.initrdLine >= 0 {
		text := w.text(e.initrdLine)
		_, toks, _ := sysDirective(text)
		if len(toks) < 2 {
			w.set(e.initrdLine, strings.TrimRight(text, " \t")+" "+initrd)
		} else if end := toks[len(toks)-1].end; lastItem(text[toks[1].start:end]) != initrd {
			w.set(e.initrdLine, text[:end]+","+initrd+text[end:])
		}
	}
	own := e.appendLine
	ap := own
	if ap < 0 {
		ap = e.globalLine
	}
	var words []string
	if ap >= 0 {
		words = appendWords(w.text(ap))
	}
	lastInitrd := -1
	for i, wd := range words {
		if isInitrdArg(wd) {
			lastInitrd = i
		}
	}
	needInitrd := initrd != "" && (lastInitrd >= 0 || e.initrdLine < 0)
	if needInitrd && lastInitrd >= 0 && lastItem(words[lastInitrd][strings.IndexByte(words[lastInitrd], '=')+1:]) == initrd {
		needInitrd = false
	}
	if !needInitrd && !argsChanged {
		return
	}
	if own >= 0 && !argsChanged {
		// Only the initramfs changes: edit the line in place.
		text := w.text(own)
		_, toks, vs := sysDirective(text)
		if lastInitrd >= 0 {
			// words and toks[1:] match unless the value is "-",
			// which holds no initrd option.
			end := toks[1+lastInitrd].end
			w.set(own, text[:end]+","+initrd+text[end:])
		} else if len(toks) == 2 && text[toks[1].start:toks[1].end] == "-" {
			w.set(own, text[:toks[1].start]+"initrd="+initrd+text[toks[1].end:])
		} else if len(toks) < 2 {
			w.set(own, strings.TrimRight(text, " \t")+" initrd="+initrd)
		} else {
			w.set(own, text[:vs]+"initrd="+initrd+" "+text[vs:])
		}
		return
	}
	var value []string
	for i, wd := range words {
		if isInitrdArg(wd) {
			if i == lastInitrd && needInitrd {
				wd += "," + initrd
			}
			value = append(value, wd)
		}
	}
	if needInitrd && lastInitrd < 0 {
		value = append(value, "initrd="+initrd)
	}
	if args != "" {
		value = append(value, args)
	}
	if ent.Trailer != "" {
		value = append(value, ent.Trailer)
	}
	v := strings.Join(value, " ")
	if v == "" {
		v = "-"
	}
	if own >= 0 {
		text := w.text(own)
		_, toks, vs := sysDirective(text)
		head := text[:vs]
		if len(toks) < 2 {
			head = strings.TrimRight(text, " \t") + " "
		}
		w.set(own, head+v)
		return
	}
	kl := c.lines[e.kernelLine].text
	w.insert(e.kernelLine, indentOf(kl)+matchCase("append", e.kernelKw)+" "+v)
}
