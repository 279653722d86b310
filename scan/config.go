package scan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Config says which directories to scan and how to reach them. It is
// resolved from flags, ANCHORSCAN_ variables, a YAML file and defaults, in
// that order of precedence, as the Settings table declares. A section is nil
// when its directory is not configured.
type Config struct {
	Okta  *OktaConfig  `yaml:"okta,omitempty"`
	Entra *EntraConfig `yaml:"entra,omitempty"`
	AD    *ADConfig    `yaml:"ad,omitempty"`
}

// OktaConfig reaches an Okta org with an SSWS API token or an OAuth 2.0
// service app (private-key JWT).
type OktaConfig struct {
	OrgURL       string   `yaml:"orgUrl"`
	Auth         string   `yaml:"auth,omitempty"`
	Token        string   `yaml:"token,omitempty"`
	ClientID     string   `yaml:"clientId,omitempty"`
	PrivateKey   string   `yaml:"privateKey,omitempty"`
	PrivateKeyID string   `yaml:"privateKeyId,omitempty"`
	Scopes       []string `yaml:"scopes,omitempty"`
	// CAFile is a PEM bundle to trust instead of the system roots.
	CAFile string `yaml:"caFile,omitempty"`
	// Issuer is the issuer federated domains must name, when not Okta's
	// default http://www.okta.com/<id>.
	Issuer string `yaml:"issuer,omitempty"`
	// UserPartitions is how many creation-time searches read the users
	// list in parallel, as text ("4"); "1" reads it as one list.
	UserPartitions string `yaml:"userPartitions,omitempty"`
}

// EntraConfig reaches Microsoft Graph for one tenant.
type EntraConfig struct {
	TenantID string `yaml:"tenantId"`
	// GraphURL defaults to https://graph.microsoft.com/v1.0.
	GraphURL                  string `yaml:"graphUrl,omitempty"`
	Auth                      string `yaml:"auth,omitempty"`
	ClientID                  string `yaml:"clientId,omitempty"`
	ClientSecret              string `yaml:"clientSecret,omitempty"`
	ClientCertificate         string `yaml:"clientCertificate,omitempty"`
	ClientCertificatePassword string `yaml:"clientCertificatePassword,omitempty"`
	// Token is a fixed bearer token: only the simulator issues such tokens.
	Token  string `yaml:"token,omitempty"`
	CAFile string `yaml:"caFile,omitempty"`
}

// ADConfig reaches one AD domain controller over LDAPS or StartTLS.
type ADConfig struct {
	URL                string   `yaml:"url"`
	StartTLS           bool     `yaml:"startTLS,omitempty"`
	AllowPlainLDAP     bool     `yaml:"allowPlainLDAP,omitempty"`
	InsecureSkipVerify bool     `yaml:"ldapInsecureSkipVerify,omitempty"`
	Auth               string   `yaml:"auth,omitempty"`
	BindDN             string   `yaml:"bindDN,omitempty"`
	Password           string   `yaml:"password,omitempty"`
	BaseDNs            []string `yaml:"baseDNs,omitempty"`
	CAFile             string   `yaml:"caFile,omitempty"`
	KerberosRealm      string   `yaml:"kerberosRealm,omitempty"`
	KerberosUser       string   `yaml:"kerberosUser,omitempty"`
	Keytab             string   `yaml:"keytab,omitempty"`
	CCache             string   `yaml:"ccache,omitempty"`
	Krb5Conf           string   `yaml:"krb5Conf,omitempty"`
	SPN                string   `yaml:"spn,omitempty"`
}

// LoadOptions say where the layers of the configuration come from.
type LoadOptions struct {
	// Path is the YAML file; "" means none (flags and variables only).
	Path string
	// Flags holds the flags AddConfigFlags registered; only flags the user
	// set count. Nil means none.
	Flags *pflag.FlagSet
	// LookupEnv reads a variable; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// AllowInsecureConfig accepts config and key files readable by others.
	AllowInsecureConfig bool
	// Warnings receives a line per risky but allowed setting; nil discards.
	Warnings io.Writer
}

// Config-level flags and variables that are not settings of a directory.
const (
	FlagConfig              = "config"
	EnvConfig               = "ANCHORSCAN_CONFIG"
	FlagAllowInsecureConfig = "allow-insecure-config"
	EnvAllowInsecureConfig  = "ANCHORSCAN_ALLOW_INSECURE_CONFIG"
)

