package entra

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/anchorscan/anchorscan/scan/retry"
)

// GraphError is a failed Graph call: which endpoint, the HTTP status when
// one was received, and Graph's error code and message when the body carried
// them. Callers branch on Status and Code; Error reads as a sentence.
type GraphError struct {
	Endpoint  string // e.g. "GET /users"
	Status    int    // 0 when no response was received
	Code      string // Graph's error.code, e.g. "InvalidAuthenticationToken"
	Message   string // Graph's error.message, or what went wrong reading the response
	RequestID string // Graph's request-id, for a support ticket
	err       error  // transport or decoding cause; never an ODataError (see describe)
}

func (e *GraphError) Error() string {
	var b strings.Builder
	b.WriteString("entra: ")
	b.WriteString(e.Endpoint)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request-id %s)", e.RequestID)
	}
	return b.String()
}

// Unwrap exposes transport causes such as context.Canceled.
func (e *GraphError) Unwrap() error { return e.err }

// describe turns an SDK error into a GraphError. It never calls
// ODataError.Error, which dereferences error.message without a nil check
// and panics on a body that lacks it.
func describe(endpoint string, status int, err error) error {
	if err == nil {
		return nil
	}
	ge := &GraphError{Endpoint: endpoint, Status: status}
	var odata *odataerrors.ODataError
	var api *abs.ApiError
	switch {
	case errors.As(err, &odata):
		ge.Status = odata.ResponseStatusCode
		if main := odata.GetErrorEscaped(); main != nil {
			ge.Code = deref(main.GetCode())
			ge.Message = deref(main.GetMessage())
			if inner := main.GetInnerError(); inner != nil {
				ge.RequestID = deref(inner.GetRequestId())
			}
		}
		if ge.Code == "" && ge.Message == "" {
			ge.Message = "error response without error.code or error.message"
		}
	case errors.As(err, &api):
		ge.Status = api.ResponseStatusCode
		ge.Message = api.Message
	default:
		// Cancellation, transport failures and bodies the SDK could not
		// decode (truncated, not JSON) arrive here; the status, if any, came
		// from the request counter.
		ge.Message = err.Error()
		if status >= 200 && status < 300 {
			ge.Message = "unreadable response body: " + ge.Message
		}
		ge.err = err
	}
	return ge
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// transient marks described (the GraphError of a failed call) as worth
// issuing the same request again when another try may succeed: throttling
// the SDK's retry handler gave up on, a server error, a connection that
// broke, a body that arrived truncated. Client errors (401, 403, 400, 404)
// and certificate failures are final.
func transient(described, err error) error {
	var ge *GraphError
	if !errors.As(described, &ge) {
		return described
	}
	switch {
	case ge.Status == http.StatusTooManyRequests || ge.Status >= 500:
		return retry.Transient(described, retryAfter(err))
	case ge.Status >= 300 && ge.Status < 500:
		return described
	case ge.err == nil:
		// A 2xx whose body decoded but is not what Graph sends.
		return described
	case certificateError(err):
		return described
	}
	return retry.Transient(described, 0)
}

func certificateError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host)
}

// retryAfter is the Retry-After of an error response (seconds or an HTTP
// date), 0 when it has none.
func retryAfter(err error) time.Duration {
	var api *abs.ApiError
	var odata *odataerrors.ODataError
	var headers *abs.ResponseHeaders
	switch {
	case errors.As(err, &odata):
		headers = odata.ResponseHeaders
	case errors.As(err, &api):
		headers = api.ResponseHeaders
	}
	if headers == nil {
		return 0
	}
	for _, name := range []string{"Retry-After", "retry-after"} {
		for _, v := range headers.Get(name) {
			if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
				return time.Duration(secs) * time.Second
			}
			if t, err := http.ParseTime(v); err == nil {
				return max(time.Until(t), 0)
			}
		}
	}
	return 0
}
