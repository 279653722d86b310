package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/anchorscan/anchorscan/scan/classify"
)

// maxFixtureProblems bounds how many problems one error lists: a fixture
// written by a broken script can repeat one mistake a million times, and the
// first few say what is wrong.
const maxFixtureProblems = 10

// FixtureError is one problem in a tenant fixture, located by the JSON path of
// the offending value (e.g. ad.users[3].objectGUID).
type FixtureError struct {
	Path    string // empty when the problem concerns the document as a whole
	Problem string
}

func (e *FixtureError) Error() string {
	if e.Path == "" {
		return e.Problem
	}
	return e.Path + ": " + e.Problem
}

// FixtureErrors lists the problems Validate found, at most maxFixtureProblems
// of them, in the order of the document.
type FixtureErrors struct {
	Problems []*FixtureError
	Omitted  int // problems found beyond those listed
}

func (e *FixtureErrors) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Error())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "\n(and %d more problems)", e.Omitted)
	}
	return b.String()
}

// Unwrap gives errors.As access to each *FixtureError.
func (e *FixtureErrors) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// LoadFixtureFile reads and validates the tenant fixture at path.
func LoadFixtureFile(path string) (*Tenant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load tenant fixture: %w", err)
	}
	defer f.Close()
	t, err := LoadFixture(f)
	if err != nil {
		return nil, fmt.Errorf("load tenant fixture %s: %w", path, err)
	}
	return t, nil
}

// LoadFixture reads a tenant fixture (format anchorscan-tenant/v1) and
// validates it. Unknown fields, values of the wrong JSON type, malformed or
// truncated JSON and inconsistent content are errors naming the JSON path of
// the bad value. Keys are matched to fields as encoding/json does, that is
// also case-insensitively. Display names and other free text are data: they
// are kept verbatim, whatever characters they hold.
func LoadFixture(r io.Reader) (*Tenant, error) {
	// The whole document is read first because the decoder's errors do not
	// say where in the document they happened: on failure a second pass over
	// the same bytes finds the path.
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read tenant fixture: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t Tenant
	if err := dec.Decode(&t); err != nil {
		return nil, describeFixtureDecodeError(data, err)
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		off := int64(len(data) - len(rest))
		line, col := fixturePosition(data, off)
		return nil, &FixtureError{Problem: fmt.Sprintf(
			"unexpected data after the tenant object at line %d, column %d (offset %d)", line, col, off)}
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// WriteFixture writes t as indented JSON. The output depends only on t, so
// that a generated tenant written twice is the same file.
func WriteFixture(w io.Writer, t *Tenant) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	// Directory data holds <, > and & (hostile display names among them);
	// a fixture is read by people, so keep them legible rather than \u003c.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return fmt.Errorf("write tenant fixture: %w", err)
	}
	return nil
}

// describeFixtureDecodeError turns an encoding/json error into one that says where
// the problem is: the JSON path, and for syntax errors the line and column.
func describeFixtureDecodeError(data []byte, err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return &FixtureError{Problem: fmt.Sprintf("empty input: want a JSON object with \"format\": %q", FormatV1)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		stop := walkFixtureJSON(data, nil)
		line, _ := fixturePosition(data, int64(len(data)))
		return &FixtureError{Path: stop.path, Problem: fmt.Sprintf(
			"truncated JSON: the input ends at byte %d (line %d) before this value is complete", len(data), line)}
	case errors.As(err, &syntax):
		stop := walkFixtureJSON(data, nil)
		// Offset counts the bytes read, the offending one included.
		at := max(syntax.Offset-1, 0)
		line, col := fixturePosition(data, at)
		return &FixtureError{Path: stop.path, Problem: fmt.Sprintf(
			"malformed JSON at line %d, column %d (offset %d): %s", line, col, at, syntax.Error())}
	}
	stop := walkFixtureJSON(data, reflect.TypeFor[Tenant]())
	if stop.problem == "" {
		return fmt.Errorf("decode tenant fixture: %w", err)
	}
	schemaErr := &FixtureError{Path: stop.path, Problem: stop.problem}
	// A fixture of another format fails on its unknown fields first; the
	// format is the more useful thing to report.
	var head struct {
		Format *string `json:"format"`
	}
	if json.Unmarshal(data, &head) == nil {
		if p := fixtureFormatProblem(head.Format); p != nil {
			return &FixtureErrors{Problems: []*FixtureError{p, schemaErr}}
		}
	}
	return schemaErr
}

