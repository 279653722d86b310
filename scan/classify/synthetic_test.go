package classify_test

import (
	"encoding/binary"
	"fmt"

	"github.com/anchorscan/anchorscan/scan/anchor"
	"github.com/anchorscan/anchorscan/scan/classify"
	"github.com/anchorscan/anchorscan/scan/record"
)

const (
	synO365 = "0oasyn365"
	synAD   = "0oasynad1"
)

// syntheticGUID makes a distinct GUID per n whose first groups are not
// palindromic, so byte-order mistakes would show.
func syntheticGUID(n int) anchor.GUID {
	var g anchor.GUID
	binary.BigEndian.PutUint32(g[0:4], uint32(n)*2654435761+1)
	binary.BigEndian.PutUint32(g[4:8], uint32(n)^0x4a3b2c1d)
	binary.BigEndian.PutUint64(g[8:16], uint64(n)*0x9e3779b97f4a7c15+7)
	return g
}

// syntheticInput builds a consistent tenant of about n identities cycling
// through a realistic mix of scenarios; want maps each identity's key to its
// scenario.
func syntheticInput(n int) (classify.Input, map[string]classify.Scenario) {
	in := classify.Input{
		OktaOrgURL: "https://synthetic.okta.com",
		OktaApps: []record.OktaApp{
			{ID: synO365, Name: "office365", Label: "Microsoft Office 365", DeactivateUsers: "DISABLED",
				ImmutableIDExpression: classify.ExpressionRecommended, ImmutableIDPushStatus: "DONT_PUSH"},
			{ID: synAD, Name: "active_directory", Label: "corp.synthetic.example"},
		},
		EntraDomains: []record.EntraDomain{
			{ID: "synthetic.example", AuthenticationType: "Federated", IsVerified: true, IssuerURI: "http://www.okta.com/exksyn"},
			{ID: "synthetic.onmicrosoft.com", AuthenticationType: "Managed", IsVerified: true, IsInitial: true},
		},
		ADDomains: []record.ADDomain{{Name: "corp.synthetic.example", BaseDN: "DC=corp,DC=synthetic,DC=example"}},
	}
	want := make(map[string]classify.Scenario, n)
	for i := range n {
		upn := fmt.Sprintf("user%07d@synthetic.example", i)
		oktaID := fmt.Sprintf("00u%017d", i)
		entraID := fmt.Sprintf("%08d-0000-4000-8000-%012d", i%100000000, i)
		g := syntheticGUID(i)
		anchorValue := g.ImmutableID()
		kind := i % 8

		hasAD := kind != 1
		if hasAD {
			in.ADUsers = append(in.ADUsers, record.ADUser{
				Domain: "corp.synthetic.example", DistinguishedName: fmt.Sprintf("CN=user%07d,OU=Staff,DC=corp,DC=synthetic,DC=example", i),
				ObjectGUID: g.Raw(), ObjectSID: fmt.Sprintf("S-1-5-21-1-2-3-%d", 1000+i), UserPrincipalName: upn,
			})
		}
		if kind == 6 { // only in AD
			want[identityKey("", "", g.String())] = classify.OutOfScope
			continue
		}
		entra := record.EntraUser{ID: entraID, UserPrincipalName: upn, DisplayName: fmt.Sprintf("User %d", i),
			AccountEnabled: true, UserType: "Member", ImmutableID: anchorValue}
		okta := record.OktaUser{ID: oktaID, Status: "ACTIVE", Login: upn, FirstName: "User", LastName: fmt.Sprint(i)}
		o365 := record.OktaAppUser{AppID: synO365, UserID: oktaID, ExternalID: entraID, UserName: upn, Status: "PROVISIONED", ImmutableID: anchorValue}
		adApp := record.OktaAppUser{AppID: synAD, UserID: oktaID, ExternalID: anchorValue, UserName: upn, Status: "ACTIVE"}
		hasOkta, assigned := true, true
		var scenario classify.Scenario
		switch kind {
		case 0:
			scenario = classify.OK
		case 1: // cloud-only, joined by immutableId
			entra.ImmutableID, o365.ImmutableID, o365.ExternalID = oktaID, oktaID, ""
			scenario = classify.OK
		case 2:
			o365.ImmutableID = syntheticGUID(i + n).ImmutableID()
			scenario = classify.OktaAssignmentStale
		case 3:
			entra.ImmutableID = ""
			scenario = classify.MissingAnchorAD
		case 4:
			assigned = false
			scenario = classify.NotAssigned
		case 5:
			hasOkta = false
			scenario = classify.OrphanEntra
		case 7:
			entra.ImmutableID = g.String()
			scenario = classify.EncodingMismatch
		}
		in.EntraUsers = append(in.EntraUsers, entra)
		adGUID, oktaKey := "", ""
		if hasAD {
			adGUID = g.String()
		}
		if hasOkta {
			oktaKey = oktaID
			in.OktaUsers = append(in.OktaUsers, okta)
			if hasAD {
				in.OktaAppUsers = append(in.OktaAppUsers, adApp)
			}
			if assigned {
				in.OktaAppUsers = append(in.OktaAppUsers, o365)
			}
		}
		want[identityKey(entraID, oktaKey, adGUID)] = scenario
	}
	return in, want
}
