import BeamsyncPostgres

/// Whether an execution runner is connected to this database. Each runner that works through the
/// whole ledger (`beamsync run`) keeps one session open under the application name
/// `beamsync-runner` (its LISTEN connection); `pg_stat_activity` shows every session's
/// application name to every role, so a read-only CLI can tell without a heartbeat table.
/// A connection pooler in transaction mode hides sessions: then the answer is "none".
public struct RunnerPresence: Sendable {
    /// The application name of a runner's long-lived session.
    public static let applicationName = "beamsync-runner"
    /// The application name of a runner limited to one execution (a foreground `executions create`);
    /// it does not count as a runner for the others.
    public static let foregroundApplicationName = "beamsync-runner-foreground"

    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    /// How many runners are connected to the current database.
    public func activeRunners() async throws -> Int {
        try await conn.query("""
            SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1
            """, [.text(Self.applicationName)], name: "active runners").single().int("n")
    }
}
