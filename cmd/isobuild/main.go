// Command isobuild turns a CoreOS live ISO and a Butane or Ignition config
// into a customized live ISO, and inspects and edits the embed areas of such
// images with coreos-installer-compatible commands.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/isobuild/isobuild/internal/output"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		s := <-sigs
		output.RemovePending()
		fmt.Fprintf(os.Stderr, "isobuild: stopped by %v; no new output file was left behind\n", s)
		os.Exit(130)
	}()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run executes the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "isobuild: error: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(stderr, "isobuild: hint: %s\n", h)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
