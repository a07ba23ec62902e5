import BeamsyncModel
import BeamsyncPostgres
import BeamsyncTime
import Foundation

/// The Ready / Reconciling / Stalled condition of a source, as Flux reports it.
public enum ReadyStatus: String, Sendable, Codable {
    case ready = "Ready"
    case reconciling = "Reconciling"
    case stalled = "Stalled"
    /// Never stored: the status document's word for a source whose controller has not passed over
    /// it for longer than `Staleness.limit` (whatever was recorded last can no longer be trusted).
    case stale = "Stale"
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
    /// When the source last turned Ready or stopped being Ready (a reconcile in progress is not a change).
    public var readyTransitionAt: Date?
    /// Managed objects changed outside git, as the last reconcile that planned found them (nil before one).
    public var driftCount: Int?
    public var driftCheckedAt: Date?
    /// When the drift count last went from zero to some or back.
    public var driftTransitionAt: Date?
    /// The leader's last pass over this source (every pass, also when nothing changed).
    public var lastReconciledAt: Date?
    /// The identity of the replica that made that pass.
    public var reconciledBy: String?
    /// That replica's poll interval.
    public var pollIntervalMilliseconds: Int64?
    /// The subject line and commit time of the applied and the attempted revisions.
    public var lastAppliedSubject: String?
    public var lastAppliedCommittedAt: Date?
    public var lastAttemptedSubject: String?
    public var lastAttemptedCommittedAt: Date?

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
        case readyTransitionAt = "ready_transition_at", driftCount = "drift_count", driftCheckedAt = "drift_checked_at"
        case driftTransitionAt = "drift_transition_at", lastReconciledAt = "last_reconciled_at", reconciledBy = "reconciled_by"
        case pollIntervalMilliseconds = "poll_interval_ms"
        case lastAppliedSubject = "last_applied_subject", lastAppliedCommittedAt = "last_applied_committed_at"
        case lastAttemptedSubject = "last_attempted_subject", lastAttemptedCommittedAt = "last_attempted_committed_at"
    }
}

/// What started a reconcile.
public enum SyncTrigger: String, Sendable, Codable, CaseIterable {
    /// The first pass after the controller started (or took over leadership).
    case start
    /// The poll interval (or a backoff) ran out.
    case poll
    /// A verified webhook.
    case webhook
    /// `beamsync reconcile` or `beamsync resume`.
    case manual
}

/// A commit's subject line and time, as the status shows them next to its id.
public struct CommitDescription: Sendable, Equatable {
    public var subject: String
    public var committedAt: Date

    public init(subject: String, committedAt: Date) {
        self.subject = subject
        self.committedAt = committedAt
    }

    /// Subjects are shown, not stored in full: the first 200 characters.
    public static let subjectLimit = 200
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
    /// What started the run (nil for runs recorded before triggers were).
    public var trigger: SyncTrigger?

    public init(revision: String?, startedAt: Date, finishedAt: Date?, result: Result, summary: JSONValue?, error: String?,
                trigger: SyncTrigger? = nil) {
        self.revision = revision
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.result = result
        self.summary = summary
        self.error = error
        self.trigger = trigger
    }

    /// From start to finish, in whole milliseconds (nil while unfinished).
    public var durationMilliseconds: Int? {
        finishedAt.map { Int((($0.timeIntervalSince(startedAt)) * 1000).rounded()) }
    }

    enum CodingKeys: String, CodingKey {
        case revision, result, summary, error, trigger, startedAt = "started_at", finishedAt = "finished_at"
        case durationMilliseconds = "duration_ms"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        revision = try c.decodeIfPresent(String.self, forKey: .revision)
        startedAt = try c.decode(Date.self, forKey: .startedAt)
        finishedAt = try c.decodeIfPresent(Date.self, forKey: .finishedAt)
        result = try c.decode(Result.self, forKey: .result)
        summary = try c.decodeIfPresent(JSONValue.self, forKey: .summary)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        trigger = try c.decodeIfPresent(SyncTrigger.self, forKey: .trigger)
    }

