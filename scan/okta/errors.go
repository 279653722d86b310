package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/okta/okta-sdk-golang/v5/okta"
)

// ErrAuthentication marks a 401: the org refused the API token.
var ErrAuthentication = errors.New("authentication failed")

// checkResponse turns the result of one SDK call into an error that names the
// endpoint and what was wrong, or nil when the call succeeded with a body.
// The SDK flattens transport errors into strings and decodes an empty 200
// body as an empty page, so both are checked here: a scan must never read a
// broken page as a short one.
func checkResponse(ctx context.Context, endpoint string, resp *okta.APIResponse, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return fmt.Errorf("okta: %s: %w", endpoint, ctxErr)
	}
	if resp == nil || resp.Response == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return fmt.Errorf("okta: %s: %w", endpoint, err)
	}
	status := resp.StatusCode
	switch {
	case status == http.StatusUnauthorized:
		return fmt.Errorf("okta: %s: %w: the org refused the API token (HTTP 401%s)", endpoint, ErrAuthentication, oktaErrorDetail(err))
	case status == http.StatusForbidden:
		return fmt.Errorf("okta: %s: permission denied: the API token's admin lacks read access (HTTP 403%s)", endpoint, oktaErrorDetail(err))
	case status >= 300:
		return fmt.Errorf("okta: %s: HTTP %d%s", endpoint, status, oktaErrorDetail(err))
	case err != nil:
		// A 2xx whose body the SDK could not read or decode: truncated,
		// not JSON, or not the shape Okta sends.
		return fmt.Errorf("okta: %s: unreadable response (HTTP %d, Content-Type %q): %v",
			endpoint, status, resp.Header.Get("Content-Type"), err)
	}
	if emptyBody(resp) {
		return fmt.Errorf("okta: %s: HTTP %d with an empty body where Okta sends JSON", endpoint, status)
	}
	return nil
}

// emptyBody reports whether the response had no body. The SDK has already
// read the body into memory; it is read again and put back so that callers
// that decode it themselves (apps) still can.
func emptyBody(resp *okta.APIResponse) bool {
	if resp.Body == nil {
		return true
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return err != nil || len(b) == 0
}

// oktaErrorDetail renders Okta's error body (errorCode and errorSummary)
// from the SDK's error, or "" when there is none.
func oktaErrorDetail(err error) string {
	var apiErr *okta.GenericOpenAPIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	var body struct {
		ErrorCode    string `json:"errorCode"`
		ErrorSummary string `json:"errorSummary"`
		ErrorCauses  []struct {
			ErrorSummary string `json:"errorSummary"`
		} `json:"errorCauses"`
	}
	if json.Unmarshal(apiErr.Body(), &body) != nil || body.ErrorCode == "" {
		return ""
	}
	detail := ", " + body.ErrorCode + ": " + body.ErrorSummary
	for _, c := range body.ErrorCauses {
		detail += "; " + c.ErrorSummary
	}
	return detail
}
