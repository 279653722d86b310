package entra

import (
	"context"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/anchorscan/anchorscan/scan/record"
)

// ProbeUsers reads one user with onPremisesImmutableId selected: the read a
// scan needs (User.Read.All), without reading the tenant.
func (c *Collector) ProbeUsers(ctx context.Context) error {
	top := int32(1)
	query := &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id", "onPremisesImmutableId"}, Top: &top},
	}
	_, err := fetch(ctx, "GET /users?$select=id,onPremisesImmutableId&$top=1", func(ctx context.Context) (models.UserCollectionResponseable, error) {
		return c.client.Users().Get(ctx, query)
	})
	return err
}

// Domains reads the tenant's domains with the issuer of each federated one,
// as a scan does (Domain.Read.All).
func (c *Collector) Domains(ctx context.Context) ([]record.EntraDomain, error) {
	var sink captureSink
	stats := record.Stats{Counts: map[string]int{}}
	if err := c.collectDomains(ctx, &sink, &stats); err != nil {
		return nil, err
	}
	return sink.domains, nil
}

type captureSink struct{ domains []record.EntraDomain }

func (s *captureSink) Write(_ context.Context, b record.Batch) error {
	s.domains = append(s.domains, b.EntraDomains...)
	return nil
}
