import BeamsyncPostgres
import Foundation

/// One webhook request as the controller answered it. Never holds a signature, token or body.
public struct WebhookDelivery: Sendable, Codable, Equatable {
    public var receivedAt: Date?
    /// `github`, `gitlab` or `generic`.
    public var provider: String
    /// `accepted`, `rejected`, `disabled` or `too_large`.
    public var result: String
    public var httpStatus: Int
    /// The provider's event name (`X-GitHub-Event`, `X-Gitlab-Event`), when sent.
    public var event: String?
    /// The provider's delivery id (`X-GitHub-Delivery`), when sent.
    public var delivery: String?
    /// Why a delivery was refused (never the secret or what was compared with it).
    public var message: String?

    public init(receivedAt: Date? = nil, provider: String, result: String, httpStatus: Int, event: String? = nil,
                delivery: String? = nil, message: String? = nil) {
        self.receivedAt = receivedAt
        self.provider = provider
        self.result = result
        self.httpStatus = httpStatus
        self.event = event.map { Self.clip($0) }
        self.delivery = delivery.map { Self.clip($0) }
        self.message = message.map { Self.clip($0, to: 300) }
    }

    /// Header values come from anyone who can reach the endpoint: kept short.
    static func clip(_ s: String, to limit: Int = 100) -> String {
        s.count <= limit ? s : String(s.prefix(limit - 1)) + "…"
    }

    enum CodingKeys: String, CodingKey {
        case provider, result, event, delivery, message
        case receivedAt = "received_at", httpStatus = "http_status"
    }
}

/// The newest webhook deliveries (`gitops_webhook_deliveries`), kept to `limit` rows.
public struct WebhookDeliveryLog: Sendable {
    /// Rows kept; older ones are deleted as new ones arrive.
    public static let limit = 100

    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    public func record(_ d: WebhookDelivery) async throws {
        _ = try await conn.pipeline([
            ("""
             INSERT INTO gitops_webhook_deliveries (provider, result, http_status, event, delivery, message)
             VALUES ($1, $2, $3, $4, $5, $6)
             """, [.text(d.provider), .text(d.result), .int(d.httpStatus), d.event.map(PGValue.text), d.delivery.map(PGValue.text),
                   d.message.map(PGValue.text)]),
            ("DELETE FROM gitops_webhook_deliveries WHERE id <= (SELECT max(id) FROM gitops_webhook_deliveries) - $1",
             [.int(Self.limit)]),
        ])
    }

    /// Newest first.
    public func recent(limit: Int = 20) async throws -> [WebhookDelivery] {
        try await conn.query("""
            SELECT received_at, provider, result, http_status, event, delivery, message FROM gitops_webhook_deliveries
            ORDER BY id DESC LIMIT $1
            """, [.int(max(0, min(limit, Self.limit)))]).rows.map { row in
            WebhookDelivery(receivedAt: try row.date("received_at"), provider: try row.string("provider"), result: try row.string("result"),
                            httpStatus: try row.int("http_status"), event: try row.optionalString("event"),
                            delivery: try row.optionalString("delivery"), message: try row.optionalString("message"))
        }
    }
}
