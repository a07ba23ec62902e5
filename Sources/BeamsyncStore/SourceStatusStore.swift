import BeamsyncModel
import BeamsyncPostgres
import Foundation

/// The Ready / Reconciling / Stalled condition of a source, as Flux reports it.
public enum ReadyStatus: String, Sendable, Codable {
    case ready = "Ready"
    case reconciling = "Reconciling"
    case stalled = "Stalled"
}

/// Why a source is in its state (a short machine word, like Kubernetes condition reasons).
public enum StatusReason: String, Sendable, Codable {
    case applied = "Applied"
    case upToDate = "UpToDate"
    case progressing = "Progressing"
    case fetchFailed = "FetchFailed"
    /// The fetch worked but the revision's files could not be read from the mirror.
    case readFailed = "ReadFailed"
    case validationFailed = "ValidationFailed"
    case planFailed = "PlanFailed"
    case applyFailed = "ApplyFailed"
    /// A commit of the revision is unsigned or signed by a key that is not trusted, or the
    /// signatures could not be checked; nothing of the revision was read or applied.
    case verificationFailed = "VerificationFailed"
    case suspended = "Suspended"
}

/// One row of `gitops_sources`.
public struct SourceStatus: Sendable, Codable, Equatable {
    public var id: Int64
    public var url: String
    public var branch: String
    public var path: String
    public var status: ReadyStatus?
    public var reason: StatusReason?
    public var message: String?
    public var lastAppliedRevision: String?
    public var lastAttemptedRevision: String?
    public var lastLiveVersion: Int64?
    public var failures: Int
    public var nextAttemptAt: Date?
    public var suspended: Bool
    public var reconcileRequestedAt: Date?
    public var lastAppliedAt: Date?
    public var updatedAt: Date?

    public init(id: Int64, url: String, branch: String, path: String, status: ReadyStatus? = nil, reason: StatusReason? = nil,
                message: String? = nil, lastAppliedRevision: String? = nil, lastAttemptedRevision: String? = nil,
                lastLiveVersion: Int64? = nil, failures: Int = 0, nextAttemptAt: Date? = nil, suspended: Bool = false,
                reconcileRequestedAt: Date? = nil, lastAppliedAt: Date? = nil, updatedAt: Date? = nil) {
        self.id = id
        self.url = url
        self.branch = branch
        self.path = path
        self.status = status
        self.reason = reason
        self.message = message
        self.lastAppliedRevision = lastAppliedRevision
        self.lastAttemptedRevision = lastAttemptedRevision
        self.lastLiveVersion = lastLiveVersion
        self.failures = failures
        self.nextAttemptAt = nextAttemptAt
        self.suspended = suspended
        self.reconcileRequestedAt = reconcileRequestedAt
        self.lastAppliedAt = lastAppliedAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, url, branch, path, status, reason, message, failures, suspended
        case lastAppliedRevision = "last_applied_revision", lastAttemptedRevision = "last_attempted_revision"
        case lastLiveVersion = "last_live_version", nextAttemptAt = "next_attempt_at"
        case reconcileRequestedAt = "reconcile_requested_at", lastAppliedAt = "last_applied_at", updatedAt = "updated_at"
    }
}

/// One reconcile attempt in `gitops_sync_runs`.
public struct SyncRun: Sendable, Codable, Equatable {
    public enum Result: String, Sendable, Codable { case applied, noOp = "no_op", failed, superseded }
    public var revision: String?
    public var startedAt: Date
    public var finishedAt: Date?
    public var result: Result
    public var summary: JSONValue?
    public var error: String?

    public init(revision: String?, startedAt: Date, finishedAt: Date?, result: Result, summary: JSONValue?, error: String?) {
        self.revision = revision
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.result = result
        self.summary = summary
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case revision, result, summary, error, startedAt = "started_at", finishedAt = "finished_at"
    }
}

/// Reads and writes source status, history, suspension and reconcile requests.
public struct SourceStatusStore: Sendable {
    /// Runs kept per source; older ones are deleted as new ones are recorded.
    public static let historyLimit = 10
    public static let reconcileChannel = "beamsync_reconcile"

    public let conn: PGConnection
    public init(conn: PGConnection) { self.conn = conn }

