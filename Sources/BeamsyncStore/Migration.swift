import BeamsyncModel

/// One forward-only schema step. Never edit an applied migration's SQL: the Migrator refuses
/// to run when the stored checksum differs. Add a new migration instead.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// SHA-256 hex of the SQL text's UTF-8 bytes, stored when applied.
    public var checksum: String { SHA256Digest.hex(Array(sql.utf8)) }
}

/// The schema this binary knows, in order. Append only.
public enum BeamsyncMigrations {
    public static let all: [Migration] = [
        Migration(version: 1, name: "core_schema", sql: Migration0001.sql),
        Migration(version: 2, name: "live_version_and_source_status", sql: Migration0002.sql),
        Migration(version: 3, name: "execution_runner", sql: Migration0003.sql),
        Migration(version: 4, name: "inventory_row_versions", sql: Migration0004.sql),
    ]
}
