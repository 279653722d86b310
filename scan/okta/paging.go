package okta

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/anchorscan/anchorscan/scan/retry"
)

// nextCursor returns the after= cursor of the response's Link rel="next", or
// "" on the last page. The SDK's own resp.Next() would follow the link with
// the configuration's background context, so a cancelled scan would keep
// paging; the collector issues each page itself with After(cursor) instead.
func nextCursor(resp *okta.APIResponse) (string, error) {
	for _, header := range resp.Header.Values("Link") {
		// One header may carry several comma-separated links.
		for _, link := range strings.Split(header, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !linkIsNext(params) {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				return "", fmt.Errorf("malformed Link header %q", header)
			}
			u, err := url.Parse(target[1 : len(target)-1])
			if err != nil {
				return "", fmt.Errorf("malformed next link in %q: %w", header, err)
			}
			after := u.Query().Get("after")
			if after == "" {
				return "", fmt.Errorf("next link %q has no after cursor", u)
			}
			return after, nil
		}
	}
	return "", nil
}

func linkIsNext(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "rel") && strings.Trim(strings.TrimSpace(v), `"`) == "next" {
			return true
		}
	}
	return false
}

// fetch issues one idempotent GET through the retry policy: call builds and
// executes the request under the attempt's context (a page is re-issued
// with the same cursor), and every way it can fail is checked as
// checkResponse does. The SDK has already read and closed the body of a
// response it returns, so an abandoned attempt holds no connection.
func fetch[T any](ctx context.Context, r *run, endpoint string, call func(ctx context.Context) (T, *okta.APIResponse, error)) (T, *okta.APIResponse, error) {
	var out T
	var resp *okta.APIResponse
	retries, err := retry.Do(ctx, r.c.retry, func(ctx context.Context) error {
		v, rs, err := call(ctx)
		if checked := checkResponse(ctx, endpoint, rs, err); checked != nil {
			return transient(rs, err, checked)
		}
		out, resp = v, rs
		return nil
	})
	if err == nil {
		r.noteDate(resp)
	}
	r.retries.Add(int64(retries))
	return out, resp, err
}
