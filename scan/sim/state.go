package sim

import "sync"

// State is the one in-memory tenant the fake Okta, Graph and LDAP servers
// share, so that a change made through one API is seen through the others,
// as it would be in life (an Okta unassignment can disable the Entra user).
// Beside the tenant it tracks what changed when (changes.go), which the
// incremental read paths serve: Okta's lastUpdated filter and System Log,
// Graph's users delta and AD's uSNChanged.
type State struct {
	mu      sync.RWMutex
	tenant  *Tenant
	version uint64
	changes changeLog
}

// NewState wraps t; the caller must not touch t afterwards.
func NewState(t *Tenant) *State {
	return &State{tenant: t, changes: newChangeLog(t)}
}

// Read calls fn with the tenant under a read lock. fn must not keep
// references to the tenant's slices after it returns.
func (s *State) Read(fn func(t *Tenant)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(s.tenant)
}

// Update calls fn with the tenant under the write lock and bumps the version
// when fn succeeds, so servers know to rebuild their indexes. Changes made
// through Update are not change-tracked: the simulator's own write paths
// and Mutate record theirs (see update), so that incremental reads see them.
func (s *State) Update(fn func(t *Tenant) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(s.tenant); err != nil {
		return err
	}
	s.version++
	return nil
}

// Version changes every time Update succeeds. Servers cache indexes (id →
// position) keyed by it.
func (s *State) Version() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}
