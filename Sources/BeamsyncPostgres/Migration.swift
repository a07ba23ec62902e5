import Crypto

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
    public var checksum: String {
        SHA256.hash(data: Array(sql.utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
    }
}
