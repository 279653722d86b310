package anchor

import "testing"

var (
	benchReadings []Reading
	benchString   string
)

func BenchmarkReadings(b *testing.B) {
	for _, bm := range []struct {
		name string
		in   string
	}{
		{name: "immutable-id", in: "BpazOkLGm0iEtljAONPvOQ=="},
		{name: "guid", in: "3ab39606-c642-489b-84b6-58c038d3ef39"},
		{name: "base64-ascii-guid", in: "M2FiMzk2MDYtYzY0Mi00ODliLTg0YjYtNThjMDM4ZDNlZjM5"},
		{name: "okta-id", in: "00u1a2b3c4d5e6f7g8h9"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchReadings = Readings(bm.in)
			}
		})
	}
}

func BenchmarkImmutableID(b *testing.B) {
	g := mustGUID(b, "3ab39606-c642-489b-84b6-58c038d3ef39")
	b.ReportAllocs()
	for b.Loop() {
		benchString = g.ImmutableID()
	}
}
