import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// A token just created: the only moment its text exists outside the caller's hands.
public struct IssuedToken: Sendable {
    public var record: APITokenRecord
    /// `bst_<key id>_<secret>`; shown once, never stored.
    public var token: String
}

public enum TokenServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidName(String)
    case invalidExpiry(String)

    public var description: String {
        switch self {
        case .invalidName(let n):
            "token name '\(n)' is not allowed; use 1-64 ASCII letters, digits, '.', '_' or '-' (e.g. ci-deploy)"
        case .invalidExpiry(let e):
            "--expires '\(e)' is not a duration; write e.g. 90d, 12h or 30m (or leave it out for a token that does not expire)"
        }
    }
}

/// Creating, listing and revoking API tokens (`beamsync token`). A token is
/// `bst_<12-character key id>_<43-character secret>`: 256 random bits, of which only the SHA-256
/// of the whole text is stored; the key id finds the row without searching by the secret.
public struct TokenService: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    public static let prefix = "bst_"

    public func create(name: String, scope: TokenScope, expiresIn: Duration?, actor: AuditActor, now: Date = Date()) async throws -> IssuedToken {
        guard Self.validName(name) else { throw TokenServiceError.invalidName(name) }
        let (token, keyID) = Self.generate()
        let expires = expiresIn.map { now.addingTimeInterval(Double($0.components.seconds)) }
        let record = try await TokenStore(conn: conn).create(name: name, keyID: keyID, tokenSHA256: SHA256Digest.hex(Array(token.utf8)),
                                                             scope: scope, createdBy: actor.name, expiresAt: expires)
        return IssuedToken(record: record, token: token)
    }

    public func list(includeRevoked: Bool = false) async throws -> [APITokenRecord] {
        try await TokenStore(conn: conn).list(includeRevoked: includeRevoked)
    }

    @discardableResult
    public func revoke(name: String) async throws -> APITokenRecord {
        try await TokenStore(conn: conn).revoke(name: name)
    }

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
        }
    }

    /// `90d`, `12h`, `30m`, `45s`.
    public static func parseExpiry(_ text: String) throws -> Duration {
        let units: [(Character, Int64)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
        for (unit, seconds) in units where text.last == unit {
            if let n = Int64(text.dropLast()), n > 0, n <= 100 * 365 * 86_400 / seconds { return .seconds(n * seconds) }
        }
        throw TokenServiceError.invalidExpiry(text)
    }

    /// A fresh token and its key id.
    static func generate() -> (token: String, keyID: String) {
        var rng = SystemRandomNumberGenerator()
        let keyAlphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
        let keyID = String(decoding: (0..<12).map { _ in keyAlphabet[Int(rng.next(upperBound: UInt32(keyAlphabet.count)))] }, as: UTF8.self)
        var secret = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 { secret[i] = UInt8(truncatingIfNeeded: rng.next()) }
        return (prefix + keyID + "_" + base64URL(secret), keyID)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The key id of a token's text, nil when it does not have the token's shape.
    static func keyID(of token: String) -> String? {
        let bytes = Array(token.utf8)
        guard bytes.count == 4 + 12 + 1 + 43, token.hasPrefix(prefix), bytes[16] == UInt8(ascii: "_") else { return nil }
        return String(decoding: bytes[4..<16], as: UTF8.self)
    }
}
