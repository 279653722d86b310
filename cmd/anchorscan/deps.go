package main

// Blank imports keep the pinned dependencies in go.mod while the packages
// that use them are being written.
import (
	_ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "github.com/getkin/kin-openapi/openapi3"
	_ "github.com/getkin/kin-openapi/openapi3filter"
	_ "github.com/go-ldap/ldap/v3"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/jimlambrt/gldap"
	_ "github.com/microsoftgraph/msgraph-sdk-go"
	_ "github.com/okta/okta-sdk-golang/v5/okta"
	_ "github.com/spf13/cobra"
	_ "modernc.org/sqlite"
)

func main() {}
