package installer

import (
	"strings"
	"testing"
)

// Spec 6.7 item 47.
func TestParseConsole(t *testing.T) {
	for in, want := range map[string]string{
		"ttyS1":            "console=ttyS1,9600n8",
		"ttyS1,1234567e5":  "console=ttyS1,1234567e5",
		"ttyS2,5o":         "console=ttyS2,5o8",
		"ttyS0,115200n8":   "console=ttyS0,115200n8",
		"ttyAMA0,115200":   "console=ttyAMA0,115200n8",
		"tty0":             "console=tty0",
		"hvc0":             "console=hvc0",
		"ttysclp0":         "console=ttysclp0",
		"ttyS007,115200e7": "console=ttyS7,115200e7",
	} {
		c, err := ParseConsole(in)
		if err != nil || c.Karg() != want {
			t.Errorf("ParseConsole(%q) = %q, %v; want %q", in, c.Karg(), err, want)
		}
	}
	for in, want := range map[string]string{
		"foo":                  "invalid or unsupported console argument",
		"/dev/tty0":            `spec should not start with "/dev/"`,
		"console=tty0":         `spec should not start with "console="`,
		"tty1":                 "invalid or unsupported console argument",
		"ttyS0,":               "invalid or unsupported console argument",
		"ttyS0,115200p8":       "invalid or unsupported console argument",
		"ttyS0,115200n4":       "invalid or unsupported console argument",
		"ttyB0":                "invalid or unsupported console argument",
		"ttyS4294967296":       "invalid or unsupported console argument",
		"ttyS0,99999999999999": "invalid or unsupported console argument",
	} {
		if _, err := ParseConsole(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConsole(%q) error %v, want %q", in, err, want)
		}
	}
}