    private static let columns = """
        id, url, branch, path, ready_status, ready_reason, ready_message, last_applied_revision, last_attempted_revision,
        last_live_version, failures, next_attempt_at, suspended, reconcile_requested_at, last_applied_at, updated_at
        """

    /// The source's row, created on first use.
    public func register(url: String, branch: String, path: String) async throws -> SourceStatus {
        let row = try await conn.query("""
            INSERT INTO gitops_sources (url, branch, path, updated_at) VALUES ($1, $2, $3, now())
            ON CONFLICT (url, branch, path) DO UPDATE SET url = EXCLUDED.url
            RETURNING \(Self.columns)
            """, [.text(url), .text(branch), .text(path)]).single()
        return try Self.decode(row)
    }

    public func all() async throws -> [SourceStatus] {
        try await conn.query("SELECT \(Self.columns) FROM gitops_sources ORDER BY id").rows.map(Self.decode)
    }

    public func get(id: Int64) async throws -> SourceStatus? {
        try await conn.query("SELECT \(Self.columns) FROM gitops_sources WHERE id = $1", [.int(id)]).first.map(Self.decode)
    }

    /// The live version counter (bumped by every write to profiles or project configs).
    public func liveVersion() async throws -> Int64 {
        try await conn.query("SELECT version FROM beamsync_live_version WHERE id = 1").single().int64("version")
    }

    public func setStatus(id: Int64, _ status: ReadyStatus, reason: StatusReason, message: String?) async throws {
        try await conn.query("""
            UPDATE gitops_sources SET ready_status = $2, ready_reason = $3, ready_message = $4, updated_at = now() WHERE id = $1
            """, [.int(id), .text(status.rawValue), .text(reason.rawValue), message.map(PGValue.text)])
    }

    /// A successful reconcile of `revision`: Ready, failures cleared, the live version remembered.
    public func recordSuccess(id: Int64, revision: String, liveVersion: Int64, reason: StatusReason, message: String) async throws {
        try await conn.query("""
            UPDATE gitops_sources SET ready_status = 'Ready', ready_reason = $2, ready_message = $3,
                last_applied_revision = $4, last_attempted_revision = $4, last_live_version = $5, failures = 0,
                next_attempt_at = NULL, reconcile_requested_at = NULL, last_applied_at = now(), updated_at = now()
            WHERE id = $1
            """, [.int(id), .text(reason.rawValue), .text(message), .text(revision), .int(liveVersion)])
    }

    /// A failed attempt: Stalled, with the next attempt not before `nextAttempt`.
    public func recordFailure(id: Int64, revision: String?, reason: StatusReason, message: String, failures: Int, nextAttempt: Date) async throws {
        try await conn.query("""
            UPDATE gitops_sources SET ready_status = 'Stalled', ready_reason = $2, ready_message = $3,
                last_attempted_revision = COALESCE($4, last_attempted_revision), failures = $5, next_attempt_at = $6,
                reconcile_requested_at = NULL, updated_at = now()
            WHERE id = $1
            """, [.int(id), .text(reason.rawValue), .text(message), revision.map(PGValue.text), .int(failures), .timestamp(nextAttempt)])
    }

    public func recordRun(sourceID: Int64, _ run: SyncRun) async throws {
        _ = try await conn.pipeline([
            ("""
             INSERT INTO gitops_sync_runs (source_id, revision, started_at, finished_at, result, summary, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             """, [.int(sourceID), run.revision.map(PGValue.text), .timestamp(run.startedAt), run.finishedAt.map(PGValue.timestamp),
                   .text(run.result.rawValue), run.summary.map { .json($0.canonicalString) }, run.error.map(PGValue.text)]),
            ("""
             DELETE FROM gitops_sync_runs WHERE source_id = $1 AND id NOT IN
                 (SELECT id FROM gitops_sync_runs WHERE source_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2)
             """, [.int(sourceID), .int(Self.historyLimit)]),
        ])
    }

