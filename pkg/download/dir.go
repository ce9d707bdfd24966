package download

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Dir is where downloads are written. Names are base names (no
// separators); the engine checks them before use.
type Dir interface {
	// Open opens the named file for reading. It returns an error that
	// wraps fs.ErrNotExist when there is no such file.
	Open(name string) (io.ReadCloser, error)
	// Create returns a new temporary file that becomes name on Commit.
	// Until then nothing named name changes.
	Create(name string) (TempFile, error)
	// Remove removes the named file; a missing file is no error.
	Remove(name string) error
	// Path returns the name as the caller should print it.
	Path(name string) string
}

// TempFile is a file being written. Exactly one of Commit and Abort is
// called.
type TempFile interface {
	io.Writer
	// Commit makes the written bytes durable and gives them the file's
	// name, replacing any file of that name.
	Commit() error
	// Abort removes the temporary file.
	Abort() error
}

// OSDir is a directory of the file system. Create makes a hidden
// temporary file ".NAME.*.partial" in the directory itself, so that
// Commit is a rename within one file system; Commit syncs the file,
// makes it mode 0644, renames it over NAME and syncs the directory.
type OSDir string

func (d OSDir) Open(name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), name))
}

func (d OSDir) Path(name string) string { return filepath.Join(string(d), name) }

func (d OSDir) Remove(name string) error {
	err := os.Remove(filepath.Join(string(d), name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (d OSDir) Create(name string) (TempFile, error) {
	f, err := os.CreateTemp(string(d), "."+name+".*.partial")
	if err != nil {
		return nil, err
	}
	return &osTemp{f: f, dir: string(d), name: name}, nil
}

type osTemp struct {
	f    *os.File
	dir  string
	name string
}

func (t *osTemp) Write(p []byte) (int, error) { return t.f.Write(p) }

func (t *osTemp) Commit() error {
	tmp := t.f.Name()
	err := t.f.Chmod(0o644)
	if err == nil {
		err = t.f.Sync()
	}
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(t.dir, t.name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", filepath.Join(t.dir, t.name), err)
	}
	if d, err := os.Open(t.dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (t *osTemp) Abort() error {
	t.f.Close()
	return os.Remove(t.f.Name())
}
