// Command isobuild turns a CoreOS live ISO and a Butane or Ignition config
// into a customized live ISO, and inspects and edits the embed areas of such
// images with coreos-installer-compatible commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A signal cancels the context: the running command stops at its next
	// check, the code that created a temporary file removes it, and run
	// returns. A second signal, once the first is being handled, gets the
	// default action and ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitInterrupted is the exit status after a signal stopped the command,
// as shells report a process killed by SIGINT.
const exitInterrupted = 130

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "isobuild: stopped (%v); no new output file was left behind\n", context.Cause(ctx))
		return exitInterrupted
	}
	msg, hint := describe(err)
	fmt.Fprintf(stderr, "isobuild: error: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(stderr, "isobuild: hint: %s\n", hint)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