    public func history(sourceID: Int64) async throws -> [SyncRun] {
        try await conn.query("""
            SELECT revision, started_at, finished_at, result, summary::text AS summary, error FROM gitops_sync_runs
            WHERE source_id = $1 ORDER BY started_at DESC, id DESC
            """, [.int(sourceID)]).rows.map { row in
            SyncRun(revision: try row.optionalString("revision"), startedAt: try row.date("started_at"),
                    finishedAt: try row.optionalDate("finished_at"),
                    result: SyncRun.Result(rawValue: try row.string("result")) ?? .failed,
                    summary: try row.optionalJSON("summary").flatMap { try? JSONValue.parse($0) }, error: try row.optionalString("error"))
        }
    }

    /// Suspends or resumes every source (or those whose url matches).
    @discardableResult
    public func setSuspended(_ suspended: Bool, url: String? = nil) async throws -> Int {
        let r = try await conn.query("""
            UPDATE gitops_sources SET suspended = $1, updated_at = now(),
                ready_reason = CASE WHEN $1 THEN 'Suspended' ELSE ready_reason END
            WHERE $2::text IS NULL OR url = $2::text
            """, [.bool(suspended), url.map(PGValue.text)])
        return r.affectedRows
    }

    /// Asks the controller to reconcile now (it listens on `beamsync_reconcile`). Suspended
    /// sources are left alone (the controller would not reconcile them): the count is of those asked.
    @discardableResult
    public func requestReconcile(url: String? = nil) async throws -> Int {
        let r = try await conn.query("""
            UPDATE gitops_sources SET reconcile_requested_at = now(), next_attempt_at = NULL
            WHERE NOT suspended AND ($1::text IS NULL OR url = $1::text)
            """, [url.map(PGValue.text)])
        try await conn.notify(Self.reconcileChannel, payload: url ?? "")
        return r.affectedRows
    }

    /// Every source, or those with this url, in id order.
    public func sources(url: String?) async throws -> [SourceStatus] {
        try await all().filter { url == nil || $0.url == url }
    }

    /// Forgets sources nobody follows any more (a repository that moved, a branch that was
    /// renamed): their status and run history go; the objects they applied stay managed. A
    /// controller that still follows one registers it again on its next pass.
    public func remove(url: String, branch: String?, path: String?) async throws -> [SourceStatus] {
        try await conn.transaction { conn in
            let doomed = try await conn.query("""
                SELECT id FROM gitops_sources
                WHERE url = $1 AND ($2::text IS NULL OR branch = $2::text) AND ($3::text IS NULL OR path = $3::text)
                FOR UPDATE
                """, [.text(url), branch.map(PGValue.text), path.map(PGValue.text)]).rows.map { try $0.int64("id") }
            for id in doomed {
                _ = try await conn.query("DELETE FROM gitops_sync_runs WHERE source_id = $1", [.int(id)])
                _ = try await conn.query("UPDATE gitops_objects SET source_id = NULL WHERE source_id = $1", [.int(id)])
            }
            let removed = try await conn.query("""
                DELETE FROM gitops_sources
                WHERE url = $1 AND ($2::text IS NULL OR branch = $2::text) AND ($3::text IS NULL OR path = $3::text)
                RETURNING \(Self.columns)
                """, [.text(url), branch.map(PGValue.text), path.map(PGValue.text)], name: "remove sources")
                .rows.map(Self.decode)
            return removed
        }
    }

    static func decode(_ row: PGRow) throws -> SourceStatus {
        SourceStatus(id: try row.int64("id"), url: try row.string("url"), branch: try row.string("branch"), path: try row.string("path"),
                     status: try row.optionalString("ready_status").flatMap(ReadyStatus.init(rawValue:)),
                     reason: try row.optionalString("ready_reason").flatMap(StatusReason.init(rawValue:)),
                     message: try row.optionalString("ready_message"),
                     lastAppliedRevision: try row.optionalString("last_applied_revision"),
                     lastAttemptedRevision: try row.optionalString("last_attempted_revision"),
                     lastLiveVersion: try row.optionalInt64("last_live_version"), failures: try row.int("failures"),
                     nextAttemptAt: try row.optionalDate("next_attempt_at"), suspended: try row.bool("suspended"),
                     reconcileRequestedAt: try row.optionalDate("reconcile_requested_at"),
                     lastAppliedAt: try row.optionalDate("last_applied_at"), updatedAt: try row.optionalDate("updated_at"))
    }
}
