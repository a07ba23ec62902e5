/// Migration 5: what the HTTP API v2 needs.
///
/// - `api_tokens`: bearer tokens. Only the SHA-256 of a token is stored, with a public key id
///   (part of the token text) to find the row; the secret part never reaches the database.
/// - `api_idempotency_keys`: the first answer to each `Idempotency-Key` of each token, so a
///   retried `POST /api/v2/executions` gets that answer again instead of a second execution.
/// - `gitops_objects` learns where a managed object lives (repository, branch, subdirectory and
///   line), so a refused API write can say which file to change instead.
/// - A statement trigger on the profile and inventory tables notifies `beamsync_profiles_changed`
///   after every write (beamsync, beampipe, psql), which keeps the API's response cache exact.
enum Migration0005 {
    static let sql = """
    CREATE TABLE api_tokens (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
        key_id TEXT NOT NULL UNIQUE,
        token_sha256 TEXT NOT NULL,
        scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        created_by TEXT NOT NULL,
        expires_at TIMESTAMPTZ,
        revoked_at TIMESTAMPTZ,
        last_used_at TIMESTAMPTZ
    );
    -- A name belongs to one live token; a revoked token's name may be used again.
    CREATE UNIQUE INDEX uq_api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

    CREATE TABLE api_idempotency_keys (
        actor TEXT NOT NULL,
        key TEXT NOT NULL,
        request_sha256 TEXT NOT NULL,
        execution_id UUID REFERENCES executions (uuid) ON DELETE CASCADE,
        response_status INTEGER,
        response_body TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (actor, key)
    );

    ALTER TABLE gitops_objects
        ADD COLUMN source_url TEXT,
        ADD COLUMN source_ref TEXT,
        ADD COLUMN source_subdir TEXT,
        ADD COLUMN line INTEGER;

    CREATE FUNCTION beamsync_notify_profiles_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('beamsync_profiles_changed', '');
        RETURN NULL;
    END;
    $$;
    CREATE TRIGGER daliuge_deployment_profile_notify
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON daliuge_deployment_profile
        FOR EACH STATEMENT EXECUTE FUNCTION beamsync_notify_profiles_changed();
    CREATE TRIGGER gitops_objects_notify
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gitops_objects
        FOR EACH STATEMENT EXECUTE FUNCTION beamsync_notify_profiles_changed();
    """
}
