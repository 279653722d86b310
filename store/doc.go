// Package store keeps anchorscan's snapshots in one SQLite file (through the
// pure-Go modernc.org/sqlite driver): the records each source returned, the
// outcome of each source, the findings classification made of them, and later
// the apply journal. Reports and plans read only from here, never from live APIs.
package store
