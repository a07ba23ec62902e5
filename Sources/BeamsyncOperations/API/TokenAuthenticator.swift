import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTime
import Foundation

/// The caller a request was authenticated as.
public struct AuthenticatedToken: Sendable, Hashable {
    public var id: Int64
    public var name: String
    public var scope: TokenScope

    /// How the audit trail and the ledger name this caller.
    public var actor: AuditActor { AuditActor(name: "token:\(name)") }
}

/// Why a request is not authenticated (HTTP 401). The message never repeats the token.
public enum AuthenticationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case missing
    case malformed
    case unknown
    case expired(Date)
    case revoked

    public var description: String {
        switch self {
        case .missing: "this endpoint needs a token: send Authorization: Bearer <token> (create one with `beamsync token create`)"
        case .malformed: "the Authorization header must be `Bearer <token>` with a token made by `beamsync token create`"
        case .unknown: "the token is not valid"
        case .expired(let at): "the token expired at \(UTCTimestamp(at).iso8601()); create a new one with `beamsync token create`"
        case .revoked: "the token was revoked"
        }
    }
}

/// Checks bearer tokens against an in-memory copy of `api_tokens`, so a request costs no
/// database round trip. The copy is reloaded when `beamsync_api_tokens` is notified (token
/// create and revoke send it) and periodically; a key id it does not know yet is looked up once
/// (at most `missLookupsPerSecond` such look-ups, so random tokens cannot flood the database).
/// The hash of the presented token is compared in constant time.
public final class TokenAuthenticator: @unchecked Sendable {
    private let lock = NSLock()
    private var byKeyID: [String: APITokenRecord] = [:]
    private var used: Set<Int64> = []
    private var missWindow = (start: Date.distantPast, count: 0)
    public let missLookupsPerSecond: Int
    private let lookup: (@Sendable (String) async throws -> APITokenRecord?)?

    /// `lookup` finds one token by key id in the database (nil: never look up).
    public init(missLookupsPerSecond: Int = 10, lookup: (@Sendable (String) async throws -> APITokenRecord?)? = nil) {
        self.missLookupsPerSecond = missLookupsPerSecond
        self.lookup = lookup
    }

    public func replaceAll(_ records: [APITokenRecord]) {
        var table: [String: APITokenRecord] = [:]
        for r in records { table[r.keyID] = r }
        lock.withLock { byKeyID = table }
    }

    public var count: Int { lock.withLock { byKeyID.count } }

    /// Token ids used since the last call (for `last_used_at`).
    public func drainUsed() -> [Int64] {
        lock.withLock {
            let ids = Array(used)
            used.removeAll()
            return ids
        }
    }

    /// Checks an `Authorization` header value.
    public func authenticate(authorization: String?, now: Date = Date()) async -> Result<AuthenticatedToken, AuthenticationFailure> {
        guard let authorization, !authorization.isEmpty else { return .failure(.missing) }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return .failure(.malformed) }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard let keyID = TokenService.keyID(of: token) else { return .failure(.unknown) }
        var record = lock.withLock { byKeyID[keyID] }
        if record == nil, let lookup, takeMissLookup(now: now) {
            record = try? await lookup(keyID)
            if let record { lock.withLock { byKeyID[keyID] = record } }
        }
        // The hash is computed and compared whether or not the key id is known, in constant time.
        let presented = Array(SHA256Digest.hex(Array(token.utf8)).utf8)
        let stored = Array((record?.tokenSHA256 ?? String(repeating: "0", count: 64)).utf8)
        guard Self.constantTimeEqual(presented, stored), let record else { return .failure(.unknown) }
        if record.revokedAt != nil { return .failure(.revoked) }
        if let expires = record.expiresAt, expires <= now { return .failure(.expired(expires)) }
        lock.withLock { _ = used.insert(record.id) }
        return .success(AuthenticatedToken(id: record.id, name: record.name, scope: record.scope))
    }

    private func takeMissLookup(now: Date) -> Bool {
        lock.withLock {
            if now.timeIntervalSince(missWindow.start) >= 1 { missWindow = (now, 0) }
            guard missWindow.count < missLookupsPerSecond else { return false }
            missWindow.count += 1
            return true
        }
    }

    /// No early exit: the time taken does not depend on where the inputs differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
