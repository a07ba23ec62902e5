/// Migration 2: a cheap "did anything change?" signal for the controller, and source bookkeeping.
/// Every statement that writes profiles or project configs — from beamsync, beampipe's API or psql —
/// bumps `beamsync_live_version`, so an unchanged commit with an unchanged version needs no work.
enum Migration0002 {
    static let sql = """
    CREATE TABLE beamsync_live_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version BIGINT NOT NULL DEFAULT 0
    );
    INSERT INTO beamsync_live_version (id, version) VALUES (1, 0);

    CREATE FUNCTION beamsync_bump_live_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE beamsync_live_version SET version = version + 1 WHERE id = 1;
        RETURN NULL;
    END;
    $$;
    CREATE TRIGGER daliuge_deployment_profile_live_version
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON daliuge_deployment_profile
        FOR EACH STATEMENT EXECUTE FUNCTION beamsync_bump_live_version();
    CREATE TRIGGER project_configs_live_version
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON project_configs
        FOR EACH STATEMENT EXECUTE FUNCTION beamsync_bump_live_version();

    ALTER TABLE gitops_sources
        ADD COLUMN last_live_version BIGINT,
        ADD COLUMN last_applied_at TIMESTAMPTZ,
        ADD COLUMN reconcile_requested_at TIMESTAMPTZ;
    """
}
