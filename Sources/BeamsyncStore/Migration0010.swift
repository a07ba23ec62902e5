/// Migration 10: profile change notices that do not serialize the writers who announce their own.
///
/// Migration 5's statement trigger notifies `beamsync_profiles_changed` from every transaction that
/// writes a profile or the inventory. PostgreSQL lets one notifying transaction commit at a time,
/// so concurrent API writes queued on that lock (`Lock:object` waits). A session started with
/// `ProfileChangeNotices.announcedAfterCommit` now skips the trigger's notification: its writer
/// sends one (coalesced) notification after the commit instead. Every other session (apply,
/// beampipe, psql) notifies from the trigger as before.
enum Migration0010 {
    // Literal text: a migration's checksum is recorded, so it must not follow later renames of
    // `ProfileChangeNotices` (its tests fail if the two disagree).
    static let sql = """
    CREATE OR REPLACE FUNCTION beamsync_notify_profiles_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF coalesce(current_setting('beamsync.profile_notices', true), '') <> 'after_commit' THEN
            PERFORM pg_notify('beamsync_profiles_changed', '');
        END IF;
        RETURN NULL;
    END;
    $$;
    """
}

/// How writers of profiles and the inventory tell every replica's API cache about their change.
public enum ProfileChangeNotices {
    /// The channel every API change feed listens on.
    public static let channel = "beamsync_profiles_changed"
    static let setting = "beamsync.profile_notices"
    static let afterCommitValue = "after_commit"

    /// Connection overrides for a session whose writer announces its own writes after they commit
    /// (the trigger then stays silent). Whoever writes through such a session must announce, or
    /// other replicas see the change only at their next live-version check.
    public static let announcedAfterCommit: [String: String] = ["options": "-c \(setting)=\(afterCommitValue)"]

    /// The statement that announces committed writes.
    public static let announceSQL = "SELECT pg_notify('\(channel)', '')"
}