func fixtureFormatProblem(format *string) *FixtureError {
	switch {
	case format == nil || *format == "":
		return &FixtureError{Path: "format", Problem: fmt.Sprintf("missing; want %q", FormatV1)}
	case *format != FormatV1:
		return &FixtureError{Path: "format", Problem: fmt.Sprintf("unknown format %s; want %q", fixtureQuote(*format), FormatV1)}
	}
	return nil
}

// fixturePosition gives the 1-based line and column (in bytes) of the byte
// at offset off.
func fixturePosition(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// fixtureWalkStop is where walkFixtureJSON stopped and why.
type fixtureWalkStop struct {
	path    string
	problem string // schema problem; empty when the walk stopped on a token error or at the end
	err     error
}

// walkFixtureJSON reads data token by token alongside the Go type t and stops
// at the first key t has no field for, the first value of a kind t cannot
// hold, or the first syntax error, recording the JSON path where it stopped.
// encoding/json reports such errors without the path (unknown fields) or
// without indices (type errors); this walk runs only after decoding failed.
// A nil t accepts any value and only tracks the path.
func walkFixtureJSON(data []byte, t reflect.Type) fixtureWalkStop {
	w := fixtureWalker{dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	w.walk(t, "")
	return w.stop
}

type fixtureWalker struct {
	dec  *json.Decoder
	stop fixtureWalkStop
}

func (w *fixtureWalker) fail(path, problem string, err error) bool {
	w.stop = fixtureWalkStop{path: path, problem: problem, err: err}
	return false
}

// walk consumes one value; it returns false once the walk has stopped.
func (w *fixtureWalker) walk(t reflect.Type, path string) bool {
	tok, err := w.dec.Token()
	if err != nil {
		return w.fail(path, "", err)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return w.object(t, path)
		}
		return w.array(t, path)
	case string:
		if t != nil && t.Kind() != reflect.String {
			return w.fail(path, fixtureWrongType("a string "+fixtureQuote(v), t), nil)
		}
	case json.Number:
		if t == nil {
			break
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if _, err := strconv.ParseInt(v.String(), 10, t.Bits()); err != nil {
				return w.fail(path, fmt.Sprintf("wrong type: got the number %s, want an integer that fits %s", v, t), nil)
			}
		case reflect.Float32, reflect.Float64:
		default:
			return w.fail(path, fixtureWrongType("the number "+v.String(), t), nil)
		}
	case bool:
		if t != nil && t.Kind() != reflect.Bool {
			return w.fail(path, fixtureWrongType(fmt.Sprintf("%t", v), t), nil)
		}
	case nil:
		// encoding/json leaves a field at its zero value for null.
	}
	return true
}

func (w *fixtureWalker) object(t reflect.Type, path string) bool {
	if t != nil && t.Kind() != reflect.Struct {
		return w.fail(path, fixtureWrongType("an object", t), nil)
	}
	var fields map[string]reflect.Type
	if t != nil {
		fields = fixtureJSONFields(t)
	}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return w.fail(path, "", err)
		}
		key, _ := tok.(string)
		keyPath := fixturePathKey(path, key)
		var ft reflect.Type
		if t != nil {
			var ok bool
			if ft, ok = fixtureLookupField(fields, key); !ok {
				return w.fail(keyPath, "unknown field", nil)
			}
		}
		if !w.walk(ft, keyPath) {
			return false
		}
	}
	if _, err := w.dec.Token(); err != nil { // the closing brace
		return w.fail(path, "", err)
	}
	return true
}

func (w *fixtureWalker) array(t reflect.Type, path string) bool {
	if t != nil && t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
		return w.fail(path, fixtureWrongType("an array", t), nil)
	}
	var elem reflect.Type
	if t != nil {
		elem = t.Elem()
	}
	for i := 0; w.dec.More(); i++ {
		if !w.walk(elem, path+"["+strconv.Itoa(i)+"]") {
			return false
		}
	}
	if _, err := w.dec.Token(); err != nil { // the closing bracket
		return w.fail(path, "", err)
	}
	return true
}

