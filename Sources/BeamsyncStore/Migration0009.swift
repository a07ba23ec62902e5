/// Migration 9: the live version without a queue.
///
/// Migration 2 counted writes in one row, so every transaction that wrote a profile held that
/// row's lock from its write to its commit, and concurrent API writes committed one at a time.
/// The counter is now spread over 64 slots: a statement bumps the slot of its server process,
/// and the version is the sum of the slots. The sum is read in one snapshot like the row was, so
/// "the version did not move" still means "no write committed in between"; writers on different
/// slots never wait for each other.
enum Migration0009 {
    static let slots = 64

    static let sql = """
    ALTER TABLE beamsync_live_version DROP CONSTRAINT beamsync_live_version_id_check;
    ALTER TABLE beamsync_live_version ADD CONSTRAINT beamsync_live_version_slot CHECK (id BETWEEN 1 AND \(slots));
    INSERT INTO beamsync_live_version (id, version) SELECT slot, 0 FROM generate_series(2, \(slots)) AS slot;

    -- One process keeps one slot, so a session's own writes never wait on themselves either.
    CREATE FUNCTION beamsync_live_version_slot() RETURNS integer LANGUAGE sql STABLE AS $$
        SELECT 1 + pg_backend_pid() % \(slots)
    $$;

    CREATE OR REPLACE FUNCTION beamsync_bump_live_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE beamsync_live_version SET version = version + 1 WHERE id = beamsync_live_version_slot();
        RETURN NULL;
    END;
    $$;
    """

    /// The version: the sum of the slots, read in one snapshot.
    static let readVersion = "SELECT sum(version)::bigint AS version FROM beamsync_live_version"
}
