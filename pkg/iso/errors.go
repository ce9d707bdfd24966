package iso

import (
	"errors"
	"fmt"
	"io/fs"
)

// ErrNotFound reports that a path component does not exist, or that a file
// was used as a directory. Callers treat it as "feature absent" for optional
// metadata files. errors.Is(err, fs.ErrNotExist) also holds for it.
var ErrNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string { return "no such file or directory in ISO" }

// Is makes ErrNotFound match fs.ErrNotExist as well.
func (notFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// ErrIncomplete reports an image shorter than the volume space size recorded
// in its primary volume descriptor (typically a truncated download).
var ErrIncomplete = errors.New("image is shorter than its ISO 9660 volume size")

// ErrNotISO is matched (errors.Is) by the error Open returns for a file
// that is not an ISO 9660 image at all: it is too short to hold the first
// volume descriptor, or that descriptor lacks the CD001 signature. The
// error is a *FormatError at offset 32768 (sector 16).
var ErrNotISO = errors.New("not an ISO 9660 image")

// notISOError is the cause in that FormatError: it matches both ErrNotISO
// and the specific problem.
type notISOError struct{ err error }

func (e notISOError) Error() string   { return ErrNotISO.Error() + ": " + e.err.Error() }
func (e notISOError) Unwrap() []error { return []error{ErrNotISO, e.err} }

// Causes wrapped in FormatError.
var (
	errUnknownID         = errors.New("unknown descriptor ID")
	errUnknownVersion    = errors.New("unknown descriptor version")
	errNoPrimary         = errors.New("no primary volume descriptor found in ISO")
	errIncompleteRecord  = errors.New("incomplete directory record")
	errInvalidStringName = errors.New("invalid string name")
)

// FormatError reports malformed ISO 9660 data at a byte offset of the image.
type FormatError struct {
	Offset int64  // byte offset in the image where the problem was found
	What   string // the structure being read, e.g. "volume descriptor" or `directory "IMAGES"`
	Err    error  // the cause
}

// Error renders the error as
// "offset 34816 (sector 17): volume descriptor: unknown descriptor ID".
func (e *FormatError) Error() string {
	s := fmt.Sprintf("offset %d (sector %d): %s", e.Offset, e.Offset/SectorSize, e.What)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *FormatError) Unwrap() error { return e.Err }
