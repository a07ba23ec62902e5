import BeamsyncPostgres

/// The schema this binary knows, in order. Append only.
public enum BeamsyncMigrations {
    public static let all: [Migration] = [
        Migration(version: 1, name: "core_schema", sql: Migration0001.sql),
        Migration(version: 2, name: "live_version_and_source_status", sql: Migration0002.sql),
        Migration(version: 3, name: "execution_runner", sql: Migration0003.sql),
        Migration(version: 4, name: "inventory_row_versions", sql: Migration0004.sql),
        Migration(version: 5, name: "http_api", sql: Migration0005.sql),
        Migration(version: 6, name: "drift_heartbeats_and_deliveries", sql: Migration0006.sql),
        Migration(version: 8, name: "admission_and_slurm", sql: Migration0008.sql),
        Migration(version: 9, name: "live_version_slots", sql: Migration0009.sql),
        Migration(version: 10, name: "profile_notices_after_commit", sql: Migration0010.sql),
    ]
}

extension Migrator {
    /// The migrator for beamsync's own schema.
    public static var beamsync: Migrator { Migrator(migrations: BeamsyncMigrations.all) }

    /// Runs pending migrations (they take their own lock); only reads when the schema is current.
    /// For the commands that may change the schema: apply, run, migrate, executions create and cancel.
    public func migrateIfPending(_ conn: PGConnection) async throws {
        if try await !pending(conn).isEmpty { _ = try await migrate(conn) }
    }

    /// For the commands that only read (plan, status, executions list and show, sources list):
    /// true when the schema is current, false when it was never created; an older schema is
    /// reported (`SchemaOutdated`), never migrated.
    public func readableSchema(_ conn: PGConnection) async throws -> Bool {
        switch try await state(conn) {
        case .current: return true
        case .absent: return false
        case let .outdated(version, latest): throw SchemaOutdated(version: version, latest: latest)
        }
    }
}

/// A command that only reads met a schema older than this binary's.
public struct SchemaOutdated: Error, Sendable, Equatable, CustomStringConvertible {
    public var version: Int
    public var latest: Int

    public init(version: Int, latest: Int) {
        self.version = version
        self.latest = latest
    }

    public var description: String {
        "the database's beamsync schema is at version \(version) and this beamsync needs version \(latest); commands that only read "
            + "never migrate it: run `beamsync migrate` (or `beamsync apply` or `beamsync run`, which migrate) with a role that may create tables"
    }
}
