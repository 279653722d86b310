package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes, as documented in the README.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitFindings = 3
)

// usageError marks a mistake in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// findingsError is returned when findings reach --fail-on.
type findingsError struct{ n int }

func (e findingsError) Error() string {
	return fmt.Sprintf("%d identities have findings at or above the --fail-on severity", e.n)
}

// env is what every command gets: where to write, and the logger.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
}

// run is the whole CLI, callable in-process by tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	root := &cobra.Command{
		Use:           "anchorscan",
		Short:         "Find and fix the ImmutableID mismatches that break Okta-federated Microsoft 365 sign-in",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       toolVersion(),
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		demoCmd(e),
		scanCmd(e),
		simCmd(e),
		convertCmd(e),
		lookupCmd(e),
		reportCmd(e),
		planCmd(e),
		applyCmd(e),
		undoCmd(e),
		doctorCmd(e),
		configCmd(e),
	)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "anchorscan:", err)
	var ue usageError
	var fe findingsError
	switch {
	case errors.As(err, &ue) || isCobraUsage(err):
		return exitUsage
	case errors.As(err, &fe):
		return exitFindings
	default:
		return exitError
	}
}

// isCobraUsage recognises cobra's own argument errors, which it does not type.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// toolVersion is the module version when built from a tagged module, else "dev".
func toolVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
