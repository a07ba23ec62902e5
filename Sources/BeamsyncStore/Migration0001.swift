/// Migration 1: beampipe-compatible tables plus GitOps bookkeeping.
/// Column names, types and rules of the beampipe tables match beampipe-core-v2 so that a
/// beampipe operator can point beamsync at the same database. UUID columns also default to
/// gen_random_uuid() (PostgreSQL 13+) for convenience; beampipe supplies its own UUIDv7 values.
enum Migration0001 {
    static let sql = """
    CREATE TABLE daliuge_deployment_profile (
        uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        name VARCHAR(50) NOT NULL UNIQUE,
        description VARCHAR(255),
        project_module VARCHAR(50),
        is_default BOOLEAN NOT NULL DEFAULT false,
        translation JSONB NOT NULL DEFAULT '{}',
        deployment JSONB NOT NULL DEFAULT '{}',
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ,
        revision INTEGER NOT NULL DEFAULT 1,
        spec_sha256 VARCHAR(64),
        max_concurrent_executions INTEGER CHECK (max_concurrent_executions > 0)
    );
    CREATE INDEX idx_daliuge_profile_project_default
        ON daliuge_deployment_profile (project_module, is_default);
    -- One default per scope: the global scope (project_module NULL) and each project_module.
    -- The first expression keeps NULL apart from a project literally named ''.
    CREATE UNIQUE INDEX uq_daliuge_profile_single_default
        ON daliuge_deployment_profile ((project_module IS NULL), (COALESCE(project_module, '')))
        WHERE is_default;

    CREATE TABLE project_configs (
        uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id VARCHAR(80) NOT NULL,
        version INTEGER NOT NULL,
        spec JSONB NOT NULL,
        spec_sha256 VARCHAR(64),
        active BOOLEAN NOT NULL DEFAULT true,
        uploaded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        UNIQUE (project_id, version)
    );
    CREATE UNIQUE INDEX uq_project_config_active ON project_configs (project_id) WHERE active;

    CREATE TABLE executions (
        uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        name TEXT NOT NULL UNIQUE,
        project_module VARCHAR(50) NOT NULL,
        -- No ON DELETE, as in beampipe: deleting a profile an execution pins fails with 23503.
        deployment_profile_id UUID REFERENCES daliuge_deployment_profile (uuid),
        deployment_profile_revision INTEGER,
        deployment_profile_snapshot JSONB,
        project_config_id UUID REFERENCES project_configs (uuid),
        source_revision TEXT,
        graph_sha256 TEXT,
        status VARCHAR(32) NOT NULL DEFAULT 'pending' CHECK (status IN
            ('pending', 'running', 'awaiting_scheduler', 'completed', 'failed', 'cancelled',
             'not_submitted', 'retrying')),
        submission_state VARCHAR(32) NOT NULL DEFAULT 'not_started' CHECK (submission_state IN
            ('not_started', 'preparing', 'in_flight', 'submitted', 'uncertain', 'failed')),
        step TEXT,
        daliuge_session_id TEXT,
        slurm_job_id TEXT,
        remote_session_dir TEXT,
        last_error TEXT,
        simulated BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ,
        started_at TIMESTAMPTZ,
        completed_at TIMESTAMPTZ
    );
    CREATE INDEX idx_executions_profile ON executions (deployment_profile_id);
    CREATE INDEX idx_executions_project_config ON executions (project_config_id);
    -- Pollers and prune checks only look at executions that have not finished.
    CREATE INDEX idx_executions_active ON executions (status)
        WHERE status IN ('pending', 'running', 'awaiting_scheduler', 'retrying');

    CREATE TABLE gitops_sources (
        id BIGSERIAL PRIMARY KEY,
        url TEXT NOT NULL,
        branch TEXT NOT NULL,
        path TEXT NOT NULL DEFAULT '',
        last_applied_revision TEXT,
        last_attempted_revision TEXT,
        ready_status TEXT,
        ready_reason TEXT,
        ready_message TEXT,
        suspended BOOLEAN NOT NULL DEFAULT false,
        failures INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TIMESTAMPTZ,
        updated_at TIMESTAMPTZ,
        UNIQUE (url, branch, path)
    );

    -- Inventory of git-managed objects: a row means "git owns this object".
    CREATE TABLE gitops_objects (
        kind TEXT NOT NULL CHECK (kind IN ('DeploymentProfile', 'ProjectConfig', 'Execution')),
        name TEXT NOT NULL,
        source_id BIGINT NULL REFERENCES gitops_sources (id),
        path TEXT,
        blob_id TEXT,
        spec_sha256 TEXT NOT NULL,
        applied_revision TEXT,
        live_hash TEXT,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, name)
    );

    -- Sync history; it outlives a removed source (source_id becomes NULL).
    CREATE TABLE gitops_sync_runs (
        id BIGSERIAL PRIMARY KEY,
        source_id BIGINT NULL REFERENCES gitops_sources (id) ON DELETE SET NULL,
        revision TEXT,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        finished_at TIMESTAMPTZ,
        result TEXT CHECK (result IN ('applied', 'no_op', 'failed', 'superseded')),
        summary JSONB,
        error TEXT
    );
    CREATE INDEX idx_gitops_sync_runs_source ON gitops_sync_runs (source_id, started_at DESC);

    CREATE TABLE audit_events (
        id BIGSERIAL PRIMARY KEY,
        occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        actor TEXT NOT NULL,
        source TEXT,
        action TEXT NOT NULL,
        object_kind TEXT,
        object_name TEXT,
        before_sha256 TEXT,
        after_sha256 TEXT,
        revision TEXT,
        detail JSONB
    );
    CREATE INDEX idx_audit_events_occurred ON audit_events (occurred_at);
    CREATE INDEX idx_audit_events_object ON audit_events (object_kind, object_name);

    -- The audit trail is append-only: UPDATE, DELETE and TRUNCATE raise.
    CREATE FUNCTION beamsync_audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'audit rows are never changed or removed';
    END;
    $$;
    CREATE TRIGGER audit_events_no_update_delete
        BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION beamsync_audit_events_append_only();
    CREATE TRIGGER audit_events_no_truncate
        BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION beamsync_audit_events_append_only();

    -- Plan staleness guard. Every write that apply makes bumps `serial` in the same transaction
    -- (UPDATE ... SET serial = serial + 1). A saved plan records the serial it was computed
    -- against; `apply --plan` locks this row (SELECT ... FOR UPDATE) and refuses when the serial
    -- moved, i.e. the live state changed since planning.
    CREATE TABLE beamsync_plan_serial (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        serial BIGINT NOT NULL DEFAULT 0
    );
    INSERT INTO beamsync_plan_serial (id, serial) VALUES (1, 0);
    """
}
