package scan

import (
	"fmt"
	"io"
	"strings"
)

// WriteExample writes a commented YAML config naming every setting, with
// its flag, variables and default, all commented out but the section
// headers: a starting point that `config init` writes.
func WriteExample(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`# anchorscan configuration.
#
# Precedence, for every setting: flag > ANCHORSCAN_ variable > this file >
# the ecosystem's own variable (AZURE_*, OKTA_CLIENT_*) > default.
# A section is scanned when its first setting (okta.orgUrl, entra.tenantId,
# ad.url) is set. Keep this file private (chmod 600): anchorscan refuses it
# when group or others may read it.
#
# Secrets (marked "secret") are best kept out of this file: give
#   token: ...          inline, or
#   tokenFile: PATH     a file holding it (also chmod 600), or
#   tokenEnv: VARIABLE  the name of an environment variable holding it.
`)
	current := ""
	for _, s := range Settings {
		sec, name, _ := strings.Cut(s.Key, ".")
		if sec != current {
			current = sec
			fmt.Fprintf(&b, "\n%s:\n", sec)
		}
		fmt.Fprintf(&b, "\n  # %s\n", s.Help)
		if s.Secret {
			fmt.Fprintf(&b, "  # secret: --%s FILE, %s or %s_FILE", s.Flag, s.Env, s.Env)
		} else {
			fmt.Fprintf(&b, "  # --%s, %s", s.Flag, s.Env)
		}
		if len(s.Ecosystem) > 0 {
			fmt.Fprintf(&b, ", %s", strings.Join(s.Ecosystem, ", "))
		}
		if s.Default != "" {
			fmt.Fprintf(&b, "; default %s", s.Default)
		}
		b.WriteString("\n")
		switch {
		case s.Secret:
			fmt.Fprintf(&b, "  #%sFile: /etc/anchorscan/%s\n", name, strings.TrimSuffix(s.Flag, "-file"))
		case s.kind == kindList:
			v := s.Example
			if v == "" {
				v = s.Default
			}
			fmt.Fprintf(&b, "  #%s: [%s]\n", name, v)
		case s.kind == kindBool:
			fmt.Fprintf(&b, "  #%s: false\n", name)
		default:
			v := s.Example
			if v == "" {
				v = s.Default
			}
			fmt.Fprintf(&b, "  #%s: %s\n", name, v)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteExampleFile writes the example to path, 0600, refusing to replace
// an existing file unless force.
func WriteExampleFile(path string, force bool) error {
	if !force {
		if _, err := statIfExists(path); err != nil {
			return err
		}
	}
	var b strings.Builder
	if err := WriteExample(&b); err != nil {
		return err
	}
	return writePrivateFile(path, []byte(b.String()))
}
