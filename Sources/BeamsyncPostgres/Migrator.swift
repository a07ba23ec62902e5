/// Applies `Migration`s in version order, each in its own transaction, recording them in
/// `beamsync_schema_migrations`. The whole run holds a session advisory lock, so two processes
/// migrating at once serialise: the second finds nothing left to do.
public struct Migrator: Sendable {
    /// Name of the advisory lock (key = hashtextextended(name, 0)).
    public static let lockName = "beamsync:schema-migrations"

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        for (previous, next) in zip(migrations, migrations.dropFirst()) {
            precondition(previous.version < next.version, "migrations must be in strictly increasing version order")
        }
        self.migrations = migrations
    }

    public struct AppliedMigration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let checksum: String
    }

    /// Brings the database to the latest known version; returns the migrations it applied
    /// (empty when already current). Throws `MigrationError` before changing anything when the
    /// database disagrees with this binary.
    @discardableResult
    public func migrate(_ conn: PGConnection) async throws -> [Migration] {
        try await conn.withAdvisoryLock(named: Self.lockName) { conn in
            try await conn.execute(Self.createTable, name: "create beamsync_schema_migrations")
            let pending = try check(applied: try await Self.applied(conn))
            for migration in pending {
                try await conn.transaction { tx in
                    try await tx.execute(migration.sql, name: "migration \(migration.version) \(migration.name)")
                    try await tx.query(
                        "INSERT INTO beamsync_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [.int(migration.version), .text(migration.name), .text(migration.checksum)],
                        name: "record migration \(migration.version)")
                }
            }
            return pending
        }
    }

    /// The migrations not yet applied; throws like `migrate` when the database disagrees.
    /// Read-only; a database never migrated simply has every migration pending.
    public func pending(_ conn: PGConnection) async throws -> [Migration] {
        let exists = try await conn.query("SELECT to_regclass('beamsync_schema_migrations') IS NOT NULL AS ok")
            .single().bool("ok")
        return try check(applied: exists ? try await Self.applied(conn) : [])
    }

    /// Where the database stands, read-only: nothing applied yet, current, or behind this binary.
    /// Throws like `migrate` when the database is newer or its history disagrees.
    public func state(_ conn: PGConnection) async throws -> SchemaState {
        let pending = try await pending(conn)
        if pending.isEmpty { return .current }
        if pending.count == migrations.count { return .absent }
        let waiting = Set(pending.map(\.version))
        let applied = migrations.map(\.version).filter { !waiting.contains($0) }.max() ?? 0
        return .outdated(version: applied, latest: migrations.last?.version ?? 0)
    }

    /// What the database records as applied, in version order.
    public static func applied(_ conn: PGConnection) async throws -> [AppliedMigration] {
        try await conn.query("SELECT version, name, checksum FROM beamsync_schema_migrations ORDER BY version")
            .rows.map { AppliedMigration(version: try $0.int("version"), name: try $0.string("name"),
                                         checksum: try $0.string("checksum")) }
    }

    /// Compares the database's history with this binary's list and returns what is pending.
    func check(applied: [AppliedMigration]) throws -> [Migration] {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        let latest = migrations.last?.version ?? 0
        for record in applied {
            guard let migration = known[record.version] else {
                throw MigrationError.databaseNewer(version: record.version, name: record.name, latestKnown: latest)
            }
            if migration.checksum != record.checksum {
                throw MigrationError.checksumMismatch(version: record.version, name: record.name,
                                                      recorded: record.checksum, expected: migration.checksum)
            }
        }
        let done = Set(applied.map(\.version))
        return migrations.filter { !done.contains($0.version) }
    }

    static let createTable = """
    CREATE TABLE IF NOT EXISTS beamsync_schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        checksum VARCHAR(64) NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """
}

/// How a database's schema compares with the migrations a binary carries.
public enum SchemaState: Sendable, Equatable {
    /// No migration applied: a database that was never migrated.
    case absent
    case current
    /// Some migrations applied, later ones not yet.
    case outdated(version: Int, latest: Int)
}

public enum MigrationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An applied migration's SQL no longer matches what this binary carries.
    case checksumMismatch(version: Int, name: String, recorded: String, expected: String)
    /// The database was migrated by a newer beamsync.
    case databaseNewer(version: Int, name: String, latestKnown: Int)

    public var description: String {
        switch self {
        case let .checksumMismatch(version, name, recorded, expected):
            return "schema migration \(version) (\(name)) was applied with checksum \(recorded), but this beamsync "
                + "carries checksum \(expected) for it; migrations are forward-only and must not be edited after "
                + "release. Refusing to migrate: ship the change as a new migration."
        case let .databaseNewer(version, name, latestKnown):
            return "the database has schema migration \(version) (\(name)), newer than this beamsync knows "
                + "(latest \(latestKnown)); refusing to run against it: upgrade beamsync to a release that "
                + "includes migration \(version)."
        }
    }
}
