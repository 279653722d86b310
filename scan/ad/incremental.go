package ad

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/anchorscan/anchorscan/scan/record"
)

// Keys of Stats.Sync, per base DN: the domain controller the USN belongs
// to and its highestCommittedUSN when the read began.
const (
	syncDCSuffix  = ".dc"
	syncUSNSuffix = ".usn"
)

// syncState is where the next change read of each base starts: the DC and
// its USN high-water mark. nil when the server reports neither (not an AD
// domain controller), so that the next scan reads it whole.
func syncState(bases []string, dc dcPosition) map[string]string {
	if !dc.known {
		return nil
	}
	sync := make(map[string]string, 2*len(bases))
	for _, base := range bases {
		sync[base+syncDCSuffix] = dc.service
		sync[base+syncUSNSuffix] = strconv.FormatInt(dc.usn, 10)
	}
	return sync
}

// deletedUsersFilter selects tombstones of user-class objects. A tombstone
// keeps objectClass but loses objectCategory, so the user filter cannot
// find it; computers' tombstones match too, and remove nothing.
const deletedUsersFilter = "(&(isDeleted=TRUE)(objectClass=user))"

// changedAttributes are read by the change search: the user's attributes,
// and isDeleted to tell a tombstone from a live user.
var changedAttributes = append(append([]string(nil), userAttributes...), "isDeleted")

// CollectChanges reads what changed in each base DN since the read that
// reported since (its Stats.Sync): the users whose uSNChanged is above the
// USN high-water mark then, written whole, and the objectGUIDs of users
// deleted since (tombstones, read with the Show Deleted control) or moved
// out of every base DN, written as Batch.Removed. The domains are written
// whole, as Collect writes them.
//
// USNs are local to one domain controller: when the server is another DC
// than since names, when its USN went back (a restore), or when since lacks
// a base DN, CollectChanges returns record.ErrResync before writing
// anything, and the source must be read whole.
//
// Per partition (naming context) holding a base DN, one paged search
// returns both the changed users and the tombstones: a read of a 1%-changed
// domain costs a bind, the rootDSE and a page per 1,000 changes.
func (c *Collector) CollectChanges(ctx context.Context, sink record.Sink, since map[string]string) (record.Stats, error) {
	stats := record.Stats{Counts: map[string]int{"domains": 0, "users": 0, "removed": 0}}
	s := &session{c: c, stats: &stats}
	if err := s.connect(ctx); err != nil {
		return stats, err
	}
	defer s.close()

	root, err := c.readRootDSE(ctx, s.conn, &stats)
	if err != nil {
		return stats, err
	}
	if !root.dc.known {
		return stats, fmt.Errorf("ad: %s reports no dsServiceName and highestCommittedUSN to read changes from: %w", c.network, record.ErrResync)
	}
	domains, err := c.domains(root.bases)
	if err != nil {
		return stats, err
	}
	from := make(map[string]int64, len(root.bases))
	for _, base := range root.bases {
		n, err := changesFrom(base, since, root.dc)
		if err != nil {
			return stats, fmt.Errorf("ad: changes of %s on %s: %w", base, c.network, err)
		}
		from[base] = n
	}
	// From here on a reconnect must reach the same DC: another's USNs do
	// not continue these.
	s.dc, s.sameDC = root.dc.service, true

	if err := sink.Write(ctx, record.Batch{ADDomains: domains}); err != nil {
		return stats, fmt.Errorf("ad: store domains: %w", err)
	}
	stats.Counts["domains"] = len(domains)

	r := &changeRead{c: c, s: s, sink: sink, domains: domains, live: map[[16]byte]struct{}{}, gone: map[[16]byte]struct{}{}}
	for _, part := range partitions(root.bases, root.namingContexts) {
		usn := from[part.bases[0]]
		for _, b := range part.bases[1:] {
			usn = min(usn, from[b])
		}
		if usn >= root.dc.usn {
			// Nothing was committed on this DC since: every uSNChanged
			// is at most highestCommittedUSN.
			continue
		}
		if err := r.read(ctx, part.root, usn); err != nil {
			return stats, err
		}
	}
	if err := r.writeRemovals(ctx); err != nil {
		return stats, err
	}
	stats.Sync = syncState(root.bases, root.dc)
	return stats, nil
}

// changesFrom is the USN the last read of base stopped at, or an error
// wrapping record.ErrResync saying why the changes cannot be read from it.
func changesFrom(base string, since map[string]string, dc dcPosition) (int64, error) {
	lastDC, okDC := since[base+syncDCSuffix]
	lastUSN, okUSN := since[base+syncUSNSuffix]
	if !okDC || !okUSN {
		return 0, fmt.Errorf("the last scan did not read this base DN: %w", record.ErrResync)
	}
	if lastDC != dc.service {
		return 0, fmt.Errorf("the last scan read domain controller %q, this one is %q, and USNs are per domain controller: %w",
			lastDC, dc.service, record.ErrResync)
	}
	n, err := strconv.ParseInt(lastUSN, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("the last scan's USN %q is not a number: %w", lastUSN, record.ErrResync)
	}
	if n > dc.usn {
		// A DC restored from a backup numbers again from the backup's USN:
		// changes made since would hide below the mark.
		return 0, fmt.Errorf("highestCommittedUSN went back from %d to %d (a restored domain controller?): %w", n, dc.usn, record.ErrResync)
	}
	return n, nil
}

// partition is a naming context and the configured base DNs inside it.
type partition struct {
	root  string
	bases []string
}

