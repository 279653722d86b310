package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	kabs "github.com/microsoft/kiota-abstractions-go"
	abs "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// ErrNotFound marks a 404 from Graph: no such user.
var ErrNotFound = errors.New("not found")

// Admin reads and changes single users for apply (DESIGN §6), on the same
// Graph client as the collector.
type Admin struct {
	c *Collector
}

// UserState is what apply compares a user with before and after a step.
type UserState struct {
	ID, UserPrincipalName, ImmutableID string
	SyncEnabled, AccountEnabled        bool
	// Licenses are the skuIds (GUID strings) of assignedLicenses.
	Licenses []string
}

// UserPatch is one PATCH of a user. Zero fields are left unchanged.
type UserPatch struct {
	UserPrincipalName string  // "" = unchanged
	ImmutableID       *string // nil = unchanged
	// ClearImmutableID sends onPremisesImmutableId as JSON null, the only
	// way to clear it; it excludes ImmutableID.
	ClearImmutableID bool
}

// adminUserSelect is what User reads.
var adminUserSelect = []string{
	"id", "userPrincipalName", "onPremisesImmutableId", "onPremisesSyncEnabled", "accountEnabled", "assignedLicenses",
}

// NewAdmin checks cfg and builds the client exactly as New does. It sends
// no request.
func NewAdmin(cfg Config) (*Admin, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Admin{c: c}, nil
}

// User reads one user by object id or UPN; errors.Is(err, ErrNotFound)
// when there is none.
func (a *Admin) User(ctx context.Context, id string) (*UserState, error) {
	endpoint := "GET /users/" + id
	u, err := fetch(ctx, endpoint, func(ctx context.Context) (models.Userable, error) {
		return a.c.client.Users().ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: adminUserSelect},
		})
	})
	if err != nil {
		return nil, notFound(err)
	}
	s := &UserState{
		ID:                deref(u.GetId()),
		UserPrincipalName: deref(u.GetUserPrincipalName()),
		ImmutableID:       deref(u.GetOnPremisesImmutableId()),
		SyncEnabled:       deref(u.GetOnPremisesSyncEnabled()),
		AccountEnabled:    deref(u.GetAccountEnabled()),
		Licenses:          []string{},
	}
	for _, l := range u.GetAssignedLicenses() {
		if sku := l.GetSkuId(); sku != nil {
			s.Licenses = append(s.Licenses, sku.String())
		}
	}
	if s.ID == "" {
		return nil, &GraphError{Endpoint: endpoint, Status: http.StatusOK, Message: "the user in the response has no id"}
	}
	return s, nil
}

// UpdateUser sends p as one PATCH. Graph refuses a change to an anchor
// while the user's current UPN is federated, so parking the UPN must be a
// separate, earlier UpdateUser; setting the anchor and restoring the UPN
// may be one. Refusals come back as *GraphError with Graph's code.
func (a *Admin) UpdateUser(ctx context.Context, id string, p UserPatch) error {
	if p.ClearImmutableID && p.ImmutableID != nil {
		return errors.New("entra: UpdateUser: ImmutableID and ClearImmutableID are both set")
	}
	if p.ImmutableID != nil && *p.ImmutableID == "" {
		return errors.New("entra: UpdateUser: ImmutableID is empty; use ClearImmutableID to clear it")
	}
	if p.UserPrincipalName == "" && p.ImmutableID == nil && !p.ClearImmutableID {
		return errors.New("entra: UpdateUser: the patch changes nothing")
	}
	body := models.NewUser()
	if p.UserPrincipalName != "" {
		body.SetUserPrincipalName(&p.UserPrincipalName)
	}
	if p.ImmutableID != nil {
		body.SetOnPremisesImmutableId(p.ImmutableID)
	}
	if p.ClearImmutableID {
		// SetOnPremisesImmutableId(nil) serialises nothing: the JSON writer
		// skips nil properties. An untyped null in the additional data is
		// written as "onPremisesImmutableId": null.
		body.SetAdditionalData(map[string]any{"onPremisesImmutableId": abs.NewUntypedNull()})
	}
	endpoint := "PATCH /users/" + id
	var status int
	// Uncompressed: the SDK's retry handler re-sends a throttled PATCH with
	// Content-Encoding gzip over a body that is no longer gzip (kiota-http-go
	// v1.5.4; TestAdminUpdateUserRetriesThrottledPatch catches it), which
	// Graph refuses with a 400. A user PATCH is a few hundred bytes.
	config := &users.UserItemRequestBuilderPatchRequestConfiguration{
		Options: []kabs.RequestOption{khttp.NewCompressionOptionsReference(false)},
	}
	_, err := a.c.client.Users().ByUserId(id).Patch(withStatusRecorder(ctx, &status), body, config)
	if err != nil {
		return notFound(describe(endpoint, status, err))
	}
	return nil
}

// notFound adds ErrNotFound to a Graph 404.
func notFound(err error) error {
	var ge *GraphError
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