// fixtureJSONFields maps the JSON names of t's fields to their types.
func fixtureJSONFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// fixtureLookupField finds key the way encoding/json does: exactly, else
// ignoring case.
func fixtureLookupField(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if ft, ok := fields[key]; ok {
		return ft, true
	}
	for name, ft := range fields {
		if strings.EqualFold(name, key) {
			return ft, true
		}
	}
	return nil, false
}

func fixtureWrongType(got string, want reflect.Type) string {
	var w string
	switch want.Kind() {
	case reflect.String:
		w = "a string"
	case reflect.Bool:
		w = "true or false"
	case reflect.Struct:
		w = "an object"
	case reflect.Slice, reflect.Array:
		w = "an array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w = "an integer"
	default:
		w = want.String()
	}
	return "wrong type: got " + got + ", want " + w
}

// fixturePathKey appends key to path, quoting keys that are not plain names so
// that a hostile key cannot garble the message.
func fixturePathKey(path, key string) string {
	plain := key != ""
	for _, c := range key {
		if !(c == '_' || c == '-' || c == '$' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}

// fixtureQuote quotes a fixture value for a message, shortened: values are
// attacker-controlled and may be long or hold control characters.
func fixtureQuote(s string) string {
	const maxLen = 80
	if len(s) > maxLen {
		return strconv.Quote(s[:maxLen]) + "…"
	}
	return strconv.Quote(s)
}

// Validate checks t for the consistency a fixture must have: the format,
// the shape of every id, references between records, uniqueness where the
// vendors enforce it, and known scenario codes in the labels. It returns a
// *FixtureErrors listing the first problems, each starting with its JSON
// path, or nil.
func (t *Tenant) Validate() error {
	if p := fixtureFormatProblem(&t.Format); p != nil {
		// Another format's content would only produce noise.
		return &FixtureErrors{Problems: []*FixtureError{p}}
	}
	c := fixtureChecker{}
	c.okta(&t.Okta)
	c.entra(&t.Entra)
	c.ad(&t.AD)
	if t.Expected != nil {
		c.expected(t.Expected)
	}
	if c.found == 0 {
		return nil
	}
	return &FixtureErrors{Problems: c.problems, Omitted: c.found - len(c.problems)}
}

// fixtureChecker accumulates problems and the indexes later checks need.
// Paths are formatted only when there is a problem: Validate also runs on
// generated tenants of a million identities.
type fixtureChecker struct {
	problems []*FixtureError
	found    int

	oktaUsers  map[string]int // id → index
	oktaApps   map[string]int
	entraUsers map[string]int
	adUsers    map[string]int // objectGUID → index
}

func (c *fixtureChecker) add(path, format string, args ...any) {
	c.found++
	if len(c.problems) < maxFixtureProblems {
		c.problems = append(c.problems, &FixtureError{Path: path, Problem: fmt.Sprintf(format, args...)})
	}
}

// unique records element i under key in seen and reports a duplicate;
// pathFormat turns an index into the element's path.
func (c *fixtureChecker) unique(seen map[string]int, key string, i int, pathFormat, what, value string) {
	if key == "" {
		return
	}
	if first, dup := seen[key]; dup {
		c.add(fmt.Sprintf(pathFormat, i), "duplicate %s %s (also at %s)", what, fixtureQuote(value), fmt.Sprintf(pathFormat, first))
		return
	}
	seen[key] = i
}

var (
	fixtureOktaUserStatuses = fixtureSet("ACTIVE", "DEPROVISIONED", "LOCKED_OUT", "PASSWORD_EXPIRED", "PROVISIONED",
		"RECOVERY", "STAGED", "SUSPENDED")
	fixtureAppUserStatuses = fixtureSet("ACTIVE", "INACTIVE", "IMPORTED", "MATCHED", "UNASSIGNED", "SUSPENDED",
		"PENDING", "APPROVED", "REVOKED", "IMPLICIT", "STAGED", "PROVISIONED", "DEPROVISIONED")
	fixtureScenarios = fixtureSet(
		string(classify.OutOfScope), string(classify.NotInEntra), string(classify.UnfederatedUPN),
		string(classify.OrphanEntra), string(classify.AnchorConflict), string(classify.MultipleADSources),
		string(classify.MissingAnchorAD), string(classify.MissingAnchorCloud), string(classify.NotAssigned),
		string(classify.OktaAnchorEmpty), string(classify.OK), string(classify.SyncManagedMismatch),
		string(classify.EncodingMismatch), string(classify.OktaAssignmentStale),
		string(classify.EntraAnchorStale), string(classify.UnknownMismatch))
	fixtureOrgCodes = fixtureSet(
		string(classify.OrgDeactivateEnabled), string(classify.OrgMappingDefaultNull),
		string(classify.OrgMappingPushes), string(classify.OrgMultipleADDefaultExpression),
		string(classify.OrgNoFederatedDomain), string(classify.OrgFederationIssuerNotOkta))
)

func fixtureSet(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

func (c *fixtureChecker) okta(o *Okta) {
	if u, err := url.Parse(o.Org); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		c.add("okta.org", "not an Okta org URL: %s (want e.g. https://contoso.okta.com)", fixtureQuote(o.Org))
	}
	c.oktaUsers = make(map[string]int, len(o.Users))
	logins := make(map[string]int, len(o.Users))
	for i := range o.Users {
		u := &o.Users[i]
		if p := fixtureOktaIDProblem(u.ID, "00u"); p != "" {
			c.add(fmt.Sprintf("okta.users[%d].id", i), "%s", p)
		} else {
			c.unique(c.oktaUsers, u.ID, i, "okta.users[%d].id", "user id", u.ID)
		}
		if !fixtureOktaUserStatuses[u.Status] {
			c.add(fmt.Sprintf("okta.users[%d].status", i), "unknown user status %s", fixtureQuote(u.Status))
		}
		if u.Login == "" {
			c.add(fmt.Sprintf("okta.users[%d].login", i), "missing")
		}
		// Okta logins are unique regardless of case.
		c.unique(logins, strings.ToLower(u.Login), i, "okta.users[%d].login", "login", u.Login)
	}
	c.oktaApps = make(map[string]int, len(o.Apps))
	for i := range o.Apps {
		a := &o.Apps[i]
		path := fmt.Sprintf("okta.apps[%d]", i) // a handful of apps: no need to be lazy
		if p := fixtureOktaIDProblem(a.ID, "0oa"); p != "" {
			c.add(path+".id", "%s", p)
		} else {
			c.unique(c.oktaApps, a.ID, i, "okta.apps[%d].id", "app id", a.ID)
		}
		if a.Name == "" {
			c.add(path+".name", "missing (want e.g. office365 or active_directory)")
		}
		switch a.DeactivateUsers {
		case "", "ENABLED", "DISABLED":
		default:
			c.add(path+".deactivateUsers", "want ENABLED or DISABLED, got %s", fixtureQuote(a.DeactivateUsers))
		}
		if m := a.ImmutableIDMapping; m != nil {
			if m.Expression == "" {
				c.add(path+".immutableIdMapping.expression", "missing")
			}
			if m.PushStatus != "PUSH" && m.PushStatus != "DONT_PUSH" {
				c.add(path+".immutableIdMapping.pushStatus", "want PUSH or DONT_PUSH, got %s", fixtureQuote(m.PushStatus))
			}
		}
	}
	appUserIDs := make(map[string]int, len(o.AppUsers))
	// assignments[app index] maps user id → app user index.
	assignments := make([]map[string]int, len(o.Apps))
	perApp := make([]int, len(o.Apps))
	for i := range o.AppUsers {
		if app, ok := c.oktaApps[o.AppUsers[i].AppID]; ok {
			perApp[app]++
		}
	}
	for i := range assignments {
		assignments[i] = make(map[string]int, perApp[i]) // growing a million-entry map rehashes it repeatedly
	}
	for i := range o.AppUsers {
		au := &o.AppUsers[i]
		app, appOK := c.oktaApps[au.AppID]
		if !appOK {
			c.add(fmt.Sprintf("okta.appUsers[%d].appId", i), "names no app in okta.apps: %s", fixtureQuote(au.AppID))
		}
		if _, ok := c.oktaUsers[au.UserID]; !ok {
			c.add(fmt.Sprintf("okta.appUsers[%d].userId", i), "names no user in okta.users: %s", fixtureQuote(au.UserID))
		}
		if p := fixtureOktaIDProblem(au.AppUserID, "0ua"); p != "" {
			c.add(fmt.Sprintf("okta.appUsers[%d].appUserId", i), "%s", p)
		} else {
			c.unique(appUserIDs, au.AppUserID, i, "okta.appUsers[%d].appUserId", "app user id", au.AppUserID)
		}
		if appOK {
			if first, dup := assignments[app][au.UserID]; dup {
				c.add(fmt.Sprintf("okta.appUsers[%d]", i), "user %s is assigned to app %s twice (also okta.appUsers[%d])",
					fixtureQuote(au.UserID), fixtureQuote(au.AppID), first)
			} else {
				assignments[app][au.UserID] = i
			}
		}
		if !fixtureAppUserStatuses[au.Status] {
			c.add(fmt.Sprintf("okta.appUsers[%d].status", i), "unknown app user status %s", fixtureQuote(au.Status))
		}
	}
}

// fixtureOktaIDProblem checks the shape of an Okta object id: a three-character
// type prefix (00u user, 0oa app, 0ua app user) and 20 letters and digits.
func fixtureOktaIDProblem(id, prefix string) string {
	if id == "" {
		return "missing"
	}
	if !strings.HasPrefix(id, prefix) {
		return fmt.Sprintf("not an Okta id starting %q: %s", prefix, fixtureQuote(id))
	}
	if len(id) != 20 {
		return fmt.Sprintf("not an Okta id: %s (%d characters, want 20)", fixtureQuote(id), len(id))
	}
	for i := range len(id) {
		if b := id[i]; !('0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z') {
			return fmt.Sprintf("not an Okta id: %s (only letters and digits)", fixtureQuote(id))
		}
	}
	return ""
}

// fixtureGUIDProblem checks for a canonical GUID string: 8-4-4-4-12 lower-case
// hex, the form Graph returns ids in and the fixture stores AD GUIDs in.
func fixtureGUIDProblem(s string) string {
	if len(s) != 36 {
		return fmt.Sprintf("not a GUID: %s (%d characters, want 36 as 8-4-4-4-12 hex)", fixtureQuote(s), len(s))
	}
	upper := false
	for i := range len(s) {
		b := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if b != '-' {
				return fmt.Sprintf("not a GUID: %s (want 8-4-4-4-12 hex)", fixtureQuote(s))
			}
		case '0' <= b && b <= '9', 'a' <= b && b <= 'f':
		case 'A' <= b && b <= 'F':
			upper = true
		default:
			return fmt.Sprintf("not a GUID: %s", fixtureQuote(s))
		}
	}
	if upper {
		return fmt.Sprintf("not a canonical GUID: %s (write it in lower case)", fixtureQuote(s))
	}
	return ""
}

// fixtureSIDProblem checks the shape of a security identifier: S-1-5 followed by
// decimal sub-authorities.
func fixtureSIDProblem(s string) string {
	rest, ok := strings.CutPrefix(s, "S-1-5-")
	if !ok {
		return fmt.Sprintf("not a SID: %s (want S-1-5-…)", fixtureQuote(s))
	}
	for part := range strings.SplitSeq(rest, "-") {
		if _, err := strconv.ParseUint(part, 10, 32); err != nil {
			return fmt.Sprintf("not a SID: %s (sub-authorities are decimal numbers)", fixtureQuote(s))
		}
	}
	return ""
}

func (c *fixtureChecker) entra(e *Entra) {
	if p := fixtureGUIDProblem(e.TenantID); p != "" {
		c.add("entra.tenantId", "%s", p)
	}
	if e.InitialDomain == "" {
		c.add("entra.initialDomain", "missing (want the tenant's *.onmicrosoft.com domain)")
	}
	domains := make(map[string]int, len(e.Domains))
	initial := 0
	for i := range e.Domains {
		d := &e.Domains[i]
		path := fmt.Sprintf("entra.domains[%d]", i)
		if d.ID == "" {
			c.add(path+".id", "missing")
		}
		c.unique(domains, strings.ToLower(d.ID), i, "entra.domains[%d].id", "domain", d.ID)
		switch d.AuthenticationType {
		case "Managed", "Federated":
		default:
			c.add(path+".authenticationType", "want Managed or Federated, got %s", fixtureQuote(d.AuthenticationType))
		}
		if d.IsInitial {
			initial++
			switch {
			case !strings.EqualFold(d.ID, e.InitialDomain):
				c.add(path+".isInitial", "domain %s is marked initial but entra.initialDomain is %s", fixtureQuote(d.ID), fixtureQuote(e.InitialDomain))
			case d.AuthenticationType == "Federated":
				c.add(path+".authenticationType", "the initial domain %s cannot be Federated", fixtureQuote(d.ID))
			}
		}
	}
	if initial != 1 {
		c.add("entra.domains", "%d domains are marked isInitial, want exactly one (%s)", initial, fixtureQuote(e.InitialDomain))
	}
	c.entraUsers = make(map[string]int, len(e.Users))
	upns := make(map[string]int, len(e.Users))
	anchors := make(map[string]int, len(e.Users))
	for i := range e.Users {
		u := &e.Users[i]
		if p := fixtureGUIDProblem(u.ID); p != "" {
			c.add(fmt.Sprintf("entra.users[%d].id", i), "%s", p)
		} else {
			c.unique(c.entraUsers, u.ID, i, "entra.users[%d].id", "user id", u.ID)
		}
		if p := fixtureUPNDomainProblem(u.UserPrincipalName, domains); p != "" {
			c.add(fmt.Sprintf("entra.users[%d].userPrincipalName", i), "%s", p)
		}
		c.unique(upns, strings.ToLower(u.UserPrincipalName), i, "entra.users[%d].userPrincipalName", "userPrincipalName", u.UserPrincipalName)
		if u.UserType != "Member" && u.UserType != "Guest" {
			c.add(fmt.Sprintf("entra.users[%d].userType", i), "want Member or Guest, got %s", fixtureQuote(u.UserType))
		}
		// Entra enforces the uniqueness of the anchor itself, case-sensitively.
		if a := u.OnPremisesImmutableID; a != nil {
			c.unique(anchors, *a, i, "entra.users[%d].onPremisesImmutableId", "onPremisesImmutableId", *a)
		}
		if sid := u.OnPremisesSecurityIdentifier; sid != nil {
			if p := fixtureSIDProblem(*sid); p != "" {
				c.add(fmt.Sprintf("entra.users[%d].onPremisesSecurityIdentifier", i), "%s", p)
			}
		}
	}
}

// fixtureUPNDomainProblem checks that upn has the form local@domain with a domain
// of the tenant or a subdomain of one.
func fixtureUPNDomainProblem(upn string, domains map[string]int) string {
	at := strings.LastIndexByte(upn, '@')
	if at <= 0 || at == len(upn)-1 {
		return fmt.Sprintf("not a user principal name: %s (want local@domain)", fixtureQuote(upn))
	}
	domain := strings.ToLower(upn[at+1:])
	for d := domain; d != ""; {
		if _, ok := domains[d]; ok {
			return ""
		}
		_, parent, found := strings.Cut(d, ".")
		if !found {
			break
		}
		d = parent
	}
	return fmt.Sprintf("domain %s of %s is not a domain of the tenant (entra.domains)", fixtureQuote(domain), fixtureQuote(upn))
}

func (c *fixtureChecker) ad(a *AD) {
	for i := range a.Domains {
		d := &a.Domains[i]
		if d.Name == "" {
			c.add(fmt.Sprintf("ad.domains[%d].name", i), "missing")
		}
		if d.BaseDN == "" {
			c.add(fmt.Sprintf("ad.domains[%d].baseDN", i), "missing")
		}
	}
	c.adUsers = make(map[string]int, len(a.Users))
	dns := make(map[string]int, len(a.Users))
	sids := make(map[string]int, len(a.Users))
	for i := range a.Users {
		u := &a.Users[i]
		if !fixtureUnderBaseDN(u.DistinguishedName, a.Domains) {
			c.add(fmt.Sprintf("ad.users[%d].distinguishedName", i), "%s is not under the baseDN of any domain in ad.domains", fixtureQuote(u.DistinguishedName))
		}
		// DNs compare case-insensitively in AD.
		c.unique(dns, strings.ToLower(u.DistinguishedName), i, "ad.users[%d].distinguishedName", "distinguishedName", u.DistinguishedName)
		if p := fixtureGUIDProblem(u.ObjectGUID); p != "" {
			c.add(fmt.Sprintf("ad.users[%d].objectGUID", i), "%s", p)
		} else {
			c.unique(c.adUsers, u.ObjectGUID, i, "ad.users[%d].objectGUID", "objectGUID", u.ObjectGUID)
		}
		if cg := u.MSDSConsistencyGUID; cg != nil {
			if p := fixtureGUIDProblem(*cg); p != "" {
				c.add(fmt.Sprintf("ad.users[%d].msDSConsistencyGuid", i), "%s", p)
			}
		}
		if p := fixtureSIDProblem(u.ObjectSID); p != "" {
			c.add(fmt.Sprintf("ad.users[%d].objectSid", i), "%s", p)
		} else {
			c.unique(sids, u.ObjectSID, i, "ad.users[%d].objectSid", "objectSid", u.ObjectSID)
		}
		if u.SAMAccountName == "" {
			c.add(fmt.Sprintf("ad.users[%d].sAMAccountName", i), "missing")
		}
	}
}

// fixtureUnderBaseDN compares case-insensitively, as AD does, without
// lower-casing a copy of every DN.
func fixtureUnderBaseDN(dn string, domains []ADDomain) bool {
	for _, d := range domains {
		base := d.BaseDN
		if base == "" || len(dn) <= len(base) {
			continue
		}
		if dn[len(dn)-len(base)-1] == ',' && strings.EqualFold(dn[len(dn)-len(base):], base) {
			return true
		}
	}
	return false
}

func (c *fixtureChecker) expected(x *Expected) {
	// Each record belongs to one identity; a second label for it is a
	// mistake in the fixture.
	labelledEntra := make(map[string]int, len(c.entraUsers))
	labelledOkta := make(map[string]int, len(c.oktaUsers))
	labelledAD := make(map[string]int, len(c.adUsers))
	for i := range x.Identities {
		id := &x.Identities[i]
		if !fixtureScenarios[id.Scenario] {
			c.add(fmt.Sprintf("expected.identities[%d].scenario", i), "unknown scenario code %s", fixtureQuote(id.Scenario))
		}
		if id.EntraUserID == "" && id.OktaUserID == "" && id.ADObjectGUID == "" {
			c.add(fmt.Sprintf("expected.identities[%d]", i), "names no record: want at least one of entraUserId, oktaUserId, adObjectGUID")
		}
		if id.EntraUserID != "" {
			if _, ok := c.entraUsers[id.EntraUserID]; !ok {
				c.add(fmt.Sprintf("expected.identities[%d].entraUserId", i), "names no user in entra.users: %s", fixtureQuote(id.EntraUserID))
			}
			c.unique(labelledEntra, id.EntraUserID, i, "expected.identities[%d].entraUserId", "label for Entra user", id.EntraUserID)
		}
		if id.OktaUserID != "" {
			if _, ok := c.oktaUsers[id.OktaUserID]; !ok {
				c.add(fmt.Sprintf("expected.identities[%d].oktaUserId", i), "names no user in okta.users: %s", fixtureQuote(id.OktaUserID))
			}
			c.unique(labelledOkta, id.OktaUserID, i, "expected.identities[%d].oktaUserId", "label for Okta user", id.OktaUserID)
		}
		if id.ADObjectGUID != "" {
			if p := fixtureGUIDProblem(id.ADObjectGUID); p != "" {
				c.add(fmt.Sprintf("expected.identities[%d].adObjectGUID", i), "%s", p)
			} else if _, ok := c.adUsers[id.ADObjectGUID]; !ok {
				c.add(fmt.Sprintf("expected.identities[%d].adObjectGUID", i), "names no user in ad.users: %s", fixtureQuote(id.ADObjectGUID))
			}
			c.unique(labelledAD, id.ADObjectGUID, i, "expected.identities[%d].adObjectGUID", "label for AD user", id.ADObjectGUID)
		}
	}
	codes := make(map[string]int, len(x.Org))
	for i, code := range x.Org {
		if !fixtureOrgCodes[code] {
			c.add(fmt.Sprintf("expected.org[%d]", i), "unknown org finding code %s", fixtureQuote(code))
		}
		c.unique(codes, code, i, "expected.org[%d]", "org finding", code)
	}
}