    /// `duration_ms` is derived from the two times; it is written for readers and ignored when read.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(revision, forKey: .revision)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(result, forKey: .result)
        try c.encode(summary, forKey: .summary)
        try c.encode(error, forKey: .error)
        try c.encode(trigger, forKey: .trigger)
        try c.encode(durationMilliseconds, forKey: .durationMilliseconds)
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
        last_live_version, failures, next_attempt_at, suspended, reconcile_requested_at, last_applied_at, updated_at,
        ready_transition_at, drift_count, drift_checked_at, drift_transition_at, last_reconciled_at, reconciled_by,
        poll_interval_ms, applied_subject, applied_committed_at, attempted_subject, attempted_committed_at
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
        try await conn.query(Migration0009.readVersion).single().int64("version")
    }

    public func setStatus(id: Int64, _ status: ReadyStatus, reason: StatusReason, message: String?) async throws {
        try await conn.query("""
            UPDATE gitops_sources SET ready_status = $2, ready_reason = $3, ready_message = $4, updated_at = now() WHERE id = $1
            """, [.int(id), .text(status.rawValue), .text(reason.rawValue), message.map(PGValue.text)])
    }

    /// The leader's pass over the source: records when and by whom (the source's heartbeat),
    /// records the leader's own heartbeat, and returns the row, in one statement.
    public func markPass(id: Int64, by identity: String, startedAt: Date, interval: Duration) async throws -> SourceStatus? {
        try await conn.query("""
            WITH beat AS (\(ControllerRegistry.upsert))
            UPDATE gitops_sources SET last_reconciled_at = now(), reconciled_by = $1, poll_interval_ms = $4
            WHERE id = $5 RETURNING \(Self.columns)
            """, [.text(identity), .timestamp(startedAt), .bool(true), .int(interval.inMilliseconds), .int(id)]).first.map(Self.decode)
    }

    /// A successful reconcile of `revision`: Ready, failures cleared, the live version remembered.
    /// The Ready condition's transition time moves only when the source was not Ready before.
    public func recordSuccess(id: Int64, revision: String, liveVersion: Int64, reason: StatusReason, message: String,
                              commit: CommitDescription? = nil) async throws {
        try await conn.query("""
            UPDATE gitops_sources SET ready_status = 'Ready', ready_reason = $2, ready_message = $3,
                ready_transition_at = CASE WHEN failures = 0 AND ready_transition_at IS NOT NULL THEN ready_transition_at ELSE now() END,
                last_applied_revision = $4, last_attempted_revision = $4, last_live_version = $5, failures = 0,
                applied_subject = $6, applied_committed_at = $7, attempted_subject = $6, attempted_committed_at = $7,
                next_attempt_at = NULL, reconcile_requested_at = NULL, last_applied_at = now(), updated_at = now()
            WHERE id = $1
            """, [.int(id), .text(reason.rawValue), .text(message), .text(revision), .int(liveVersion),
                  commit.map { .text(Self.clip($0.subject)) }, commit.map { .timestamp($0.committedAt) }])
    }

    /// A failed attempt: Stalled, with the next attempt not before `nextAttempt`. `commit`
    /// describes `revision` (both nil when the fetch itself failed).
    public func recordFailure(id: Int64, revision: String?, reason: StatusReason, message: String, failures: Int, nextAttempt: Date,
                              commit: CommitDescription? = nil) async throws {
        try await conn.query("""
            UPDATE gitops_sources SET ready_status = 'Stalled', ready_reason = $2, ready_message = $3,
                ready_transition_at = CASE WHEN failures > 0 AND ready_transition_at IS NOT NULL THEN ready_transition_at ELSE now() END,
                attempted_subject = CASE WHEN $4::text IS NULL THEN attempted_subject ELSE $7 END,
                attempted_committed_at = CASE WHEN $4::text IS NULL THEN attempted_committed_at ELSE $8 END,
                last_attempted_revision = COALESCE($4, last_attempted_revision), failures = $5, next_attempt_at = $6,
                reconcile_requested_at = NULL, updated_at = now()
            WHERE id = $1
            """, [.int(id), .text(reason.rawValue), .text(message), revision.map(PGValue.text), .int(failures), .timestamp(nextAttempt),
                  commit.map { .text(Self.clip($0.subject)) }, commit.map { .timestamp($0.committedAt) }])
    }

    static func clip(_ subject: String) -> String {
        subject.count <= CommitDescription.subjectLimit ? subject : String(subject.prefix(CommitDescription.subjectLimit - 1)) + "…"
    }

    public func recordRun(sourceID: Int64, _ run: SyncRun) async throws {
        _ = try await conn.pipeline([
            ("""
             INSERT INTO gitops_sync_runs (source_id, revision, started_at, finished_at, result, summary, error, trigger)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             """, [.int(sourceID), run.revision.map(PGValue.text), .timestamp(run.startedAt), run.finishedAt.map(PGValue.timestamp),
                   .text(run.result.rawValue), run.summary.map { .json($0.canonicalString) }, run.error.map(PGValue.text),
                   run.trigger.map { .text($0.rawValue) }]),
            ("""
             DELETE FROM gitops_sync_runs WHERE source_id = $1 AND id NOT IN
                 (SELECT id FROM gitops_sync_runs WHERE source_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2)
             """, [.int(sourceID), .int(Self.historyLimit)]),
        ])
    }

    public func history(sourceID: Int64) async throws -> [SyncRun] {
        try await conn.query("""
            SELECT revision, started_at, finished_at, result, summary::text AS summary, error, trigger FROM gitops_sync_runs
            WHERE source_id = $1 ORDER BY started_at DESC, id DESC
            """, [.int(sourceID)]).rows.map { row in
            SyncRun(revision: try row.optionalString("revision"), startedAt: try row.date("started_at"),
                    finishedAt: try row.optionalDate("finished_at"),
                    result: SyncRun.Result(rawValue: try row.string("result")) ?? .failed,
                    summary: try row.optionalJSON("summary").flatMap { try? JSONValue.parse($0) }, error: try row.optionalString("error"),
                    trigger: try row.optionalString("trigger").flatMap(SyncTrigger.init(rawValue:)))
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
        var s = SourceStatus(id: try row.int64("id"), url: try row.string("url"), branch: try row.string("branch"), path: try row.string("path"),
                             status: try row.optionalString("ready_status").flatMap(ReadyStatus.init(rawValue:)),
                             reason: try row.optionalString("ready_reason").flatMap(StatusReason.init(rawValue:)),
                             message: try row.optionalString("ready_message"),
                             lastAppliedRevision: try row.optionalString("last_applied_revision"),
                             lastAttemptedRevision: try row.optionalString("last_attempted_revision"),
                             lastLiveVersion: try row.optionalInt64("last_live_version"), failures: try row.int("failures"),
                             nextAttemptAt: try row.optionalDate("next_attempt_at"), suspended: try row.bool("suspended"),
                             reconcileRequestedAt: try row.optionalDate("reconcile_requested_at"),
                             lastAppliedAt: try row.optionalDate("last_applied_at"), updatedAt: try row.optionalDate("updated_at"))
        s.readyTransitionAt = try row.optionalDate("ready_transition_at")
        s.driftCount = try row.optionalInt("drift_count")
        s.driftCheckedAt = try row.optionalDate("drift_checked_at")
        s.driftTransitionAt = try row.optionalDate("drift_transition_at")
        s.lastReconciledAt = try row.optionalDate("last_reconciled_at")
        s.reconciledBy = try row.optionalString("reconciled_by")
        s.pollIntervalMilliseconds = try row.optionalInt64("poll_interval_ms")
        s.lastAppliedSubject = try row.optionalString("applied_subject")
        s.lastAppliedCommittedAt = try row.optionalDate("applied_committed_at")
        s.lastAttemptedSubject = try row.optionalString("attempted_subject")
        s.lastAttemptedCommittedAt = try row.optionalDate("attempted_committed_at")
        return s
    }
}
