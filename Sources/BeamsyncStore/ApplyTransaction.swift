import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import Foundation

/// A saved plan no longer matches the database.
public struct StalePlan: Error, Sendable, CustomStringConvertible {
    public var description: String {
        "the saved plan is stale: the database changed after it was made (by another apply or outside beamsync); nothing was applied — run plan again"
    }
}

/// The plan had errors; nothing was applied.
public struct PlanRejected: Error, Sendable, CustomStringConvertible {
    public var plan: Plan
    public init(plan: Plan) { self.plan = plan }
    public var description: String { plan.diagnostics.errors.map(\.description).joined(separator: "\n") }
}

/// The apply transaction: under a transaction-scoped advisory lock, read the live state, plan
/// against it and write the plan, in one transaction, so the whole plan applies or nothing does
/// and nothing can change between planning and writing.
public struct ApplyTransaction: Sendable {
    public static let applyLockName = "beamsync:apply"
    public let conn: PGConnection

    public init(conn: PGConnection) { self.conn = conn }

    public func readLive() async throws -> LiveState {
        try await conn.transaction(isolation: .repeatableRead) { try await LiveStateReader.read($0) }
    }

    /// Plans `desired` inside the transaction and applies it.
    public func apply(_ desired: DesiredState, options: PlanOptions, source: String, actor: String, revision: String?,
                      inventorySource: InventorySource? = nil) async throws -> (Plan, ApplyResult)
    {
        try await apply(loading: { _ in (desired, options) }, source: source, actor: actor, revision: revision, inventorySource: inventorySource)
    }

    /// Applies with the desired state built from the live state read inside the
    /// transaction (references may resolve to database-only profiles): one read of the state, not two.
    /// `load` throws to abandon the apply (nothing is written).
    public func apply(loading load: (LiveState) throws -> (DesiredState, PlanOptions), source: String, actor: String, revision: String?,
                      inventorySource: InventorySource? = nil) async throws -> (Plan, ApplyResult)
    {
        try await conn.transaction { conn in
            _ = try await conn.advisoryXactLock(key: try await conn.advisoryLockKey(for: Self.applyLockName))
            let live = try await LiveStateReader.read(conn)
            let (desired, options) = try load(live)
            let plan = Planner(options: options).plan(desired: desired, live: live, source: source)
            if plan.hasErrors { throw PlanRejected(plan: plan) }
            try await InventoryLocations.refresh(plan, live: live, on: conn)
            guard plan.summary.hasChanges || plan.changes.contains(where: { $0.reason == .adopted }) else {
                return (plan, ApplyResult(serial: live.serial))
            }
            let result = try await PlanApplier(actor: actor, revision: revision, inventorySource: inventorySource).apply(plan, on: conn)
            try await FaultInjection.pauseBeforeCommit()
            return (plan, result)
        }
    }

    /// Applies exactly a saved plan, refusing it when the live state moved since it was made.
    /// `verify` sees the live state read under the lock (already matching the plan's
    /// fingerprint) and throws to refuse the plan before anything is written.
    public func apply(saved plan: Plan, actor: String, revision: String?,
                      verify: @Sendable (LiveState) throws -> Void = { _ in }) async throws -> ApplyResult {
        guard plan.formatVersion == Plan.currentFormatVersion else {
            throw ApplyConflict(message: "the saved plan has format_version \(plan.formatVersion); this beamsync reads \(Plan.currentFormatVersion)")
        }
        if plan.hasErrors { throw PlanRejected(plan: plan) }
        return try await conn.transaction { conn in
            _ = try await conn.advisoryXactLock(key: try await conn.advisoryLockKey(for: Self.applyLockName))
            let live = try await LiveStateReader.read(conn)
            guard live.serial == plan.liveSerial, live.fingerprint == plan.liveFingerprint else { throw StalePlan() }
            try verify(live)
            guard plan.summary.hasChanges else { return ApplyResult(serial: live.serial) }
            let result = try await PlanApplier(actor: actor, revision: revision).apply(plan, on: conn)
            try await FaultInjection.pauseBeforeCommit()
            return result
        }
    }
}

extension ApplyResult {
    init(serial: Int64) {
        self.init()
        self.serial = serial
    }
}

/// Crash tests kill an apply between its last write and COMMIT; this widens that window on request.
/// `BEAMSYNC_FAULT_PAUSE_BEFORE_COMMIT_MS` is read only here and does nothing when unset.
enum FaultInjection {
    static func pauseBeforeCommit() async throws {
        guard let text = ProcessInfo.processInfo.environment["BEAMSYNC_FAULT_PAUSE_BEFORE_COMMIT_MS"], let ms = Int(text), ms > 0 else { return }
        try await Task.sleep(for: .milliseconds(ms))
    }
}
