package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/anchorscan/anchorscan/report"
	"github.com/anchorscan/anchorscan/scan"
	"github.com/anchorscan/anchorscan/scan/demo"
	"github.com/anchorscan/anchorscan/scan/sim"
)

func simCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run or export the simulated tenant",
	}
	cmd.AddCommand(simServeCmd(e), simExportCmd(e), simImportCmd(e))
	return cmd
}

// tenantFlags are the flags that choose a simulated tenant.
func tenantFlags(cmd *cobra.Command, opts *demo.Options) {
	f := cmd.Flags()
	f.IntVar(&opts.Users, "users", 1000, "number of identities to generate")
	f.Int64Var(&opts.Seed, "seed", 1, "seed of the generated tenant")
	f.StringVar(&opts.TenantFile, "tenant", "", "load this anchorscan-tenant/v1 fixture instead of generating one")
}

func simServeCmd(e *env) *cobra.Command {
	var opts demo.Options
	var configPath string
	var serve sim.ServeOptions
	var faultSpecs []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the simulated Okta, Graph and LDAP servers on loopback until interrupted",
		Long: `serve runs the simulated servers and writes a config file that scan accepts, and the
simulator's CA certificate beside it. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tenant, err := opts.Tenant()
			if err != nil {
				return err
			}
			for _, spec := range faultSpecs {
				rules, err := sim.ParseFaults(spec)
				if err != nil {
					return usageError{err}
				}
				serve.Faults = append(serve.Faults, rules...)
			}
			servers, err := sim.Start(cmd.Context(), sim.NewState(tenant), serve)
			if err != nil {
				return err
			}
			defer servers.Close()
			caPath := filepath.Join(filepath.Dir(configPath), "anchorscan-sim-ca.pem")
			if err := os.WriteFile(caPath, servers.CACertPEM, 0o600); err != nil {
				return fmt.Errorf("write CA certificate: %w", err)
			}
			if err := scan.WriteConfig(configPath, demo.SimConfig(servers, caPath)); err != nil {
				return fmt.Errorf("write config: %w", err)
			}
			fmt.Fprintf(e.stdout, "Okta:  %s\nGraph: %s\nLDAP:  %s\nConfig written to %s (CA %s).\nTry: anchorscan scan --config %s\nServing until interrupted.\n",
				servers.OktaURL, servers.GraphURL, servers.LDAPURL, configPath, caPath, configPath)
			<-cmd.Context().Done()
			return nil
		},
	}
	tenantFlags(cmd, &opts)
	cmd.Flags().StringVar(&configPath, "config-out", "anchorscan-sim.yaml", "where to write the config file")
	cmd.Flags().IntVar(&serve.OktaPort, "okta-port", 0, "Okta port (0: any free port)")
	cmd.Flags().IntVar(&serve.GraphPort, "graph-port", 0, "Graph port (0: any free port)")
	cmd.Flags().IntVar(&serve.LDAPPort, "ldap-port", 0, "LDAPS port (0: any free port)")
	cmd.Flags().StringArrayVar(&faultSpecs, "fault", nil, "inject faults, repeatable: SERVER[/PATH]:SETTING=VALUE,… with SERVER okta, graph, ldap or all, e.g. all:429=0.05,5xx=0.02,reset=0.01,latency=20ms (settings: latency, jitter, 429, retry-after, 5xx, reset, trickle, trickle-time, stop, stop-mode)")
	cmd.Flags().Uint64Var(&serve.FaultSeed, "fault-seed", 1, "seed of the fault injection's random streams")
	return cmd
}

func simExportCmd(e *env) *cobra.Command {
	var opts demo.Options
	var out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write a generated or loaded tenant as an anchorscan-tenant/v1 fixture with its labels",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{fmt.Errorf("-o FILE is required")}
			}
			tenant, err := opts.Tenant()
			if err != nil {
				return err
			}
			if err := report.WriteFileAtomic(out, func(w io.Writer) error { return sim.WriteFixture(w, tenant) }); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Wrote %s\n", out)
			return nil
		},
	}
	tenantFlags(cmd, &opts)
	cmd.Flags().StringVarP(&out, "output", "o", "", "fixture file to write")
	return cmd
}

func simImportCmd(e *env) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Do what an admin does by hand in Okta's console: run the Office 365 import and confirm the matches",
		Long: `import asks a running simulator (sim serve) to run the O365 app import: every Entra member
not yet assigned, matched to an Okta user by UPN = login, becomes a confirmed app user with
the Entra ImmutableID. Real Okta has no API for this; against a real org it is a manual step.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usageError{fmt.Errorf("--config is required")}
			}
			cfg, err := scan.LoadConfig(configPath)
			if err != nil {
				return err
			}
			if cfg.Okta == nil {
				return fmt.Errorf("config %s has no okta section", configPath)
			}
			hc, err := cfg.Okta.HTTPClient()
			if err != nil {
				return err
			}
			res, err := sim.RunImport(cmd.Context(), cfg.Okta.OrgURL, cfg.Okta.APIToken(), hc)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Imported %d users into app %s; %d Entra members matched no Okta user.\n", len(res.Imported), res.AppID, len(res.Unmatched))
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "config file written by sim serve")
	return cmd
}
