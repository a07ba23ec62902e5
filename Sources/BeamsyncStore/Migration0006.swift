/// Migration 6: status people can trust.
///
/// - Drift as state: `gitops_drift` holds the managed objects that differ from git because of a
///   change made outside it, as found by the last reconcile of their source that planned; the
///   source row keeps the count and when the Drifted condition last changed.
/// - Heartbeats: each controller replica records its identity and last loop; the leader records
///   each pass over a source, so a stopped controller shows as stale.
/// - Sync runs say what started them; webhook deliveries are kept (the newest 100).
/// (The line of each document, for `file:line` on the status page, comes with migration 5.)
enum Migration0006 {
    static let sql = """
    CREATE TABLE gitops_drift (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        source_id BIGINT NOT NULL REFERENCES gitops_sources (id) ON DELETE CASCADE,
        -- Dotted field paths that differ from what beamsync applied (empty when unknown).
        fields JSONB NOT NULL DEFAULT '[]',
        -- When this drift was first seen, and at which revision; kept while it lasts.
        detected_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        revision TEXT,
        PRIMARY KEY (kind, name),
        FOREIGN KEY (kind, name) REFERENCES gitops_objects (kind, name) ON DELETE CASCADE
    );
    CREATE INDEX idx_gitops_drift_source ON gitops_drift (source_id);

    ALTER TABLE gitops_sources
        ADD COLUMN ready_transition_at TIMESTAMPTZ,
        ADD COLUMN drift_count INTEGER,
        ADD COLUMN drift_checked_at TIMESTAMPTZ,
        ADD COLUMN drift_transition_at TIMESTAMPTZ,
        ADD COLUMN last_reconciled_at TIMESTAMPTZ,
        ADD COLUMN reconciled_by TEXT,
        ADD COLUMN poll_interval_ms BIGINT,
        ADD COLUMN applied_subject TEXT,
        ADD COLUMN applied_committed_at TIMESTAMPTZ,
        ADD COLUMN attempted_subject TEXT,
        ADD COLUMN attempted_committed_at TIMESTAMPTZ;

    ALTER TABLE gitops_sync_runs
        ADD COLUMN trigger TEXT CHECK (trigger IN ('start', 'poll', 'webhook', 'manual'));

    CREATE TABLE gitops_controllers (
        identity TEXT PRIMARY KEY,
        started_at TIMESTAMPTZ NOT NULL,
        heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        leader BOOLEAN NOT NULL DEFAULT false,
        poll_interval_ms BIGINT NOT NULL
    );

    CREATE TABLE gitops_webhook_deliveries (
        id BIGSERIAL PRIMARY KEY,
        received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        provider TEXT NOT NULL,
        result TEXT NOT NULL,
        http_status INTEGER NOT NULL,
        event TEXT,
        delivery TEXT,
        message TEXT
    );
    """
}