// AddConfigFlags registers --config, --allow-insecure-config and one flag
// per setting on fs.
func AddConfigFlags(fs *pflag.FlagSet) {
	fs.String(FlagConfig, "", "YAML config file (see \"anchorscan config init\"); env "+EnvConfig)
	fs.Bool(FlagAllowInsecureConfig, false, "accept a config or key file that group or others may read; env "+EnvAllowInsecureConfig)
	for _, s := range Settings {
		help := s.Help + " (" + s.Key
		if s.Secret {
			help = "file holding the " + s.Key + " secret: " + s.Help + " (env " + s.Env + " or " + s.Env + "_FILE"
		} else {
			help += "; env " + s.Env
		}
		if len(s.Ecosystem) > 0 {
			help += " or " + strings.Join(s.Ecosystem, ", ")
		}
		help += ")"
		switch {
		case s.Secret:
			fs.String(s.Flag, "", help)
		case s.kind == kindBool:
			fs.Bool(s.Flag, false, help)
		case s.kind == kindList:
			fs.StringSlice(s.Flag, nil, help)
		default:
			fs.String(s.Flag, "", help)
		}
	}
}

// LoadFromFlags resolves the configuration for a command whose flags
// AddConfigFlags registered, reading --config and --allow-insecure-config
// (or their variables) from fs.
func LoadFromFlags(fs *pflag.FlagSet, lookupEnv func(string) (string, bool), warnings io.Writer) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	opts := LoadOptions{Flags: fs, LookupEnv: lookupEnv, Warnings: warnings}
	if fs.Changed(FlagConfig) {
		opts.Path, _ = fs.GetString(FlagConfig)
	} else if v, ok := lookupEnv(EnvConfig); ok {
		opts.Path = v
	}
	if fs.Changed(FlagAllowInsecureConfig) {
		opts.AllowInsecureConfig, _ = fs.GetBool(FlagAllowInsecureConfig)
	} else if v, ok := lookupEnv(EnvAllowInsecureConfig); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q is not true or false", EnvAllowInsecureConfig, v)
		}
		opts.AllowInsecureConfig = b
	}
	return Load(opts)
}

// LoadConfig reads a YAML config file, with the ANCHORSCAN_ and ecosystem
// variables of the process over it.
func LoadConfig(path string) (*Config, error) {
	return Load(LoadOptions{Path: path})
}

// Load resolves every setting (flag > ANCHORSCAN_ variable > file >
// ecosystem variable > default), reads the secrets given as files or
// variable names, and checks the result. It refuses a config or key file
// that group or others may read, unless AllowInsecureConfig.
//
// The ecosystems' variables (AZURE_*, OKTA_CLIENT_*) rank below the file:
// they are ambient, shared with az, terraform and Okta's tools, and may
// belong to another tenant; an explicit anchorscan file must win over them.
func Load(opts LoadOptions) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Warnings == nil {
		opts.Warnings = io.Discard
	}
	file := map[string]any{}
	if opts.Path != "" {
		var err error
		if file, err = readConfigFile(opts.Path, opts.AllowInsecureConfig); err != nil {
			return nil, err
		}
	}
	r := resolver{opts: opts, file: file}
	cfg := &Config{Okta: &OktaConfig{}, Entra: &EntraConfig{}, AD: &ADConfig{}}
	set := map[string]bool{} // sections with a value from a layer other than the defaults
	var paths []*Setting     // key files to check once the sections are known
	for i := range Settings {
		s := &Settings[i]
		text, from, err := r.value(s)
		if err != nil {
			return nil, err
		}
		if from == "" {
			text, from = s.Default, "default"
		}
		if err := assign(s, s.field(cfg), text, from); err != nil {
			return nil, err
		}
		if s.Path && text != "" {
			paths = append(paths, s)
		}
		// An ambient ecosystem variable (AZURE_CLIENT_ID, KRB5CCNAME) does not
		// by itself ask for a section.
		if from != "default" && text != "" && !slices.Contains(s.Ecosystem, from) {
			set[section(s.Key)] = true
		}
	}
	if cfg.Okta.OrgURL == "" {
		if err := unanchored(SectionOkta, set); err != nil {
			return nil, err
		}
		cfg.Okta = nil
	}
	if cfg.Entra.TenantID == "" {
		if err := unanchored(SectionEntra, set); err != nil {
			return nil, err
		}
		cfg.Entra = nil
	}
	if cfg.AD.URL == "" {
		if err := unanchored(SectionAD, set); err != nil {
			return nil, err
		}
		cfg.AD = nil
	}
	if cfg.Okta == nil && cfg.Entra == nil && cfg.AD == nil {
		where := "flags or variables"
		if opts.Path != "" {
			where = "config " + opts.Path
		}
		return nil, fmt.Errorf("%s: %w: set okta.orgUrl, entra.tenantId or ad.url (--config FILE, see `anchorscan config init`)", where, ErrNoDirectory)
	}
	for _, s := range paths {
		if !slices.Contains(cfg.Names(), section(s.Key)) {
			continue // an ambient KRB5CCNAME for a directory not scanned
		}
		path := strings.TrimPrefix(*s.field(cfg).(*string), "FILE:")
		if err := checkPrivateFile(path, s.Key, opts.AllowInsecureConfig); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(opts.Warnings); err != nil {
		return nil, err
	}
	return cfg, nil
}

