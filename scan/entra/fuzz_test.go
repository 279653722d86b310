package entra

import (
	"testing"

	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// FuzzUsersPage parses an arbitrary /users page with the SDK's JSON parse
// node, as the collector does, and converts every user: no input may panic.
func FuzzUsersPage(f *testing.F) {
	f.Add([]byte(`{"@odata.context":"x","value":[{"id":"3cd49c6d-00b7-4439-932a-b4141082be29","userPrincipalName":"a@b","onPremisesImmutableId":"Pqlfffo2uEqbF4UcX9pvFQ==","onPremisesSyncEnabled":null,"accountEnabled":true}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users?$skiptoken=x"}`))
	f.Add([]byte(`{"value":[{"id":5,"accountEnabled":"yes"}]}`))
	f.Add([]byte(`{"value":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		node, err := jsonserialization.NewJsonParseNode(body)
		if err != nil {
			return
		}
		v, err := node.GetObjectValue(models.CreateUserCollectionResponseFromDiscriminatorValue)
		if err != nil || v == nil {
			return
		}
		page, ok := v.(models.UserCollectionResponseable)
		if !ok {
			t.Fatalf("parsed %T, want a user collection", v)
		}
		for _, u := range page.GetValue() {
			if u == nil {
				continue
			}
			_ = entraUser(u)
		}
	})
}
