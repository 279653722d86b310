package okta

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/okta/okta-sdk-golang/v5/okta"
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
