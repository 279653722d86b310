package okta

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/anchorscan/anchorscan/scan/retry"
)

// ErrAuthentication marks a 401: the org refused the API token.
var ErrAuthentication = errors.New("authentication failed")

// errNotFound marks a 404: the object is gone, which an incremental read
// expects of an assignment removed after the event it followed.
var errNotFound = errors.New("not found")

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
	case status == http.StatusNotFound:
		return fmt.Errorf("okta: %s: %w (HTTP 404%s)", endpoint, errNotFound, oktaErrorDetail(err))
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

// transient marks checked (the error checkResponse made of one call) as worth
// re-issuing the same request when the call failed in a way that another
// try may not: throttling the SDK's own retries did not absorb, a server
// error, a connection that broke, a body that arrived truncated or empty.
// Authentication, permission and other 4xx answers, and certificate
// failures, are final.
func transient(resp *okta.APIResponse, err, checked error) error {
	status := 0
	var header http.Header
	if resp != nil && resp.Response != nil {
		status, header = resp.StatusCode, resp.Header
	}
	switch {
	case status == http.StatusTooManyRequests:
		return retry.Transient(checked, rateLimitWait(header, time.Now()))
	case status >= 500:
		return retry.Transient(checked, retryAfter(header, time.Now()))
	case status >= 300:
		return checked
	case status == 0 && certificateError(err):
		return checked
	}
	// No answer, or a 2xx whose body did not arrive whole.
	return retry.Transient(checked, 0)
}

func certificateError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host)
}

// rateLimitWait is how long Okta asks a throttled client to wait: until
// X-Rate-Limit-Reset (epoch seconds), measured against the response's Date
// so that a skewed local clock does not matter.
func rateLimitWait(h http.Header, now time.Time) time.Duration {
	if d := retryAfter(h, now); d > 0 {
		return d
	}
	reset, err := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64)
	if err != nil {
		return 0
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	return max(time.Unix(reset, 0).Sub(now), 0)
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
