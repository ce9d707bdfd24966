//go:build unix

package output

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// pollable returns a non-blocking duplicate of the pipe, socket or device
// f, which the Go runtime's poller can wait on, so that a write deadline
// can end a blocked write; restore undoes it. A blocking descriptor (the
// usual standard output) blocks in the kernel until the reader reads, and
// nothing short of killing the process ends that. It fails for regular
// files, whose writes never wait for a reader.
func pollable(f *os.File) (*os.File, func(), error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var dup int
	var wasNonblock bool
	var ctlErr error
	err = rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if ctlErr = unix.Fstat(int(fd), &st); ctlErr != nil {
			return
		}
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			ctlErr = errors.New("regular file")
			return
		}
		var fl int
		if fl, ctlErr = unix.FcntlInt(fd, unix.F_GETFL, 0); ctlErr != nil {
			return
		}
		wasNonblock = fl&unix.O_NONBLOCK != 0
		if dup, ctlErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); ctlErr != nil {
			return
		}
		// O_NONBLOCK belongs to the open file description, which the
		// duplicate shares with f; restore puts it back.
		if !wasNonblock {
			if ctlErr = unix.SetNonblock(dup, true); ctlErr != nil {
				unix.Close(dup)
			}
		}
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		return nil, nil, err
	}
	pf := os.NewFile(uintptr(dup), f.Name())
	restore := func() {
		if !wasNonblock {
			rc.Control(func(fd uintptr) { unix.SetNonblock(int(fd), false) })
		}
		pf.Close()
	}
	return pf, restore, nil
}

// closedStdout reports whether f is the standard output that the Go
// runtime opened on /dev/null because the process started with it closed:
// the runtime opens /dev/null read-write, while a shell's ">/dev/null"
// opens it write-only.
func closedStdout(f *os.File, st os.FileInfo) bool {
	if st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	if err != nil || !os.SameFile(st, null) {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	// Control, unlike Fd, leaves the descriptor's blocking mode alone.
	rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		closed = fd == 1 && err == nil && fl&unix.O_ACCMODE == unix.O_RDWR
	})
	return closed
}
