import BeamsyncModel
import BeamsyncPostgres
import Foundation

/// Counts for the status document: what git manages, and where executions stand.
public struct StatusQueries: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    /// Managed objects per kind (`gitops_objects.kind`).
    public func inventoryCounts() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try await conn.query("SELECT kind, count(*) AS n FROM gitops_objects GROUP BY kind", name: "inventory counts").rows {
            counts[try row.string("kind")] = try row.int("n")
        }
        return counts
    }

    /// Executions per status.
    public func executionCounts() async throws -> [ExecutionStatus: Int] {
        var counts: [ExecutionStatus: Int] = [:]
        for row in try await conn.query("SELECT status, count(*) AS n FROM executions GROUP BY status", name: "execution counts").rows {
            if let status = ExecutionStatus(rawValue: try row.string("status")) { counts[status] = try row.int("n") }
        }
        return counts
    }
}

extension StatusQueries {
    /// The database's clock: every replica and the CLI judge staleness against the same one.
    public func databaseNow() async throws -> Date {
        try await conn.query("SELECT now() AS now", name: "now").single().date("now")
    }
}
