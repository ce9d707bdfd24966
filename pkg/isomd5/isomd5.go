// Package isomd5 reads, computes and checks the media checksum that
// isomd5sum's implantisomd5 writes into an ISO 9660 image and that
// checkisomd5 (and dracut's rd.live.check boot option, and Anaconda's
// media check) verify.
//
// # Format
//
// The checksum lives in the 512-byte application-use area of the primary
// volume descriptor (bytes 883 to 1395 of the descriptor, the first one at
// sector 16), as ASCII text padded with spaces:
//
//	ISO MD5SUM = <32 hex digits>;SKIPSECTORS = <n>;RHLISOSTATUS=<0|1>;FRAGMENT SUMS = <hex>;FRAGMENT COUNT = <k>;THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!
//
// The MD5 covers the volume as the primary descriptor sizes it (volume
// space size × 2048 bytes, not the file size) minus its last n sectors
// (15 for isomd5sum 1.2), with the application-use area read as 512
// spaces, so that implanting the text does not change the sum. The volume
// is hashed in runs of 32 KiB from byte 0; the covered length is split
// into k+1 equal fragments (k is 20), and after each run that starts in a
// later fragment than the run before it, the MD5 of everything hashed so
// far contributes 60/k characters to the fragment sums: for each of the
// first 60/k digest bytes, its first hexadecimal digit as printf's "%x"
// writes it (the high nibble, or the low one when the high one is zero).
// RHLISOSTATUS=1 marks "supported" media (implantisomd5 --supported-iso),
// for which Anaconda skips its media-check prompt.
//
// The package does no file access: images are read through [io.ReaderAt].
package isomd5

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Layout constants of the implanted checksum.
const (
	// AppOffset is the offset of the application-use area inside the
	// primary volume descriptor.
	AppOffset = 883
	// AppSize is the size of the application-use area.
	AppSize = 512
	// DefaultSkipSectors is the number of sectors at the end of the
	// volume that implantisomd5 1.2 leaves out of the sum.
	DefaultSkipSectors = 15
	// DefaultFragmentCount is the number of fragment sums implantisomd5
	// writes.
	DefaultFragmentCount = 20
	// FragmentSumsLength is the number of characters all fragment sums
	// share: each fragment gets FragmentSumsLength / FragmentCount.
	FragmentSumsLength = 60

	sectorSize = 2048
	// runSize is the length of the runs the volume is hashed in; the
	// fragment sums depend on it.
	runSize = 16 * sectorSize
	// bufSize bounds the memory Compute reads the image with.
	bufSize = 1 << 20
	// maxDescriptors bounds the scan for the primary volume descriptor.
	maxDescriptors = 64

	marker  = "ISO MD5SUM = "
	trailer = "THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!"
)

// Params are the choices an implant makes; [DefaultParams] are
// implantisomd5's.
type Params struct {
	// SkipSectors is the number of sectors at the end of the volume
	// left out of the sum.
	SkipSectors int64
	// FragmentCount is the number of fragment sums, 1 to 60.
	FragmentCount int
	// Supported sets RHLISOSTATUS=1 (implantisomd5 --supported-iso).
	Supported bool
}

// DefaultParams returns what implantisomd5 1.2 implants without options.
func DefaultParams() Params {
	return Params{SkipSectors: DefaultSkipSectors, FragmentCount: DefaultFragmentCount}
}

func (p Params) validate() error {
	if p.SkipSectors < 0 {
		return fmt.Errorf("skip sectors %d is negative", p.SkipSectors)
	}
	if p.FragmentCount < 1 || p.FragmentCount > FragmentSumsLength {
		return fmt.Errorf("fragment count %d is not between 1 and %d", p.FragmentCount, FragmentSumsLength)
	}
	return nil
}

// Info is an implanted checksum: as read from an image by [Read], or as
// computed for one by [Compute].
type Info struct {
	// Offset is the byte offset of the application-use area in the
	// image; VolumeSize is the volume size in bytes by the primary
	// volume descriptor. Both are zero for an Info from [Parse].
	Offset     int64
	VolumeSize int64

	// MD5 is the sum as 32 hexadecimal digits.
	MD5 string
	// FragmentSums are the fragment sums, in hexadecimal digits; empty
	// if the text has none.
	FragmentSums string
	// Params are the skip sectors, the fragment count and the
	// supported flag (the text's defaults where it omits them:
	// FRAGMENT COUNT defaults to 20, RHLISOSTATUS to 0).
	Params
}

