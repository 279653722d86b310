// Package plan is the fix plan: its generation from a snapshot's findings,
// the sealed plan file an admin reviews, and its execution by apply against
// the live directories — preconditions checked per object, every step
// journaled, resumable, compensated and undoable.
package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// FormatVersion is the plan file format this anchorscan writes and reads.
const FormatVersion = 1

// StepKind names what a step does. The kinds are stable: plan files, the
// journal and the PowerShell export use them.
type StepKind string

// The step kinds of DESIGN §6.
const (
	OktaSetDeactivate    StepKind = "okta.set_deactivate"
	OktaAssign           StepKind = "okta.assign"
	OktaUnassign         StepKind = "okta.unassign"
	OktaSetAppUserAnchor StepKind = "okta.set_app_user_anchor"
	OktaUpdateMapping    StepKind = "okta.update_mapping"
	GraphParkUPN         StepKind = "graph.park_upn"
	GraphSetAnchor       StepKind = "graph.set_anchor"
	GraphRestoreUPN      StepKind = "graph.restore_upn"
	ADSetConsistencyGUID StepKind = "ad.set_consistency_guid"
	Manual               StepKind = "manual"
	Verify               StepKind = "verify"
)

// Plan is a reviewed, sealed list of changes computed from one snapshot.
type Plan struct {
	FormatVersion int         `json:"formatVersion"`
	ToolVersion   string      `json:"toolVersion"`
	CreatedAt     time.Time   `json:"createdAt"`
	Snapshot      SnapshotRef `json:"snapshot"`
	Tenants       Tenants     `json:"tenants"`
	Settings      Settings    `json:"settings"`
	// OrgSteps run before any identity's steps (and OrgRestore after all).
	OrgSteps   []Step `json:"orgSteps"`
	OrgRestore []Step `json:"orgRestore"`
	// OrgReview are tenant-wide manual actions that need a person's
	// judgement (a per-instance mapping expression, a federation issuer).
	// apply shows them and does not wait on them: they are advice, not
	// gates, unlike a manual step inside an identity.
	OrgReview  []Step     `json:"orgReview,omitempty"`
	Identities []Identity `json:"identities"`
	// Seal is the sha256 (hex) of the canonical JSON of the plan with Seal
	// empty: any edit after review changes it.
	Seal string `json:"seal"`
}

// SnapshotRef names the snapshot a plan was computed from.
type SnapshotRef struct {
	ID          int64  `json:"id"`
	ContentHash string `json:"contentHash"`
}

// Tenants are the directories a plan belongs to; apply refuses to run a plan
// against others.
type Tenants struct {
	OktaOrg       string   `json:"oktaOrg"`
	EntraTenantID string   `json:"entraTenantId"`
	ADDomains     []string `json:"adDomains"`
}

// Settings are the choices the plan was made with.
type Settings struct {
	// ParkingDomain is the managed domain a UPN is moved to while its
	// ImmutableID changes: the tenant's initial *.onmicrosoft.com domain,
	// which can never be federated, unless chosen otherwise.
	ParkingDomain string `json:"parkingDomain"`
	// O365AppID is the Okta office365 app instance the plan assigns to.
	O365AppID string `json:"o365AppId"`
}

// Identity is one person's ordered steps.
type Identity struct {
	Key          string `json:"key"`
	UPN          string `json:"upn"`
	Scenario     string `json:"scenario"`
	EntraUserID  string `json:"entraUserId,omitempty"`
	OktaUserID   string `json:"oktaUserId,omitempty"`
	ADObjectGUID string `json:"adObjectGuid,omitempty"`
	ADDN         string `json:"adDistinguishedName,omitempty"`
	Steps        []Step `json:"steps"`
}

// Step is one change (or a manual action, or a check). Mutating steps carry
// the exact values they expect to find (Precondition) and how to put things
// back (Compensation).
type Step struct {
	Kind StepKind `json:"kind"`
	// Target: System is "okta", "graph", "ad" or "person"; ID is the object
	// (Okta user id, Entra object id, AD DN, app id); AppID the Okta app.
	Target Target `json:"target"`
	// Params are the values the step writes, by attribute name.
	Params map[string]string `json:"params,omitempty"`
	// Precondition maps attribute → the exact value expected now; a null
	// value means "absent or empty".
	Precondition map[string]*string `json:"precondition,omitempty"`
	// Compensation undoes this step if a later step of the identity fails
	// (graph.park_upn's moves the UPN back).
	Compensation *Step `json:"compensation,omitempty"`
	// Description is the step in plain words, for review.
	Description string `json:"description"`
}

// Target is the object a step acts on.
type Target struct {
	System string `json:"system"`
	ID     string `json:"id"`
	AppID  string `json:"appId,omitempty"`
}

// Value returns a pointer to s, for preconditions.
func Value(s string) *string { return &s }

// ErrAltered, ErrUnknownVersion: why a plan file was refused.
var (
	ErrAltered        = errors.New("plan was altered after it was sealed")
	ErrUnknownVersion = errors.New("plan format version is not one this anchorscan knows")
)

// Read decodes a plan and verifies its format version and seal. Unknown
// fields are refused: a field this version does not know could carry a
// change nobody reviewed.
func Read(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var probe struct {
		FormatVersion *int `json:"formatVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if typeErr.Field == "" {
				return nil, fmt.Errorf("plan must be a JSON object, file has a JSON %s", typeErr.Value)
			}
			return nil, fmt.Errorf("%w: formatVersion must be a number, file has a JSON %s", ErrUnknownVersion, typeErr.Value)
		}
		return nil, fmt.Errorf("plan is not valid JSON: %w", err)
	}
	if probe.FormatVersion == nil {
		return nil, fmt.Errorf("%w: formatVersion is missing", ErrUnknownVersion)
	}
	if *probe.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: file has %d, this anchorscan reads %d", ErrUnknownVersion, *probe.FormatVersion, FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	want, err := p.ComputeSeal()
	if err != nil {
		// JSON decoding accepts values it cannot write back (a time
		// zone offset of +24:00): no plan anchorscan wrote holds one.
		return nil, fmt.Errorf("plan: a value cannot be written back as anchorscan writes it: %w", err)
	}
	if p.Seal != want {
		return nil, fmt.Errorf("%w: seal %q, content hashes to %q", ErrAltered, p.Seal, want)
	}
	// The seal covers the decoded content, but a reviewer may read the
	// file: a duplicate key (the last one wins), a key in other case or a
	// second document after the first would show one thing and apply
	// another. Only the exact bytes anchorscan writes are accepted.
	canonical := &matchWriter{want: data}
	if err := p.Write(canonical); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if !canonical.matches() {
		return nil, fmt.Errorf("%w: the seal matches, but the file is not byte for byte what anchorscan wrote "+
			"(a duplicate or differently cased key, trailing content, or a hand edit); create the plan again", ErrAltered)
	}
	return &p, nil
}

// ReadFile reads and verifies a plan file.
func ReadFile(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
