import BeamsyncPostgres

/// Whether an execution runner is alive, from PostgreSQL's own view of its sessions. Every runner
/// (the one in `beamsync run`, or the one `beamsync executions create` drives) keeps one control
/// session open with `application_name` = `applicationName` while it runs; its listener and
/// worker sessions use other names, so each runner counts once. `pg_stat_activity` shows every
/// role's `application_name`, so a read-only role can ask too. The status document, the status
/// page and the CLI all ask through `activeRunners()`.
public struct RunnerPresence: Sendable {
    /// The control session of each runner.
    public static let applicationName = "beamsync-runner"
    /// The runner's LISTEN session and its worker pool.
    public static let listenerApplicationName = "beamsync-runner-listener"
    public static let workerApplicationName = "beamsync-runner-worker"

    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    /// Runners connected to this database now.
    public func activeRunners() async throws -> Int {
        try await conn.query("""
            SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()
            """, [.text(Self.applicationName)]).single().int("n")
    }
}
