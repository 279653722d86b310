package store

// Record tables have no primary key on purpose: collectors deliver ids in
// random order, and keeping a B-tree on them sorted costs five times the
// insert itself. Rows are appended; key order and uniqueness are established
// when the snapshot is finished (see ContentHash).
//
// migrations are applied in order, each in its own transaction; the index+1
// is the schema version recorded in PRAGMA user_version. Never edit one that
// has shipped: append a new one.
var migrations = []string{
	// 1: snapshots, source runs, raw records, findings.
	`
CREATE TABLE snapshots (
	id            INTEGER PRIMARY KEY,
	tool_version  TEXT NOT NULL,
	started_at    TEXT NOT NULL,
	ended_at      TEXT,
	status        TEXT NOT NULL DEFAULT 'running',
	content_hash  TEXT,
	okta_org      TEXT NOT NULL DEFAULT '',
	entra_tenant  TEXT NOT NULL DEFAULT '',
	ad_domains    TEXT NOT NULL DEFAULT ''
);
CREATE TABLE source_runs (
	snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
	source      TEXT NOT NULL,
	status      TEXT NOT NULL,
	requests    INTEGER NOT NULL,
	counts      TEXT NOT NULL,
	started_at  TEXT NOT NULL,
	ended_at    TEXT NOT NULL,
	errors      TEXT NOT NULL,
	PRIMARY KEY (snapshot_id, source)
);
CREATE TABLE okta_users (
	snapshot_id INTEGER NOT NULL,
	id          TEXT NOT NULL,
	status      TEXT NOT NULL,
	login       TEXT NOT NULL,
	email       TEXT NOT NULL,
	first_name  TEXT NOT NULL,
	last_name   TEXT NOT NULL
);
CREATE INDEX okta_users_snapshot ON okta_users(snapshot_id);
CREATE TABLE okta_apps (
	snapshot_id      INTEGER NOT NULL,
	id               TEXT NOT NULL,
	name             TEXT NOT NULL,
	label            TEXT NOT NULL,
	deactivate_users TEXT NOT NULL,
	mapping_id       TEXT NOT NULL,
	expression       TEXT NOT NULL,
	push_status      TEXT NOT NULL
);
CREATE INDEX okta_apps_snapshot ON okta_apps(snapshot_id);
CREATE TABLE okta_app_users (
	snapshot_id  INTEGER NOT NULL,
	app_id       TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	external_id  TEXT NOT NULL,
	user_name    TEXT NOT NULL,
	status       TEXT NOT NULL,
	sync_state   TEXT NOT NULL,
	immutable_id TEXT NOT NULL,
	licenses     TEXT NOT NULL,
	roles        TEXT NOT NULL
);
CREATE INDEX okta_app_users_snapshot ON okta_app_users(snapshot_id);
CREATE TABLE entra_orgs (
	snapshot_id    INTEGER NOT NULL,
	tenant_id      TEXT NOT NULL,
	display_name   TEXT NOT NULL,
	initial_domain TEXT NOT NULL
);
CREATE INDEX entra_orgs_snapshot ON entra_orgs(snapshot_id);
CREATE TABLE entra_domains (
	snapshot_id         INTEGER NOT NULL,
	id                  TEXT NOT NULL,
	authentication_type TEXT NOT NULL,
	is_verified         INTEGER NOT NULL,
	is_initial          INTEGER NOT NULL,
	issuer_uri          TEXT NOT NULL
);
CREATE INDEX entra_domains_snapshot ON entra_domains(snapshot_id);
CREATE TABLE entra_users (
	snapshot_id     INTEGER NOT NULL,
	id              TEXT NOT NULL,
	upn             TEXT NOT NULL,
	display_name    TEXT NOT NULL,
	mail            TEXT NOT NULL,
	account_enabled INTEGER NOT NULL,
	user_type       TEXT NOT NULL,
	creation_type   TEXT NOT NULL,
	immutable_id    TEXT NOT NULL,
	sync_enabled    INTEGER NOT NULL,
	security_id     TEXT NOT NULL,
	onprem_dn       TEXT NOT NULL,
	onprem_sam      TEXT NOT NULL
);
CREATE INDEX entra_users_snapshot ON entra_users(snapshot_id);
CREATE TABLE ad_domains (
	snapshot_id INTEGER NOT NULL,
	name        TEXT NOT NULL,
	base_dn     TEXT NOT NULL
);
CREATE INDEX ad_domains_snapshot ON ad_domains(snapshot_id);
CREATE TABLE ad_users (
	snapshot_id      INTEGER NOT NULL,
	dn               TEXT NOT NULL,
	domain           TEXT NOT NULL,
	object_guid      BLOB NOT NULL,
	consistency_guid BLOB,
	sid              TEXT NOT NULL,
	upn              TEXT NOT NULL,
	sam              TEXT NOT NULL,
	mail             TEXT NOT NULL,
	uac              INTEGER NOT NULL,
	when_changed     TEXT NOT NULL,
	usn_changed      INTEGER NOT NULL
);
CREATE INDEX ad_users_snapshot ON ad_users(snapshot_id);
CREATE TABLE findings (
	snapshot_id    INTEGER NOT NULL,
	seq            INTEGER NOT NULL,
	scenario       TEXT NOT NULL,
	severity       TEXT NOT NULL,
	upn            TEXT NOT NULL,
	entra_user_id  TEXT NOT NULL,
	okta_user_id   TEXT NOT NULL,
	ad_object_guid TEXT NOT NULL,
	entra_anchor   TEXT NOT NULL,
	okta_anchor    TEXT NOT NULL,
	detail         TEXT NOT NULL,
	UNIQUE (snapshot_id, seq)
);
CREATE INDEX findings_scenario ON findings(snapshot_id, scenario);
CREATE TABLE org_findings (
	snapshot_id INTEGER NOT NULL,
	code        TEXT NOT NULL,
	severity    TEXT NOT NULL,
	explanation TEXT NOT NULL,
	PRIMARY KEY (snapshot_id, code)
) WITHOUT ROWID;
`,
	// 2: apply runs, the plans they ran and the journal of every step.
	`
CREATE TABLE applied_plans (
	seal      TEXT PRIMARY KEY,
	plan_json BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE apply_runs (
	id           INTEGER PRIMARY KEY,
	plan_seal    TEXT NOT NULL,
	tool_version TEXT NOT NULL,
	started_at   TEXT NOT NULL,
	ended_at     TEXT,
	summary      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE journal (
	id           INTEGER PRIMARY KEY,
	run_id       INTEGER NOT NULL REFERENCES apply_runs(id),
	plan_seal    TEXT NOT NULL,
	identity_key TEXT NOT NULL,
	step_index   INTEGER NOT NULL,
	kind         TEXT NOT NULL,
	target       TEXT NOT NULL,
	compensation INTEGER NOT NULL,
	before       TEXT NOT NULL,
	after        TEXT NOT NULL,
	result       TEXT NOT NULL,
	error        TEXT NOT NULL,
	started_at   TEXT NOT NULL,
	ended_at     TEXT
);
CREATE INDEX journal_plan ON journal(plan_seal, identity_key, step_index);
CREATE INDEX journal_run ON journal(run_id);
`,
	// 3: scan checkpoints: per snapshot, source and list, the cursor of the
	// next page, written in the transaction that stores the page.
	`
CREATE TABLE scan_checkpoints (
	snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
	source      TEXT NOT NULL,
	list        TEXT NOT NULL,
	cursor      TEXT NOT NULL,
	PRIMARY KEY (snapshot_id, source, list)
) WITHOUT ROWID;
`,
	// 4: incremental scans: where each source's change feed continues, and
	// whether a run read changes only.
	`
ALTER TABLE source_runs ADD COLUMN sync_state TEXT NOT NULL DEFAULT '{}';
ALTER TABLE source_runs ADD COLUMN incremental INTEGER NOT NULL DEFAULT 0;
`,
}
