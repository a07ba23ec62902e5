import BeamsyncPostgres

/// Whether an execution runner is alive, from PostgreSQL's own view of its sessions. Every runner
/// that works through the whole ledger (`beamsync run`) keeps one control session open with
/// `application_name` = `applicationName` while it runs; its listener and worker sessions use
/// other names, so each runner counts once, and a runner limited to one execution (a foreground
/// `executions create`) uses `foregroundApplicationName`, so it does not count as a runner for the
/// others. `pg_stat_activity` shows every role's `application_name`, so a read-only role can ask
/// too; the status document, the status page and the CLI all ask through `activeRunners()`. A
/// connection pooler in transaction mode hides sessions: then the answer is "none".
public struct RunnerPresence: Sendable {
    /// The control session of each runner.
    public static let applicationName = "beamsync-runner"
    /// The control session of a runner limited to one execution.
    public static let foregroundApplicationName = "beamsync-runner-foreground"
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
            """, [.text(Self.applicationName)], name: "active runners").single().int("n")
    }
}
