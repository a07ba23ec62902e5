import BeamsyncPostgres

/// The schema this binary knows, in order. Append only.
public enum BeamsyncMigrations {
    public static let all: [Migration] = [
        Migration(version: 1, name: "core_schema", sql: Migration0001.sql),
        Migration(version: 2, name: "live_version_and_source_status", sql: Migration0002.sql),
        Migration(version: 3, name: "execution_runner", sql: Migration0003.sql),
        Migration(version: 4, name: "inventory_row_versions", sql: Migration0004.sql),
        Migration(version: 6, name: "drift_heartbeats_and_deliveries", sql: Migration0006.sql),
    ]
}

extension Migrator {
    /// The migrator for beamsync's own schema.
    public static var beamsync: Migrator { Migrator(migrations: BeamsyncMigrations.all) }

    /// Runs pending migrations (they take their own lock); only reads when the schema is current.
    public func migrateIfPending(_ conn: PGConnection) async throws {
        if try await !pending(conn).isEmpty { _ = try await migrate(conn) }
    }
}
