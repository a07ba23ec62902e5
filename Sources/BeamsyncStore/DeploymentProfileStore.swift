import BeamsyncModel
import BeamsyncPostgres

/// Reads single deployment profiles (for commands that act on one, like `slurm ping`).
public struct DeploymentProfileStore: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    /// The profile named `name`, decoded with the same rules as a document; nil when there is none.
    public func profile(named name: String) async throws -> DeploymentProfile? {
        guard let row = try await conn.query("SELECT \(ExecutionLedger.snapshotSQL)::text AS snapshot FROM daliuge_deployment_profile p WHERE p.name = $1",
                                             [.text(name)]).first else { return nil }
        return try ProfileSnapshot.decode(try JSONValue.parse(try row.string("snapshot")))
    }
}
