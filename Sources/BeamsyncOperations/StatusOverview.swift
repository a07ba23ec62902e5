import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// Everything the status page shows: the status document, one page of the inventory, the newest
/// executions and webhook deliveries.
public struct StatusOverview: Sendable {
    public var status: GitOpsStatus
    public var inventory: InventoryPage
    /// Newest first.
    public var executions: [ExecutionRecord]
    /// Newest first.
    public var deliveries: [WebhookDelivery]

    public static let executionLimit = 20
    public static let deliveryLimit = 20

    public init(status: GitOpsStatus, inventory: InventoryPage, executions: [ExecutionRecord] = [], deliveries: [WebhookDelivery] = []) {
        self.status = status
        self.inventory = inventory
        self.executions = executions
        self.deliveries = deliveries
    }

    /// Reads the overview; the inventory is searched and paged in SQL.
    public static func read(conn: PGConnection, leader: Bool?, inventory query: InventoryQuery) async throws -> StatusOverview {
        StatusOverview(status: try await GitOpsStatus.read(conn: conn, leader: leader),
                       inventory: try await InventoryBrowser(conn: conn).page(query),
                       executions: try await ExecutionLedger(conn: conn).list(limit: executionLimit),
                       deliveries: try await WebhookDeliveryLog(conn: conn).recent(limit: deliveryLimit))
    }
}