// partitions groups bases by the naming context holding each: AD keeps a
// deleted object under its partition's CN=Deleted Objects, outside any
// OU a base DN names, so deletions are searched for from the partition's
// root. A base in no listed naming context is its own root.
func partitions(bases, namingContexts []string) []partition {
	var ncs []*ldap.DN
	for _, nc := range namingContexts {
		if dn, err := ldap.ParseDN(nc); err == nil {
			ncs = append(ncs, dn)
		}
	}
	var out []partition
	index := map[string]int{}
	for _, base := range bases {
		root := base
		if dn, err := ldap.ParseDN(base); err == nil {
			var best *ldap.DN
			for _, nc := range ncs {
				if (nc.EqualFold(dn) || nc.AncestorOfFold(dn)) && (best == nil || len(nc.RDNs) > len(best.RDNs)) {
					best = nc
				}
			}
			if best != nil {
				root = best.String()
			}
		}
		if i, ok := index[root]; ok {
			out[i].bases = append(out[i].bases, base)
			continue
		}
		index[root] = len(out)
		out = append(out, partition{root: root, bases: []string{base}})
	}
	return out
}

// changeRead is one CollectChanges pass over the partitions.
type changeRead struct {
	c       *Collector
	s       *session
	sink    record.Sink
	domains []record.ADDomain
	// live are the objectGUIDs written as changed users; gone are those
	// seen deleted or outside every base. A GUID can be both when a user
	// moved between domains (a tombstone in one, live in the other): live
	// wins, so removals wait until every partition was read.
	live, gone map[[16]byte]struct{}
}

// read searches the partition at root for users and tombstones changed
// above usn, writing the users one batch per page.
func (r *changeRead) read(ctx context.Context, root string, usn int64) error {
	above := "(uSNChanged>=" + strconv.FormatInt(usn+1, 10) + ")"
	q := pagedSearch{
		what:       "search for changes under " + root,
		base:       root,
		filter:     "(&(|" + UserFilter + deletedUsersFilter + ")" + above + ")",
		attributes: changedAttributes,
		controls:   []ldap.Control{ldap.NewControlMicrosoftShowDeleted()},
	}
	return r.c.search(ctx, r.s, q, func(page int, entries []*ldap.Entry) (int, error) {
		var batch record.Batch
		for _, e := range entries {
			domain, inBase := record.ADDomain{}, false
			deleted := strings.EqualFold(e.GetEqualFoldAttributeValue("isDeleted"), "TRUE")
			if !deleted {
				var err error
				if domain, inBase, err = r.domainOf(e); err != nil {
					return 0, fmt.Errorf("ad: %s, page %d: %w", q.what, page, err)
				}
			}
			if !inBase {
				// Deleted, or moved out of every base DN (or never in
				// one): a full read would not find it either.
				guid, err := objectGUID(e)
				if err != nil {
					return 0, fmt.Errorf("ad: %s, page %d: %w", q.what, page, err)
				}
				r.gone[guid] = struct{}{}
				continue
			}
			u, err := toUser(e, domain.Name)
			if err != nil {
				return 0, fmt.Errorf("ad: %s, page %d: %w", q.what, page, err)
			}
			r.live[u.ObjectGUID] = struct{}{}
			batch.ADUsers = append(batch.ADUsers, u)
		}
		if len(batch.ADUsers) > 0 {
			if err := r.sink.Write(ctx, batch); err != nil {
				return 0, fmt.Errorf("ad: store page %d of the changes under %s: %w", page, root, err)
			}
			r.s.stats.Counts["users"] += len(batch.ADUsers)
		}
		return len(entries), nil
	})
}

// domainOf is the domain of the most specific base DN that e lies in; ok
// is false when it lies in none.
func (r *changeRead) domainOf(e *ldap.Entry) (record.ADDomain, bool, error) {
	dnText := e.GetEqualFoldAttributeValue("distinguishedName")
	if dnText == "" {
		dnText = e.DN
	}
	dn, err := ldap.ParseDN(dnText)
	if err != nil {
		return record.ADDomain{}, false, fmt.Errorf("AD user %q: distinguishedName: %w", dnText, err)
	}
	var best record.ADDomain
	bestDepth := -1
	for _, d := range r.domains {
		base, err := ldap.ParseDN(d.BaseDN)
		if err != nil {
			continue // New checked the configured ones; the rootDSE's parse too
		}
		if (base.EqualFold(dn) || base.AncestorOfFold(dn)) && len(base.RDNs) > bestDepth {
			best, bestDepth = d, len(base.RDNs)
		}
	}
	return best, bestDepth >= 0, nil
}

// objectGUID is what removes an object: the one key a tombstone keeps, as
// AD mangles its DN.
func objectGUID(e *ldap.Entry) ([16]byte, error) {
	guids := e.GetEqualFoldRawAttributeValues("objectGUID")
	if len(guids) != 1 || len(guids[0]) != 16 {
		return [16]byte{}, fmt.Errorf("AD object %s: objectGUID is not one value of 16 bytes", e.DN)
	}
	return [16]byte(guids[0]), nil
}

// removalsPerBatch bounds one Removed batch, as a page bounds the users.
const removalsPerBatch = 1000

// writeRemovals writes the GUIDs seen gone and not live, in batches.
func (r *changeRead) writeRemovals(ctx context.Context) error {
	var removed [][16]byte
	flush := func() error {
		if len(removed) == 0 {
			return nil
		}
		if err := r.sink.Write(ctx, record.Batch{Removed: &record.Removals{ADUsers: removed}}); err != nil {
			return fmt.Errorf("ad: store %d removed users: %w", len(removed), err)
		}
		r.s.stats.Counts["removed"] += len(removed)
		removed = nil
		return nil
	}
	gone := slices.SortedFunc(maps.Keys(r.gone), func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	for _, guid := range gone {
		if _, ok := r.live[guid]; ok {
			continue
		}
		removed = append(removed, guid)
		if len(removed) == removalsPerBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
