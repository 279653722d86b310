package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is an open anchorscan database.
type DB struct {
	sql      *sql.DB
	readOnly bool
	path     string
	// readers is a read-only pool beside the single writer connection, so
	// that a long read (the content hash) runs while findings are written.
	readersOnce sync.Once
	readers     *sql.DB
	readersErr  error
	// writeMu serialises writers: SQLite has one writer at a time, and three
	// collectors write concurrently; queueing here beats busy-retrying.
	writeMu sync.Mutex
}

// Open opens or creates the database at path and brings its schema up to date.
// A new file is created readable by its owner only: it holds directory data.
func Open(ctx context.Context, path string) (*DB, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create database %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("create database %s: %w", path, err)
		}
	}
	db, err := open(ctx, path, false)
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return db, nil
}

// OpenReadOnly opens an existing database for reporting; it never writes.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := open(ctx, path, true)
	if err != nil {
		return nil, err
	}
	v, err := db.schemaVersion(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if v != len(migrations) {
		db.Close()
		return nil, fmt.Errorf("database %s has schema version %d, this anchorscan reads version %d: open it once with a writing command (scan) to migrate", path, v, len(migrations))
	}
	return db, nil
}

func open(ctx context.Context, path string, readOnly bool) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "cache_size(-65536)")
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	sqlDB, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if !readOnly {
		sqlDB.SetMaxOpenConns(1)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return &DB{sql: sqlDB, readOnly: readOnly, path: path}, nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.readers != nil {
		db.readers.Close()
	}
	return db.sql.Close()
}

// reader is the pool for reads that should not queue behind the writer
// connection. A read-only database reads through its own pool.
func (db *DB) reader(ctx context.Context) (*sql.DB, error) {
	if db.readOnly {
		return db.sql, nil
	}
	db.readersOnce.Do(func() {
		r, err := open(ctx, db.path, true)
		if err != nil {
			db.readersErr = err
			return
		}
		db.readers = r.sql
	})
	return db.readers, db.readersErr
}

func (db *DB) schemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func (db *DB) migrate(ctx context.Context) error {
	v, err := db.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this anchorscan knows (%d): use a newer anchorscan", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.sql.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		// PRAGMA takes no parameters; i+1 is an int we control.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}

// inTx runs fn in one write transaction, serialised with other writers.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.readOnly {
		return errors.New("database is open read-only")
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ShrinkMemory gives back what the writer connection's page cache holds.
// A scan calls it once its sources are stored: the cache, filled by their
// writes, would otherwise stay beside the snapshot's records while they
// are classified, which is when the scan uses the most memory.
func (db *DB) ShrinkMemory(ctx context.Context) error {
	if _, err := db.sql.ExecContext(ctx, "PRAGMA shrink_memory"); err != nil {
		return fmt.Errorf("shrink the page cache: %w", err)
	}
	return nil
}
