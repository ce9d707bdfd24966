// Command isobuild turns a live ISO (Fedora CoreOS, RHCOS, SCOS, Flatcar or
// another distribution's) and a Butane or Ignition config into a customized
// live or installer ISO, edits CoreOS images with coreos-installer-compatible
// commands, and downloads, writes, boots and serves images.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// stopSignals end a command cleanly: they cancel its context.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

func main() {
	// A signal cancels the context: the running command stops at its next
	// check, the code that created a temporary file removes it, and run
	// returns. A second signal gets the default action and ends the
	// process at once, for the rare wait that nothing can interrupt.
	got := make(chan os.Signal, 1)
	signal.Notify(got, stopSignals...)
	// A closed pipe on stdout then fails the write (EPIPE), which the
	// command reports, instead of killing the process without a word.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-finished:
			return
		}
		stop()
		signal.Stop(got)
		select {
		case <-time.After(3 * time.Second):
			fmt.Fprintln(os.Stderr, "isobuild: still stopping; a second signal ends it at once")
		case <-finished:
		}
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	close(finished)
	if code == exitInterrupted {
		// The signal that cancelled ctx reaches got too, possibly a
		// moment later.
		select {
		case s := <-got:
			// As a shell reports a process that the signal killed.
			code = 128 + int(s.(syscall.Signal))
		case <-time.After(time.Second):
		}
	}
	stop()
	os.Exit(code)
}

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitInterrupted is the exit status of a command that a signal stopped
// (main makes it 128 + the signal's number, as for SIGINT).
const exitInterrupted = 130

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root, streams := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil && streams.out.err != nil {
		err = fmt.Errorf("writing to standard output: %w", streams.out.err)
	}
	if err == nil {
		return 0
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "isobuild: stopped (%v); unfinished output files were removed and an unfinished in-place edit rolled back\n", context.Cause(ctx))
		return exitInterrupted
	}
	msg, hint := describe(err)
	if h := streams.configHint(err); h != "" {
		hint = h
	}
	fmt.Fprintf(stderr, "isobuild: error: %s\n", printable(msg))
	if hint != "" {
		fmt.Fprintf(stderr, "isobuild: hint: %s\n", hint)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// maxMessage bounds an error message: a corrupt image can make one quote
// much of itself.
const maxMessage = 2000

// printable makes an error message safe for a terminal: control bytes
// other than newline and tab (from file names or image contents quoted by
// mistake) and invalid UTF-8 are escaped, so that no escape sequence or
// NUL reaches it, and an overlong message is cut.
func printable(msg string) string {
	var b strings.Builder
	for len(msg) > 0 {
		r, n := utf8.DecodeRuneInString(msg)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", msg[0])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteString(msg[:n])
		}
		msg = msg[n:]
		if b.Len() > maxMessage {
			b.WriteString("… (message cut)")
			break
		}
	}
	return b.String()
}
