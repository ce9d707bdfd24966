package installer

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Console is a kernel/bootloader console for the installed system, as
// coreos-installer's --console takes it: a serial port with line settings,
// or one of the graphical or hypervisor consoles.
type Console struct {
	// Device is the console device: ttyS<n>, ttyAMA<n>, tty0, hvc0 or ttysclp0.
	Device string
	// Speed, Parity ('n', 'o', 'e') and Bits describe a serial line; they
	// are zero for other consoles.
	Speed  uint32
	Parity byte
	Bits   uint8
}

var serialRE = regexp.MustCompile(`^(ttyS|ttyAMA)([0-9]+)(?:,([0-9]+)(?:([noe])([5-8])?)?)?$`)

// ParseConsole parses a console spec such as "ttyS0,115200n8" or "tty0".
// Serial line settings default to 9600 baud, no parity, 8 bits.
func ParseConsole(spec string) (Console, error) {
	switch {
	case strings.HasPrefix(spec, "console="):
		return Console{}, fmt.Errorf("console %q: spec should not start with \"console=\"", spec)
	case strings.HasPrefix(spec, "/dev/"):
		return Console{}, fmt.Errorf("console %q: spec should not start with \"/dev/\"", spec)
	case spec == "tty0" || spec == "hvc0" || spec == "ttysclp0":
		return Console{Device: spec}, nil
	}
	m := serialRE.FindStringSubmatch(spec)
	if m == nil {
		return Console{}, fmt.Errorf("console %q: invalid or unsupported console argument", spec)
	}
	port, err := strconv.ParseUint(m[2], 10, 32)
	if err != nil {
		return Console{}, fmt.Errorf("console %q: invalid or unsupported console argument: port: %w", spec, errors.Unwrap(err))
	}
	c := Console{Device: m[1] + strconv.FormatUint(port, 10), Speed: 9600, Parity: 'n', Bits: 8}
	if m[3] != "" {
		speed, err := strconv.ParseUint(m[3], 10, 32)
		if err != nil {
			return Console{}, fmt.Errorf("console %q: invalid or unsupported console argument: speed: %w", spec, errors.Unwrap(err))
		}
		c.Speed = uint32(speed)
	}
	if m[4] != "" {
		c.Parity = m[4][0]
	}
	if m[5] != "" {
		c.Bits = m[5][0] - '0'
	}
	return c, nil
}

// String returns the normalised spec, e.g. "ttyS0,115200n8". A serial
// console always has its line settings, so that the spec parses back to
// the same Console.
func (c Console) String() string {
	if c.Parity == 0 {
		return c.Device
	}
	return fmt.Sprintf("%s,%d%c%d", c.Device, c.Speed, c.Parity, c.Bits)
}

// Karg returns the kernel argument for the console, e.g. "console=ttyS0,9600n8".
func (c Console) Karg() string { return "console=" + c.String() }
