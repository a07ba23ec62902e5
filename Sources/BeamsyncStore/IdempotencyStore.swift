import BeamsyncPostgres
import Foundation

/// The first answer to one `Idempotency-Key` of one caller.
public struct IdempotentAnswer: Sendable, Hashable {
    public var requestSHA256: String
    public var status: Int
    public var body: String
}

/// `api_idempotency_keys`. Use inside the transaction that does the work: `claim` inserts the
/// key first, so a second request with the same key waits on it until the first commits and
/// then reads the first answer; a failed first attempt rolls its key back with everything else.
public struct IdempotencyStore: Sendable {
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    public enum Claim: Sendable, Hashable {
        /// The key is new: do the work, then `record` the answer.
        case claimed
        /// The key was used before, for this request: here is its first answer.
        case replay(IdempotentAnswer)
        /// The key was used before for a different request.
        case mismatch
    }

    public func claim(actor: String, key: String, requestSHA256: String) async throws -> Claim {
        let inserted = try await conn.query("""
            INSERT INTO api_idempotency_keys (actor, key, request_sha256) VALUES ($1, $2, $3)
            ON CONFLICT (actor, key) DO NOTHING RETURNING key
            """, [.text(actor), .text(key), .text(requestSHA256)], name: "claim idempotency key")
        if !inserted.isEmpty { return .claimed }
        let row = try await conn.query("""
            SELECT request_sha256, response_status, response_body FROM api_idempotency_keys WHERE actor = $1 AND key = $2
            """, [.text(actor), .text(key)], name: "read idempotency key").single()
        let sha = try row.string("request_sha256")
        guard sha == requestSHA256 else { return .mismatch }
        guard let status = try row.optionalInt("response_status"), let body = try row.optionalString("response_body") else {
            // Only possible for a row written outside this code: treat it as a different request.
            return .mismatch
        }
        return .replay(IdempotentAnswer(requestSHA256: sha, status: status, body: body))
    }

    public func record(actor: String, key: String, executionID: UUID, status: Int, body: String) async throws {
        try await conn.query("""
            UPDATE api_idempotency_keys SET execution_id = $3, response_status = $4, response_body = $5 WHERE actor = $1 AND key = $2
            """, [.text(actor), .text(key), .uuid(executionID), .int(status), .text(body)], name: "record idempotent answer")
    }
}
