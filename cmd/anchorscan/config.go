package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/scan"
)

func configCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Write or inspect anchorscan's configuration",
	}
	cmd.AddCommand(configInitCmd(e))
	return cmd
}

func configInitCmd(e *env) *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented example config naming every setting (readable by you only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "-" {
				return scan.WriteExample(e.stdout)
			}
			if err := scan.WriteExampleFile(out, force); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Wrote %s (mode 0600). Fill in a section per directory, then: anchorscan doctor --config %s\n", out, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "anchorscan.yaml", "file to write, or - for standard output")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing file")
	return cmd
}

// loadConfig resolves the configuration of a command whose flags
// scan.AddConfigFlags registered. Naming no directory at all is a usage
// mistake; warnings (insecure TLS, plain LDAP) go to stderr.
func loadConfig(cmd *cobra.Command, e *env) (*scan.Config, error) {
	cfg, err := scan.LoadFromFlags(cmd.Flags(), nil, e.stderr)
	if errors.Is(err, scan.ErrNoDirectory) {
		return nil, usageError{err}
	}
	return cfg, err
}