// FormatError reports an application-use area that holds the start of an
// implanted checksum ("ISO MD5SUM = ") but not a checksum this package
// (and checkisomd5) can read.
type FormatError struct {
	Offset int64 // of the application-use area; 0 from Parse
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("implanted media checksum at byte %d: %s", e.Offset, e.Reason)
}

// Implanted reports whether an application-use area (AppSize bytes, or
// fewer) holds the start of an implanted checksum anywhere in the part
// checkisomd5 reads (all but the last byte).
func Implanted(app []byte) bool {
	return bytes.Contains(app[:min(len(app), AppSize-1)], []byte(marker))
}

// Parse decodes an application-use area of AppSize bytes. It returns nil,
// nil if the area holds no implanted checksum, and a *FormatError if it
// holds a damaged one. The fields are read as checkisomd5 does: separated
// by semicolons, in any order, unknown ones skipped, the area's last byte
// ignored; the MD5 and SKIPSECTORS fields are required.
func Parse(app []byte) (*Info, error) {
	if len(app) != AppSize {
		return nil, fmt.Errorf("application-use area of %d bytes, want %d", len(app), AppSize)
	}
	if !Implanted(app) {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return &FormatError{Reason: fmt.Sprintf(format, args...)}
	}
	text := string(app[:AppSize-1])
	info := &Info{Params: Params{FragmentCount: DefaultFragmentCount}}
	var haveSkip, haveMD5 bool
	// Like checkisomd5, look for a field name at every position; a
	// field's value runs to the next semicolon.
	for i := 0; i < len(text); {
		key, ok := keyAt(text[i:])
		if !ok {
			i++
			continue
		}
		i += len(key)
		end := strings.IndexByte(text[i:], ';')
		if end < 0 {
			end = len(text) - i
		}
		value := text[i : i+end]
		i += end
		switch key {
		case marker:
			if haveMD5 {
				continue
			}
			if len(value) < 32 || !isHex(value[:32]) {
				return nil, bad("the MD5 %q is not 32 hexadecimal digits", trimmed(value))
			}
			if strings.TrimRight(value[32:], " ") != "" {
				return nil, bad("the MD5 %q is followed by %q", value[:32], trimmed(value[32:]))
			}
			info.MD5 = value[:32]
			haveMD5 = true
		case "SKIPSECTORS = ":
			n, err := number(value)
			if err != nil || n < 0 {
				return nil, bad("SKIPSECTORS %q is not a sector count", trimmed(value))
			}
			info.SkipSectors = n
			haveSkip = true
		case "RHLISOSTATUS=":
			n, err := number(value)
			if err != nil {
				return nil, bad("RHLISOSTATUS %q is not a number", trimmed(value))
			}
			info.Supported = n != 0
		case "FRAGMENT SUMS = ":
			v := strings.TrimRight(value, " ")
			if len(v) > FragmentSumsLength || !isHex(v) {
				return nil, bad("FRAGMENT SUMS %q is not up to %d hexadecimal digits", trimmed(value), FragmentSumsLength)
			}
			info.FragmentSums = v
		case "FRAGMENT COUNT = ":
			n, err := number(value)
			if err != nil || n < 1 || n > FragmentSumsLength {
				return nil, bad("FRAGMENT COUNT %q is not between 1 and %d", trimmed(value), FragmentSumsLength)
			}
			info.FragmentCount = int(n)
		}
	}
	if !haveMD5 || !haveSkip {
		return nil, bad("the SKIPSECTORS field is missing (or the MD5 is cut off)")
	}
	return info, nil
}

var keys = []string{marker, "SKIPSECTORS = ", "RHLISOSTATUS=", "FRAGMENT SUMS = ", "FRAGMENT COUNT = "}

func keyAt(s string) (string, bool) {
	for _, k := range keys {
		if strings.HasPrefix(s, k) {
			return k, true
		}
	}
	return "", false
}

