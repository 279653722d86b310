package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// SimImportPath is the simulator-only endpoint on the fake Okta that runs
// ImportO365. It is NOT an Okta API: Okta has no public API to run an app
// import or confirm its results (DESIGN §1, §10); on a real org those are
// console steps.
const SimImportPath = "/api/v1/_sim/import"

// ImportResult says what an O365 import did.
type ImportResult struct {
	// AppID is the office365 app instance imported into.
	AppID string `json:"appId"`
	// Imported are the new, confirmed app users, in Entra order.
	Imported []ImportedUser `json:"imported"`
	// Unmatched are the UPNs of Entra members not assigned to the app and
	// with no Okta user whose login matches: an admin would see them as
	// unconfirmed in the console.
	Unmatched []string `json:"unmatched"`
}

// ImportedUser is one app user the import created.
type ImportedUser struct {
	OktaUserID        string  `json:"oktaUserId"`
	EntraUserID       string  `json:"entraUserId"`
	UserPrincipalName string  `json:"userPrincipalName"`
	ImmutableID       *string `json:"immutableId"`
}

// ImportO365 does what an admin does by hand in Okta's console: import from
// the Office 365 app and confirm the matches. Every Entra member that no
// app user of the office365 app stands for, whose UPN equals an Okta user's
// login (case-insensitively), becomes an app user with immutableId = the
// Entra onPremisesImmutableId and externalId = the Entra object id, status
// PROVISIONED. Okta users already assigned are left alone. The tenant must
// have exactly one office365 app.
func (s *State) ImportO365() (ImportResult, error) {
	res := ImportResult{Imported: []ImportedUser{}, Unmatched: []string{}}
	err := s.update(func(t *Tenant, rec *changeRecorder) error {
		var app *OktaApp
		for i := range t.Okta.Apps {
			if t.Okta.Apps[i].Name != "office365" {
				continue
			}
			if app != nil {
				return fmt.Errorf("sim import: the org has more than one office365 app (%s, %s); the import needs exactly one", app.ID, t.Okta.Apps[i].ID)
			}
			app = &t.Okta.Apps[i]
		}
		if app == nil {
			return errors.New("sim import: the org has no office365 app to import into")
		}
		res.AppID = app.ID
		assignedUser := map[string]bool{}
		linkedEntra := map[string]bool{}
		for _, au := range t.Okta.AppUsers {
			if au.AppID != app.ID {
				continue
			}
			assignedUser[au.UserID] = true
			if au.ExternalID != nil {
				linkedEntra[strings.ToLower(*au.ExternalID)] = true
			}
		}
		byLogin := make(map[string]string, len(t.Okta.Users))
		for _, u := range t.Okta.Users {
			byLogin[strings.ToLower(u.Login)] = u.ID
		}
		for _, eu := range t.Entra.Users {
			if eu.UserType == "Guest" || strings.Contains(strings.ToUpper(eu.UserPrincipalName), "#EXT#") {
				continue
			}
			if linkedEntra[strings.ToLower(eu.ID)] {
				continue
			}
			oktaID, ok := byLogin[strings.ToLower(eu.UserPrincipalName)]
			if !ok {
				res.Unmatched = append(res.Unmatched, eu.UserPrincipalName)
				continue
			}
			if assignedUser[oktaID] {
				continue
			}
			var anchor *string
			if eu.OnPremisesImmutableID != nil {
				v := *eu.OnPremisesImmutableID
				anchor = &v
			}
			ext := eu.ID
			t.Okta.AppUsers = append(t.Okta.AppUsers, OktaAppUser{
				AppID: app.ID, UserID: oktaID, AppUserID: newOktaAppUserID(t), ExternalID: &ext,
				UserName: eu.UserPrincipalName, Status: "PROVISIONED",
				Profile: AppUserProfile{ImmutableID: anchor, Licenses: []string{}, Roles: []string{}},
			})
			assignedUser[oktaID] = true
			rec.appUser(oktaEventAppUserAdd, app, &t.Okta.AppUsers[len(t.Okta.AppUsers)-1], &t.Okta.Users[findOktaUserIndex(t, oktaID)])
			res.Imported = append(res.Imported, ImportedUser{
				OktaUserID: oktaID, EntraUserID: eu.ID, UserPrincipalName: eu.UserPrincipalName, ImmutableID: anchor,
			})
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// simImport serves SimImportPath.
func (s *oktaServer) simImport(w http.ResponseWriter, _ *http.Request) {
	res, err := s.st.ImportO365()
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: import", err.Error())
		return
	}
	s.writeJSON(w, http.StatusOK, res)
}

// maxImportResponse bounds the import answer read by RunImport: 100,000
// imported users fit comfortably.
const maxImportResponse = 64 << 20

// RunImport asks a running simulator's fake Okta at oktaURL to perform the
// O365 import (SimImportPath), authenticating with the simulator's API
// token; client carries the simulator's CA (Servers.HTTPClient). It is for
// `anchorscan sim import`; against a real Okta org the path does not exist.
func RunImport(ctx context.Context, oktaURL, token string, client *http.Client) (ImportResult, error) {
	u, err := url.Parse(oktaURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ImportResult{}, fmt.Errorf("sim import: Okta URL %q is not an absolute URL like https://127.0.0.1:8443", oktaURL)
	}
	if token == "" {
		return ImportResult{}, errors.New("sim import: the simulator's Okta API token is empty")
	}
	if client == nil {
		client = http.DefaultClient
	}
	endpoint := u.Scheme + "://" + u.Host + SimImportPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return ImportResult{}, fmt.Errorf("sim import: %w", err)
	}
	req.Header.Set("Authorization", "SSWS "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return ImportResult{}, fmt.Errorf("sim import: POST %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxImportResponse))
	if err != nil {
		return ImportResult{}, fmt.Errorf("sim import: POST %s: reading the answer: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e oktaErrorJSON
		detail := ""
		if json.Unmarshal(body, &e) == nil && e.ErrorCode != "" {
			detail = ": " + e.ErrorCode + " " + e.ErrorSummary
			for _, c := range e.ErrorCauses {
				detail += "; " + c.ErrorSummary
			}
		}
		if resp.StatusCode == http.StatusNotFound {
			detail += " (is " + u.Host + " an anchorscan simulator? Okta has no import API)"
		}
		return ImportResult{}, fmt.Errorf("sim import: POST %s: HTTP %d%s", endpoint, resp.StatusCode, detail)
	}
	var res ImportResult
	if err := json.Unmarshal(body, &res); err != nil {
		return ImportResult{}, fmt.Errorf("sim import: POST %s: the answer is not an import result: %w", endpoint, err)
	}
	return res, nil
}
