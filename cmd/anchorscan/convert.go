package main

import (
	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/scan/anchor"
)

func convertCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "convert VALUE",
		Short: "Show every form of an ImmutableID or GUID, and which form VALUE is in",
		Long: `convert reads VALUE as every encoding seen in the wild (ImmutableID, GUID string in any
case or braces, 32-char hex in either byte order, base64 of the big-endian bytes, base64
of the GUID text, missing padding) and prints, for each GUID it can stand for, all forms.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return anchor.Describe(args[0]).WriteText(e.stdout)
		},
	}
}