// unanchored is the error for a section given settings but not the one that
// names its directory; nil when the section has no settings at all.
func unanchored(sec string, set map[string]bool) error {
	if !set[sec] {
		return nil
	}
	return fmt.Errorf("%s settings are given but %s is not: set it to scan %s, or remove the others", sec, sectionAnchor[sec], sec)
}

func section(key string) string {
	sec, _, _ := strings.Cut(key, ".")
	return sec
}

// resolver finds the text of one setting in the layers.
type resolver struct {
	opts LoadOptions
	file map[string]any
}

// value returns the setting's text and the layer it came from ("" when no
// layer set it).
func (r *resolver) value(s *Setting) (text, from string, err error) {
	if fs := r.opts.Flags; fs != nil && fs.Lookup(s.Flag) != nil && fs.Changed(s.Flag) {
		flag := "--" + s.Flag
		switch {
		case s.Secret:
			path, _ := fs.GetString(s.Flag)
			v, err := readSecretFile(path, flag, r.opts.AllowInsecureConfig)
			return v, flag, err
		case s.kind == kindBool:
			b, _ := fs.GetBool(s.Flag)
			return strconv.FormatBool(b), flag, nil
		case s.kind == kindList:
			l, _ := fs.GetStringSlice(s.Flag)
			return strings.Join(l, ","), flag, nil
		default:
			v, _ := fs.GetString(s.Flag)
			return v, flag, nil
		}
	}
	if s.Secret {
		v, okValue := r.opts.LookupEnv(s.Env)
		path, okFile := r.opts.LookupEnv(s.Env + "_FILE")
		switch {
		case okValue && okFile:
			return "", "", fmt.Errorf("both %s and %s_FILE are set: keep one", s.Env, s.Env)
		case okFile:
			v, err := readSecretFile(path, s.Env+"_FILE", r.opts.AllowInsecureConfig)
			return v, s.Env + "_FILE", err
		case okValue:
			return v, s.Env, nil
		}
	} else if v, ok := r.opts.LookupEnv(s.Env); ok {
		return v, s.Env, nil
	}
	if text, from, err := r.fromFile(s); err != nil || from != "" {
		return text, from, err
	}
	for _, name := range s.Ecosystem {
		if v, ok := r.opts.LookupEnv(name); ok && v != "" {
			return v, name, nil
		}
	}
	return "", "", nil
}

// fromFile reads the setting from the config file: key, or for a secret
// keyFile or keyEnv, at most one of them.
func (r *resolver) fromFile(s *Setting) (text, from string, err error) {
	where := func(k string) string { return fmt.Sprintf("%s in %s", k, r.opts.Path) }
	raw, inline := r.file[s.Key]
	if !s.Secret {
		if !inline {
			return "", "", nil
		}
		text, err := fileText(s, raw)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", where(s.Key), err)
		}
		return text, where(s.Key), nil
	}
	fileKey, envKey := s.Key+"File", s.Key+"Env"
	rawFile, byFile := r.file[fileKey]
	rawEnv, byEnv := r.file[envKey]
	n := 0
	for _, b := range []bool{inline, byFile, byEnv} {
		if b {
			n++
		}
	}
	if n > 1 {
		return "", "", fmt.Errorf("config %s gives %s more than once: keep one of %s, %s and %s", r.opts.Path, s.Key, s.Key, fileKey, envKey)
	}
	switch {
	case inline:
		v, ok := raw.(string)
		if !ok {
			return "", "", fmt.Errorf("%s: want a string", where(s.Key))
		}
		return v, where(s.Key), nil
	case byFile:
		path, ok := rawFile.(string)
		if !ok || path == "" {
			return "", "", fmt.Errorf("%s: want a file path", where(fileKey))
		}
		v, err := readSecretFile(path, where(fileKey), r.opts.AllowInsecureConfig)
		return v, where(fileKey), err
	case byEnv:
		name, ok := rawEnv.(string)
		if !ok || name == "" {
			return "", "", fmt.Errorf("%s: want the name of an environment variable", where(envKey))
		}
		v, set := r.opts.LookupEnv(name)
		if !set || v == "" {
			return "", "", fmt.Errorf("%s names the variable %s, which is not set or empty", where(envKey), name)
		}
		return v, where(envKey), nil
	}
	return "", "", nil
}