// number parses a decimal field value; the text ends in padding spaces
// after the last field only, but a value may be followed by some.
func number(s string) (int64, error) {
	return strconv.ParseInt(strings.TrimRight(s, " "), 10, 64)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func trimmed(s string) string {
	s = strings.TrimRight(s, " \x00")
	if len(s) > 70 {
		s = s[:70] + "..."
	}
	return s
}

// AppData returns the application-use area that holds the checksum, as
// implantisomd5 writes it: AppSize bytes of text padded with spaces.
func (i *Info) AppData() []byte {
	p := i.Params
	status := 0
	if p.Supported {
		status = 1
	}
	text := fmt.Sprintf("%s%s;SKIPSECTORS = %d;RHLISOSTATUS=%d;FRAGMENT SUMS = %s;FRAGMENT COUNT = %d;%s",
		marker, i.MD5, p.SkipSectors, status, i.FragmentSums, p.FragmentCount, trailer)
	out := bytes.Repeat([]byte{' '}, AppSize)
	// The last byte stays a space: checkisomd5 does not read it.
	copy(out[:AppSize-1], text)
	return out
}

// Area returns the byte offset of the application-use area of the image
// r of size bytes: that of the first volume descriptor of type 1 (primary)
// from sector 16 on, found as implantisomd5 and checkisomd5 find it.
func Area(r io.ReaderAt, size int64) (int64, error) {
	pvd, _, err := primary(r, size)
	if err != nil {
		return 0, err
	}
	return pvd + AppOffset, nil
}

// primary finds the primary volume descriptor and returns its offset and
// the volume size in bytes.
func primary(r io.ReaderAt, size int64) (int64, int64, error) {
	var d [sectorSize]byte
	for i := int64(0); i < maxDescriptors; i++ {
		off := (16 + i) * sectorSize
		if off+sectorSize > size {
			return 0, 0, fmt.Errorf("no primary volume descriptor in the %d-byte image: is it an ISO 9660 image?", size)
		}
		if n, err := r.ReadAt(d[:], off); n < len(d) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, fmt.Errorf("reading the volume descriptor at byte %d: %w", off, err)
		}
		switch d[0] {
		case 1:
			if string(d[1:6]) != "CD001" {
				return 0, 0, fmt.Errorf("the volume descriptor at byte %d is not an ISO 9660 descriptor", off)
			}
			sectors := int64(d[84])<<24 | int64(d[85])<<16 | int64(d[86])<<8 | int64(d[87])
			return off, sectors * sectorSize, nil
		case 255:
			return 0, 0, fmt.Errorf("no primary volume descriptor before the terminator at byte %d", off)
		}
	}
	return 0, 0, fmt.Errorf("no primary volume descriptor in the first %d volume descriptors", maxDescriptors)
}

// Read returns the checksum implanted in the image r of size bytes, or nil,
// nil if the image has none. A damaged one is a *FormatError.
func Read(r io.ReaderAt, size int64) (*Info, error) {
	pvd, vol, err := primary(r, size)
	if err != nil {
		return nil, err
	}
	app := make([]byte, AppSize)
	if _, err := r.ReadAt(app, pvd+AppOffset); err != nil {
		return nil, fmt.Errorf("reading the application-use area at byte %d: %w", pvd+AppOffset, err)
	}
	info, err := Parse(app)
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.Offset = pvd + AppOffset
		}
		return nil, err
	}
	if info != nil {
		info.Offset, info.VolumeSize = pvd+AppOffset, vol
	}
	return info, nil
}

// Compute returns the checksum that implantisomd5 with parameters p would
// implant in the image r of size bytes: whatever its application-use area
// holds now is hashed as spaces. It reads the covered part of the volume
// once, in order, with a buffer of 1 MiB.
//
// implantisomd5 and checkisomd5 find the primary descriptor's
// application-use area at byte 32768+883 only (they miscount the offset
// of a primary descriptor that is not the first descriptor), so Compute
// refuses an image whose primary descriptor is elsewhere.
func Compute(r io.ReaderAt, size int64, p Params) (*Info, error) {
	info, _, err := compute(r, size, p)
	return info, err
}

