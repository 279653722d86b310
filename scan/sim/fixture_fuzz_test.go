package sim

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzLoadFixture: any input either fails with an error or loads into a
// tenant that writes and loads back to the same tenant.
func FuzzLoadFixture(f *testing.F) {
	example, err := os.ReadFile("testdata/example-tenant.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(`{"format":"anchorscan-tenant/v1","okta":{"org":"https://x.okta.com","users":[],"apps":[],"appUsers":[]},"entra":{"tenantId":"48e61bd8-aafd-43d9-91c1-c7de8cd8e6e2","initialDomain":"x.onmicrosoft.com","domains":[{"id":"x.onmicrosoft.com","authenticationType":"Managed","isVerified":true,"isInitial":true}],"users":[]},"ad":{"domains":[],"users":[]}}`))
	f.Add([]byte(`{"format":"anchorscan-tenant/v1","ad":{"users":[{"objectGUID":"xyz"}]}}`))
	f.Add([]byte(`{"format":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tenant, err := LoadFixture(bytes.NewReader(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		var buf bytes.Buffer
		if err := WriteFixture(&buf, tenant); err != nil {
			t.Fatalf("write a loaded tenant: %v", err)
		}
		again, err := LoadFixture(&buf)
		if err != nil {
			t.Fatalf("a written tenant does not load: %v", err)
		}
		if diff := cmp.Diff(tenant, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip changed the tenant:\n%s", diff)
		}
	})
}