// fileText turns a YAML value into the setting's text form.
func fileText(s *Setting, raw any) (string, error) {
	switch s.kind {
	case kindBool:
		switch v := raw.(type) {
		case bool:
			return strconv.FormatBool(v), nil
		case string:
			if _, err := strconv.ParseBool(v); err == nil {
				return v, nil
			}
		}
		return "", fmt.Errorf("want true or false, got %v", raw)
	case kindList:
		switch v := raw.(type) {
		case string:
			return v, nil
		case []any:
			parts := make([]string, len(v))
			for i, x := range v {
				str, ok := x.(string)
				if !ok || strings.Contains(str, ",") {
					return "", fmt.Errorf("item %d: want a string without commas, got %v", i, x)
				}
				parts[i] = str
			}
			return strings.Join(parts, ","), nil
		}
		return "", fmt.Errorf("want a list of strings, got %v", raw)
	default:
		switch v := raw.(type) {
		case string:
			return v, nil
		case int, float64:
			return fmt.Sprint(v), nil
		}
		return "", fmt.Errorf("want a string, got %v", raw)
	}
}

// assign stores text into the field of s.
func assign(s *Setting, field any, text, from string) error {
	switch p := field.(type) {
	case *string:
		*p = strings.TrimSpace(text)
	case *bool:
		if text == "" {
			*p = false
			return nil
		}
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%s (%s) = %q: want true or false", s.Key, from, text)
		}
		*p = b
	case *[]string:
		*p = nil
		for _, part := range strings.Split(text, ",") {
			if part = strings.TrimSpace(part); part != "" {
				*p = append(*p, part)
			}
		}
	}
	return nil
}

// readConfigFile reads the YAML file into "section.key" → value, refusing
// unknown keys and a file others may read.
func readConfigFile(path string, allowInsecure bool) (map[string]any, error) {
	if err := checkPrivateFile(path, "config file", allowInsecure); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config %s is not YAML: %w", path, err)
	}
	out := map[string]any{}
	for sec, body := range doc {
		if _, known := sectionAnchor[sec]; !known {
			return nil, fmt.Errorf("config %s: unknown section %q: the sections are okta, entra and ad", path, sec)
		}
		if body == nil {
			continue
		}
		m, ok := body.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("config %s: section %s must be a mapping of settings", path, sec)
		}
		for k, v := range m {
			key := sec + "." + k
			if !knownFileKey(key) {
				return nil, fmt.Errorf("config %s: unknown key %s (see `anchorscan config init` for every key)", path, key)
			}
			out[key] = v
		}
	}
	return out, nil
}

func knownFileKey(key string) bool {
	if setting(key) != nil {
		return true
	}
	for _, suffix := range []string{"File", "Env"} {
		if base, ok := strings.CutSuffix(key, suffix); ok {
			if s := setting(base); s != nil && s.Secret {
				return true
			}
		}
	}
	return false
}

// ErrNoDirectory means no layer configured any directory: a usage mistake
// when no config file was given either.
var ErrNoDirectory = errors.New("no directory configured")

// ErrInsecureFile marks a config or key file that group or others may read.
var ErrInsecureFile = errors.New("readable by group or others")

// checkPrivateFile refuses a file whose mode lets group or others read it:
// it holds, or may hold, credentials.
func checkPrivateFile(path, what string, allowInsecure bool) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if info.IsDir() {
		return fmt.Errorf("%s %s is a directory", what, path)
	}
	if allowInsecure || runtime.GOOS == "windows" {
		return nil
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s has mode %04o, %w: it may hold secrets; run chmod 600 %s (or pass --%s)",
			what, path, perm, ErrInsecureFile, path, FlagAllowInsecureConfig)
	}
	return nil
}

// readSecretFile reads a secret from path, trimmed of surrounding white
// space. The error names the file and where it was named, never the content.
func readSecretFile(path, namedBy string, allowInsecure bool) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s: empty file path", namedBy)
	}
	if err := checkPrivateFile(path, "secret file (from "+namedBy+")", allowInsecure); err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("secret file (from %s): %w", namedBy, err)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", fmt.Errorf("secret file %s (from %s) is empty", path, namedBy)
	}
	return v, nil
}

// WriteConfig writes cfg as YAML, readable by its owner only.
func WriteConfig(path string, cfg *Config) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return writePrivateFile(path, data)
}

// writePrivateFile writes data to path through a temporary file created
// 0600, so that the content is never readable by others, not even briefly.
func writePrivateFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// statIfExists returns an error when path exists.
func statIfExists(path string) (os.FileInfo, error) {
	info, err := os.Stat(path)
	if err == nil {
		return info, fmt.Errorf("%s exists: pass --force to replace it", path)
	}
	return nil, nil
}
