import BeamsyncPostgres
import Foundation

/// What a bearer token may do. Ordered: each scope includes the ones before it.
public enum TokenScope: String, Sendable, Codable, CaseIterable, Comparable {
    /// Every GET: profiles, executions, status.
    case read
    /// Also create and cancel executions.
    case write
    /// Also create, change and delete deployment profiles (beampipe reserves these for superusers).
    case admin

    public static func < (a: TokenScope, b: TokenScope) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One row of `api_tokens`. The token itself is never stored; `tokenSHA256` is its SHA-256.
public struct APITokenRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String
    /// The public part of the token that finds this row (`bst_<key id>_<secret>`).
    public var keyID: String
    public var tokenSHA256: String
    public var scope: TokenScope
    public var createdAt: Date
    public var createdBy: String
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, scope
        case keyID = "key_id", createdAt = "created_at", createdBy = "created_by", expiresAt = "expires_at"
        case revokedAt = "revoked_at", lastUsedAt = "last_used_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int64.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        keyID = try c.decode(String.self, forKey: .keyID)
        tokenSHA256 = ""
        scope = try c.decode(TokenScope.self, forKey: .scope)
        createdAt = try c.decode(Date.self, forKey: .createdAt)
        createdBy = try c.decode(String.self, forKey: .createdBy)
        expiresAt = try c.decodeIfPresent(Date.self, forKey: .expiresAt)
        revokedAt = try c.decodeIfPresent(Date.self, forKey: .revokedAt)
        lastUsedAt = try c.decodeIfPresent(Date.self, forKey: .lastUsedAt)
    }

    /// Everything but the hash, which stays in the database.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(keyID, forKey: .keyID)
        try c.encode(scope, forKey: .scope)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(revokedAt, forKey: .revokedAt)
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
    }

    init(row: PGRow) throws {
        id = try row.int64("id")
        name = try row.string("name")
        keyID = try row.string("key_id")
        tokenSHA256 = try row.string("token_sha256")
        let scopeText = try row.string("scope")
        guard let scope = TokenScope(rawValue: scopeText) else { throw PostgresError.decoding("api_tokens.scope holds an unknown scope") }
        self.scope = scope
        createdAt = try row.date("created_at")
        createdBy = try row.string("created_by")
        expiresAt = try row.optionalDate("expires_at")
        revokedAt = try row.optionalDate("revoked_at")
        lastUsedAt = try row.optionalDate("last_used_at")
    }
}

public enum TokenStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case nameTaken(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .nameTaken(let n): "a token named '\(n)' exists already; revoke it first (beamsync token revoke \(n)) or pick another name"
        case .notFound(let n): "no live token named '\(n)' (see beamsync token list)"
        }
    }
}

/// `api_tokens`: creation, listing, revocation. Creating or revoking a token notifies
/// `beamsync_api_tokens`, so running servers reload their token table at once.
public struct TokenStore: Sendable {
    public static let changeChannel = "beamsync_api_tokens"
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    private static let columns = "id, name, key_id, token_sha256, scope, created_at, created_by, expires_at, revoked_at, last_used_at"

    public func create(name: String, keyID: String, tokenSHA256: String, scope: TokenScope, createdBy: String,
                       expiresAt: Date?) async throws -> APITokenRecord {
        do {
            return try await conn.transaction { conn in
                let row = try await conn.query("""
                    INSERT INTO api_tokens (name, key_id, token_sha256, scope, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
                    RETURNING \(Self.columns)
                    """, [.text(name), .text(keyID), .text(tokenSHA256), .text(scope.rawValue), .text(createdBy), expiresAt.map(PGValue.timestamp)],
                    name: "create token").single()
                try await conn.notify(Self.changeChannel)
                return try APITokenRecord(row: row)
            }
        } catch let error as PostgresError where error.isUniqueViolation && error.constraint == "uq_api_tokens_live_name" {
            throw TokenStoreError.nameTaken(name)
        }
    }

    /// Newest first; revoked tokens only when asked for.
    public func list(includeRevoked: Bool = false) async throws -> [APITokenRecord] {
        try await conn.query("SELECT \(Self.columns) FROM api_tokens WHERE $1 OR revoked_at IS NULL ORDER BY created_at DESC, id DESC",
                             [.bool(includeRevoked)], name: "list tokens").rows.map(APITokenRecord.init(row:))
    }

    /// Every token, revoked ones included (the server tells a revoked token from an unknown one).
    public func all() async throws -> [APITokenRecord] {
        try await conn.query("SELECT \(Self.columns) FROM api_tokens", name: "load tokens").rows.map(APITokenRecord.init(row:))
    }

    public func find(keyID: String) async throws -> APITokenRecord? {
        try await conn.query("SELECT \(Self.columns) FROM api_tokens WHERE key_id = $1", [.text(keyID)], name: "find token")
            .first.map(APITokenRecord.init(row:))
    }

    @discardableResult
    public func revoke(name: String) async throws -> APITokenRecord {
        try await conn.transaction { conn in
            guard let row = try await conn.query("""
                UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING \(Self.columns)
                """, [.text(name)], name: "revoke token").first else { throw TokenStoreError.notFound(name) }
            try await conn.notify(Self.changeChannel)
            return try APITokenRecord(row: row)
        }
    }

    /// Records when tokens were last used (batched by the server, not one write per request).
    public func touch(ids: [Int64], at date: Date) async throws {
        guard !ids.isEmpty else { return }
        try await conn.query("UPDATE api_tokens SET last_used_at = $2 WHERE id = ANY($1::bigint[])",
                             [.text("{" + ids.map(String.init).joined(separator: ",") + "}"), .timestamp(date)], name: "touch tokens")
    }
}
