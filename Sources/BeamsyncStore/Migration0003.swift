/// Migration 3: what the execution runner needs. Graph contents are stored by their SHA-256 so an
/// execution runs exactly the bytes that were committed, even after the repository moves on.
enum Migration0003 {
    static let sql = """
    CREATE TABLE graph_blobs (
        sha256 VARCHAR(64) PRIMARY KEY,
        content BYTEA NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );

    ALTER TABLE executions
        ADD COLUMN graph_path TEXT,
        ADD COLUMN graph_url TEXT,
        ADD COLUMN do_submit BOOLEAN NOT NULL DEFAULT true,
        ADD COLUMN backend TEXT,
        ADD COLUMN cancel_requested_at TIMESTAMPTZ,
        ADD COLUMN next_poll_at TIMESTAMPTZ,
        ADD COLUMN poll_failures INTEGER NOT NULL DEFAULT 0,
        ADD COLUMN daliuge_state TEXT,
        ADD COLUMN failed_drops JSONB,
        ADD COLUMN created_by TEXT;
    CREATE INDEX idx_executions_due ON executions (next_poll_at)
        WHERE status IN ('pending', 'running', 'awaiting_scheduler', 'retrying');

    -- Every step an execution takes, recorded before the external call it leads to.
    CREATE TABLE execution_events (
        id BIGSERIAL PRIMARY KEY,
        execution_id UUID NOT NULL REFERENCES executions (uuid) ON DELETE CASCADE,
        occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        detail JSONB
    );
    CREATE INDEX idx_execution_events_execution ON execution_events (execution_id, id);
    """
}