// compute is Compute that also returns, for each fragment sum, the
// fragment whose first run completed it: checkisomd5 compares the sum with
// the characters at that fragment's place in the implanted ones.
func compute(r io.ReaderAt, size int64, p Params) (*Info, []int64, error) {
	if err := p.validate(); err != nil {
		return nil, nil, err
	}
	pvd, vol, err := primary(r, size)
	if err != nil {
		return nil, nil, err
	}
	if pvd != 16*sectorSize {
		return nil, nil, fmt.Errorf("the primary volume descriptor is at byte %d, not 32768: implantisomd5 and checkisomd5 would look for the checksum in the wrong place", pvd)
	}
	if vol > size {
		return nil, nil, fmt.Errorf("the primary volume descriptor gives a volume of %d bytes, but the image has %d: is it truncated?", vol, size)
	}
	total := vol - p.SkipSectors*sectorSize
	fragment := total / int64(p.FragmentCount+1)
	if total <= 0 || fragment == 0 {
		return nil, nil, fmt.Errorf("the volume of %d bytes is too small for a checksum that leaves out %d sectors and has %d fragments", vol, p.SkipSectors, p.FragmentCount)
	}
	app := pvd + AppOffset
	per := min(FragmentSumsLength/p.FragmentCount, md5.Size)
	h := md5.New()
	var digest [md5.Size]byte
	sums := make([]byte, 0, FragmentSumsLength)
	buf := make([]byte, min(bufSize, total))
	var fragments []int64
	last := int64(0)
	for off := int64(0); off < total; {
		b := buf[:min(int64(len(buf)), total-off)]
		if n, err := r.ReadAt(b, off); n < len(b) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, fmt.Errorf("reading the image at byte %d: %w", off+int64(n), err)
		}
		// The application-use area is hashed as spaces.
		if lo, hi := max(app, off), min(app+AppSize, off+int64(len(b))); lo < hi {
			for i := lo; i < hi; i++ {
				b[i-off] = ' '
			}
		}
		for s := 0; s < len(b); s += runSize {
			h.Write(b[s:min(s+runSize, len(b))])
			if cur := (off + int64(s)) / fragment; cur != last {
				h.Sum(digest[:0])
				for _, c := range digest[:per] {
					if c >= 0x10 {
						c >>= 4
					}
					sums = append(sums, "0123456789abcdef"[c])
				}
				fragments = append(fragments, cur)
				last = cur
			}
		}
		off += int64(len(b))
	}
	return &Info{
		Offset:       app,
		VolumeSize:   vol,
		MD5:          hex.EncodeToString(h.Sum(nil)),
		FragmentSums: string(sums),
		Params:       p,
	}, fragments, nil
}

// Implant returns the bytes to write at off to implant the checksum
// implantisomd5 with parameters p would implant in the image r of size
// bytes (see [Compute]). Writing them leaves every other byte alone.
func Implant(r io.ReaderAt, size int64, p Params) (off int64, data []byte, err error) {
	info, err := Compute(r, size, p)
	if err != nil {
		return 0, nil, err
	}
	return info.Offset, info.AppData(), nil
}

// ErrNotImplanted is returned by Check for an image without an implanted
// checksum.
var ErrNotImplanted = errors.New("the image has no implanted media checksum (implantisomd5)")

// MismatchError is returned by Check for an image whose implanted
// checksum does not match its contents.
type MismatchError struct {
	Implanted, Computed *Info
}

func (e *MismatchError) Error() string {
	what := "MD5"
	if e.Implanted.MD5 == e.Computed.MD5 {
		what = "fragment sums"
	}
	return fmt.Sprintf("the implanted media checksum at byte %d does not match the image (%s differ: implanted %s, computed %s): the image was changed after implantisomd5 ran, or is damaged",
		e.Implanted.Offset, what, e.Implanted.MD5, e.Computed.MD5)
}

// Check verifies the checksum implanted in the image r of size bytes, as
// checkisomd5 does: it returns nil if it matches, ErrNotImplanted, a
// *FormatError or a *MismatchError. Like checkisomd5, it compares the MD5
// digits exactly (lower-case, as implantisomd5 writes them) and fails an
// image whose fragments are so short (a volume under about 700 KiB) that
// the fragment sums land out of place, even if implantisomd5 made it.
func Check(r io.ReaderAt, size int64) error {
	info, err := Read(r, size)
	if err != nil {
		return err
	}
	if info == nil {
		return ErrNotImplanted
	}
	got, fragments, err := compute(r, size, info.Params)
	if err != nil {
		return err
	}
	if got.MD5 != info.MD5 {
		return &MismatchError{Implanted: info, Computed: got}
	}
	// Each fragment sum is compared at its fragment's place; in a volume
	// whose fragments are shorter than a run of 32 KiB, a run can skip a
	// fragment and the sums land elsewhere than the implant put them.
	per := min(FragmentSumsLength/info.FragmentCount, md5.Size)
	for i, f := range fragments {
		at := int(f-1) * per
		if at+per > len(info.FragmentSums) || got.FragmentSums[i*per:(i+1)*per] != info.FragmentSums[at:at+per] {
			return &MismatchError{Implanted: info, Computed: got}
		}
	}
	return nil
}
