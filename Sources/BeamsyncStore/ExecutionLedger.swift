import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncTime
import Foundation

/// What `ExecutionLedger.create` needs for an execution created outside git (CLI, API).
public struct ExecutionRequest: Sendable {
    public enum Graph: Sendable, Hashable {
        /// The graph's bytes; stored content-addressed in `graph_blobs`. `path` is informational.
        case content([UInt8], path: String?)
        /// Fetched by the runner, which refuses content that does not hash to `sha256`.
        case url(String, sha256: String)
    }

    /// Unique; generated from the project and the time when nil.
    public var name: String?
    public var projectModule: String
    /// A UUID (text, so a malformed one is reported as such). Give at most one of id and name.
    public var profileID: String?
    public var profileName: String?
    public var graph: Graph
    public var doSubmit: Bool
    public var createdBy: String
    public var sourceRevision: String?

    public init(name: String? = nil, projectModule: String, profileID: String? = nil, profileName: String? = nil,
                graph: Graph, doSubmit: Bool = true, createdBy: String, sourceRevision: String? = nil) {
        self.name = name
        self.projectModule = projectModule
        self.profileID = profileID
        self.profileName = profileName
        self.graph = graph
        self.doSubmit = doSubmit
        self.createdBy = createdBy
        self.sourceRevision = sourceRevision
    }
}

/// One change of an execution: a new step, maybe a new status, and what to record with it.
/// Fields left nil keep their column's value.
public struct ExecutionTransition: Sendable {
    /// nil: the status stays; otherwise checked against beampipe's status machine.
    public var status: ExecutionStatus?
    public var step: String
    /// The event's human line (`detail.message`).
    public var message: String
    /// More event detail (merged with `message`).
    public var detail: [String: JSONValue]
    public var submissionState: SubmissionState?
    public var daliugeSessionID: String?
    /// The batch job's id (`slurm_job_id`).
    public var slurmJobID: String?
    /// The remote directory the job runs in (`remote_session_dir`).
    public var remoteSessionDir: String?
    /// Starts the submission deadline: `submission_deadline_at` becomes now plus this.
    public var submissionDeadlineIn: Duration?
    public var schedulerState: String?
    public var backend: ExecutionBackend?
    public var simulated: Bool?
    public var daliugeState: String?
    public var lastError: String?
    public var failedDrops: JSONValue?
    /// When the runner should look at it next (ignored for terminal statuses, which get NULL).
    public var nextPollIn: Duration

    public init(status: ExecutionStatus? = nil, step: String, message: String, detail: [String: JSONValue] = [:],
                submissionState: SubmissionState? = nil, daliugeSessionID: String? = nil, slurmJobID: String? = nil,
                remoteSessionDir: String? = nil, submissionDeadlineIn: Duration? = nil, schedulerState: String? = nil,
                backend: ExecutionBackend? = nil,
                simulated: Bool? = nil, daliugeState: String? = nil, lastError: String? = nil, failedDrops: JSONValue? = nil,
                nextPollIn: Duration = .zero) {
        self.status = status
        self.step = step
        self.message = message
        self.detail = detail
        self.submissionState = submissionState
        self.daliugeSessionID = daliugeSessionID
        self.slurmJobID = slurmJobID
        self.remoteSessionDir = remoteSessionDir
        self.submissionDeadlineIn = submissionDeadlineIn
        self.schedulerState = schedulerState
        self.backend = backend
        self.simulated = simulated
        self.daliugeState = daliugeState
        self.lastError = lastError
        self.failedDrops = failedDrops
        self.nextPollIn = nextPollIn
    }
}

/// The execution ledger: creates executions with their profile pinned, hands due executions to
/// runners, and records every status change, with an `execution_events` row, in one transaction.
/// Status changes happen only through `transition`, which enforces beampipe's status machine.
///
/// A `PGConnection` serves one task at a time, so a ledger (which wraps one) does too.
public struct ExecutionLedger: Sendable {
    public let conn: PGConnection

    /// NOTIFY channel that wakes runners (payload: execution ids, comma-separated).
    public static let wakeChannel = "beamsync_executions"
    /// A `next_poll_at` further ahead than this is taken to be a runner's lease (poll and retry
    /// delays are shorter); `requestCancel` leaves such an execution to the runner holding it.
    public static let leaseThreshold: Duration = .seconds(60)
    /// NOTIFY channel for every recorded step (payload: `<id> <status> <step>`), for watchers.
    public static let eventChannel = "beamsync_execution_events"
    /// The step an execution ends at when cancelled (the engine's `CommonStep.cancelled`).
    public static let cancelledStep = "cancelled"

    public init(conn: PGConnection) { self.conn = conn }

    // MARK: Create

    /// Creates a `pending` execution: resolves the profile the way beampipe does (id, else name,
    /// else the project's default, else the global default; it must be global or the project's),
    /// pins its id, revision and snapshot, pins the active project config, stores the graph by its
    /// SHA-256, and wakes the runners.
    public func create(_ request: ExecutionRequest) async throws -> ExecutionRecord {
        let prepared = try Self.prepare(request)
        return try await conn.transaction { conn in try await insert(prepared, request, on: conn) }
    }

    /// `create` inside a transaction the caller has opened on this ledger's connection (the HTTP
    /// API records an idempotency key in the same transaction).
    public func createInOpenTransaction(_ request: ExecutionRequest) async throws -> ExecutionRecord {
        guard conn.isInTransaction else {
            throw ExecutionLedgerError.invalidRequest("createInOpenTransaction needs an open transaction on the ledger's connection")
        }
        return try await insert(try Self.prepare(request), request, on: conn)
    }

    /// A request checked and normalised, before anything is written.
    private struct Prepared: Sendable {
        var project: String
        var profileUUID: UUID?
        var profileName: String?
        var name: String
        var sha: String
        var graphPath: String?
        var graphURL: String?
        var content: [UInt8]?
    }

    private static func prepare(_ request: ExecutionRequest) throws -> Prepared {
        let project = request.projectModule.trimmingCharacters(in: .whitespaces)
        guard !project.isEmpty else { throw ExecutionLedgerError.invalidRequest("project_module is required") }
        let profileID = request.profileID?.trimmingCharacters(in: .whitespaces)
        let profileName = request.profileName?.trimmingCharacters(in: .whitespaces)
        if profileID != nil && profileName != nil {
            throw ExecutionLedgerError.invalidRequest("provide only one of deployment_profile_id or deployment_profile_name")
        }
        if let profileName, profileName.isEmpty {
            throw ExecutionLedgerError.invalidRequest("deployment_profile_name is empty")
        }
        var uuid: UUID? = nil
        if let profileID {
            guard let parsed = UUID(uuidString: profileID) else {
                throw ExecutionLedgerError.invalidRequest("deployment_profile_id '\(profileID)' is not a UUID")
            }
            uuid = parsed
        }
        let name = request.name?.trimmingCharacters(in: .whitespaces) ?? Self.generatedName(project: project)
        guard !name.isEmpty else { throw ExecutionLedgerError.invalidRequest("execution name is empty") }

        let sha: String
        var graphPath: String? = nil
        var graphURL: String? = nil
        var content: [UInt8]? = nil
        switch request.graph {
        case .content(let bytes, let path):
            sha = SHA256Digest.hex(bytes)
            content = bytes
            graphPath = path
        case .url(let url, let pin):
            let lowered = pin.lowercased()
            guard lowered.count == 64, lowered.allSatisfy({ $0.isHexDigit }) else {
                throw ExecutionLedgerError.invalidRequest("graph sha256 must be 64 hexadecimal characters")
            }
            sha = lowered
            graphURL = url
        }

        return Prepared(project: project, profileUUID: uuid, profileName: profileName, name: name, sha: sha, graphPath: graphPath,
                        graphURL: graphURL, content: content)
    }

    private func insert(_ p: Prepared, _ request: ExecutionRequest, on conn: PGConnection) async throws -> ExecutionRecord {
        let (project, name, sha, graphPath, graphURL, content) = (p.project, p.name, p.sha, p.graphPath, p.graphURL, p.content)
        let id = UUID(uuidString: UUIDv7.make())!
        do {  // (a scope: everything below belongs to the one insert)
            let profile = try await resolveProfile(id: p.profileUUID, name: p.profileName, project: project, on: conn)
            // Refuse a profile that could not drive an execution (same rules as a document).
            _ = try ProfileSnapshot.decode(try JSONValue.parse(try profile.json("snapshot")))
            if let content {
                _ = try await conn.query("INSERT INTO graph_blobs (sha256, content) VALUES ($1, decode($2, 'hex')) ON CONFLICT (sha256) DO NOTHING",
                                         [.text(sha), .text(Self.hex(content))])
            }
            let inserted: PGResult
            do {
                inserted = try await conn.query("""
                    INSERT INTO executions (uuid, name, project_module, deployment_profile_id, deployment_profile_revision,
                                            deployment_profile_snapshot, project_config_id, source_revision, graph_sha256, status,
                                            submission_state, step, graph_path, graph_url, do_submit, created_by, next_poll_at)
                    SELECT $1::uuid, $2, $3::text, p.uuid, p.revision, \(Self.snapshotSQL),
                           (SELECT c.uuid FROM project_configs c WHERE c.project_id = $3::text AND c.active),
                           $5, $6, 'pending', 'not_started', 'created', $7, $8, $9, $10, now()
                    FROM daliuge_deployment_profile p WHERE p.uuid = $4::uuid
                    RETURNING *
                    """,
                    [.uuid(id), .text(name), .text(project), .text(try profile.string("uuid")), request.sourceRevision.map(PGValue.text),
                     .text(sha), graphPath.map(PGValue.text), graphURL.map(PGValue.text), .bool(request.doSubmit), .text(request.createdBy)],
                    name: "create execution")
            } catch let error as PostgresError where error.sqlState == "23505" {
                throw ExecutionLedgerError.duplicateName(name)
            }
            let record = try ExecutionRecord(row: try inserted.single())
            try await insertEvent(record.id, step: "created", status: .pending, detail: [
                "message": .string("created by \(request.createdBy) with profile '\(record.profileName ?? "?")' (revision \(record.deploymentProfileRevision ?? 0))"),
                "graph_sha256": .string(sha),
            ], on: conn)
            try await conn.notify(Self.wakeChannel, payload: record.id.uuidString.lowercased())
            return record
        }
    }

    /// The profile row (`uuid`, `name`, `project_module`, `snapshot`) an execution of `project` uses.
    private func resolveProfile(id: UUID?, name: String?, project: String, on conn: PGConnection) async throws -> PGRow {
        let select = "SELECT p.uuid, p.name, p.project_module, \(Self.snapshotSQL)::text AS snapshot FROM daliuge_deployment_profile p"
        let row: PGRow
        if let id {
            guard let found = try await conn.query("\(select) WHERE p.uuid = $1::uuid", [.uuid(id)]).first else {
                throw ExecutionLedgerError.profileNotFound("deployment profile id \(id.uuidString.lowercased()) does not exist")
            }
            row = found
        } else if let name {
            guard let found = try await conn.query("\(select) WHERE p.name = $1", [.text(name)]).first else {
                throw ExecutionLedgerError.profileNotFound("deployment profile '\(name)' does not exist")
            }
            row = found
        } else {
            let defaults = try await conn.query("""
                \(select) WHERE p.is_default AND (p.project_module = $1 OR p.project_module IS NULL)
                ORDER BY p.project_module IS NULL ASC LIMIT 1
                """, [.text(project)])
            guard let found = defaults.first else {
                throw ExecutionLedgerError.profileNotFound(
                    "project '\(project)' has no default deployment profile and there is no global default; "
                    + "select one explicitly (deployment_profile_name or deployment_profile_id)")
            }
            row = found
        }
        if let owner = try row.optionalString("project_module"), owner != project {
            throw ExecutionLedgerError.profileOutOfScope(profile: try row.string("name"), profileProject: owner, project: project)
        }
        return row
    }

    /// The snapshot's shape, the same as `PlanApplier`'s (beampipe's `create_execution_internal`).
    static let snapshotSQL = """
        jsonb_build_object('id', p.uuid, 'name', p.name, 'description', p.description, 'project_module', p.project_module,
                           'is_default', p.is_default, 'max_concurrent_executions', p.max_concurrent_executions,
                           'revision', p.revision, 'spec_sha256', p.spec_sha256,
                           'translation', p.translation, 'deployment', p.deployment)
        """

    static func generatedName(project: String, now: Date = Date()) -> String {
        let suffix = UUID().uuidString.prefix(6).lowercased()
        return "\(project)-\(UTCTimestamp(now).compact)-\(suffix)"
    }

    // MARK: Reads

    /// By UUID first, then by name.
    public func get(idOrName: String) async throws -> ExecutionRecord? {
        if let id = UUID(uuidString: idOrName), let row = try await conn.query("SELECT * FROM executions WHERE uuid = $1::uuid", [.uuid(id)]).first {
            return try ExecutionRecord(row: row)
        }
        return try await conn.query("SELECT * FROM executions WHERE name = $1", [.text(idOrName)]).first.map(ExecutionRecord.init(row:))
    }

    public func get(id: UUID) async throws -> ExecutionRecord? {
        try await conn.query("SELECT * FROM executions WHERE uuid = $1::uuid", [.uuid(id)]).first.map(ExecutionRecord.init(row:))
    }

    /// Newest first.
    public func list(project: String? = nil, status: ExecutionStatus? = nil, limit: Int = 50) async throws -> [ExecutionRecord] {
        try await conn.query("""
            SELECT * FROM executions
            WHERE ($1::text IS NULL OR project_module = $1::text) AND ($2::text IS NULL OR status = $2::text)
            ORDER BY created_at DESC, uuid DESC LIMIT $3
            """, [project.map(PGValue.text), status.map { .text($0.rawValue) }, .int(max(1, min(limit, 10_000)))])
            .rows.map(ExecutionRecord.init(row:))
    }

    /// One page, newest first, and how many executions match.
    public func page(project: String? = nil, status: ExecutionStatus? = nil, limit: Int, offset: Int) async throws
        -> (records: [ExecutionRecord], total: Int)
    {
        let filters: [PGValue?] = [project.map(PGValue.text), status.map { .text($0.rawValue) }]
        let result = try await conn.query("""
            SELECT e.*, count(*) OVER () AS total_matching FROM executions e
            WHERE ($1::text IS NULL OR e.project_module = $1::text) AND ($2::text IS NULL OR e.status = $2::text)
            ORDER BY e.created_at DESC, e.uuid DESC LIMIT $3 OFFSET $4
            """, filters + [.int(max(1, limit)), .int(max(0, offset))], name: "list executions")
        let records = try result.rows.map(ExecutionRecord.init(row:))
        if let first = result.rows.first { return (records, try first.int("total_matching")) }
        let total = try await conn.query("""
            SELECT count(*) AS n FROM executions e
            WHERE ($1::text IS NULL OR e.project_module = $1::text) AND ($2::text IS NULL OR e.status = $2::text)
            """, filters, name: "count executions").single().int("n")
        return (records, total)
    }

    /// The steps of an execution, oldest first.
    public func events(of id: UUID) async throws -> [ExecutionEvent] {
        try await conn.query("SELECT * FROM execution_events WHERE execution_id = $1::uuid ORDER BY id", [.uuid(id)])
            .rows.map(ExecutionEvent.init(row:))
    }

    /// Events after `afterID` (for following an execution).
    public func events(of id: UUID, after afterID: Int64) async throws -> [ExecutionEvent] {
        try await conn.query("SELECT * FROM execution_events WHERE execution_id = $1::uuid AND id > $2 ORDER BY id",
                             [.uuid(id), .int(afterID)]).rows.map(ExecutionEvent.init(row:))
    }

    /// The stored bytes of a graph, nil when they are not stored.
    public func graph(sha256: String) async throws -> [UInt8]? {
        guard let row = try await conn.query("SELECT encode(content, 'hex') AS hex FROM graph_blobs WHERE sha256 = $1", [.text(sha256)]).first
        else { return nil }
        return Self.unhex(try row.string("hex"))
    }

    /// Stores bytes content-addressed; returns their SHA-256.
    @discardableResult
    public func storeGraph(_ bytes: [UInt8]) async throws -> String {
        let sha = SHA256Digest.hex(bytes)
        _ = try await conn.query("INSERT INTO graph_blobs (sha256, content) VALUES ($1, decode($2, 'hex')) ON CONFLICT (sha256) DO NOTHING",
                                 [.text(sha), .text(Self.hex(bytes))])
        return sha
    }

    // MARK: Runner hand-over

    /// Executions a runner should look at now: not terminal and `next_poll_at <= now()`. They are
    /// picked with `FOR UPDATE SKIP LOCKED` in a short transaction that also moves `next_poll_at`
    /// forward by `lease`, so two runners never take the same execution at once; a runner that
    /// dies mid-step leaves the execution to be picked up again when the lease runs out. Keep
    /// `lease` well above `leaseThreshold` plus the longest backend call.
    ///
    /// Admission: a pending execution whose profile sets `max_concurrent_executions` is taken only
    /// while fewer of that profile's executions are in progress (admitted and not finished) than
    /// the cap, oldest first. One that must wait stays `pending` with `waiting_reason` saying why
    /// (an event records each new reason) and is looked at again when a slot frees (by any later
    /// `due`) or after `heldRecheck`. Picking sets `admitted_at`. The admission lock is taken before
    /// the pick's snapshot is, so runners sharing a database admit one at a time and never exceed
    /// a cap.
    ///
    /// One round trip (the lock and the pick are two statements of one implicit transaction), so
    /// it may share a connection with other single statements of concurrent tasks.
    ///
    /// `only` limits the hand-over to one execution (a foreground `executions create` runs its own
    /// execution and nobody else's); the others are neither picked nor given a waiting reason.
    public func due(limit: Int = 16, lease: Duration = .seconds(300), heldRecheck: Duration = .seconds(30),
                    only: UUID? = nil) async throws -> [ExecutionRecord] {
        // Only numbers and a UUID's hex digits are spliced in (a multi-statement query takes no parameters).
        let count = max(1, limit)
        let onlyThis = only.map { " AND uuid = '\($0.uuidString.lowercased())'::uuid" } ?? ""
        let leaseSeconds = Self.seconds(lease)
        let recheckSeconds = Self.seconds(heldRecheck)
        return try await conn.execute("""
            SELECT pg_advisory_xact_lock(hashtextextended('\(Self.admissionLockName)', 0));
            WITH in_progress AS (
                SELECT deployment_profile_id AS profile, count(*) AS n FROM executions
                WHERE deployment_profile_id IS NOT NULL
                  AND (status IN ('running', 'awaiting_scheduler', 'retrying') OR (status = 'pending' AND admitted_at IS NOT NULL))
                GROUP BY deployment_profile_id
            ), waiting AS (
                SELECT e.uuid, e.waiting_reason, p.name, p.max_concurrent_executions AS cap, COALESCE(l.n, 0) AS in_progress,
                       row_number() OVER (PARTITION BY e.deployment_profile_id ORDER BY e.created_at, e.uuid) AS place
                FROM executions e
                JOIN daliuge_deployment_profile p ON p.uuid = e.deployment_profile_id
                LEFT JOIN in_progress l ON l.profile = e.deployment_profile_id
                WHERE e.status = 'pending' AND e.admitted_at IS NULL AND e.cancel_requested_at IS NULL
                  AND p.max_concurrent_executions IS NOT NULL
            ), held AS (
                -- Earlier executions in line that this pass admits count as in progress in the reason.
                SELECT uuid, waiting_reason,
                       'waiting: deployment profile ''' || name || ''' runs at most ' || cap || ' execution'
                       || CASE WHEN cap = 1 THEN '' ELSE 's' END || ' at once (max_concurrent_executions) and '
                       || (in_progress + ahead) || ' ' || CASE WHEN in_progress + ahead = 1 THEN 'is' ELSE 'are' END || ' in progress'
                       || CASE WHEN place - 1 - ahead > 0 THEN '; ' || (place - 1 - ahead) || ' earlier execution'
                               || CASE WHEN place - 1 - ahead = 1 THEN ' waits' ELSE 's wait' END || ' before it' ELSE '' END AS reason
                FROM (SELECT *, GREATEST(0, LEAST(cap - in_progress, place - 1)) AS ahead FROM waiting) w
                WHERE in_progress + place > cap
            ), picked AS (
                SELECT uuid FROM executions
                WHERE status IN ('pending', 'running', 'awaiting_scheduler', 'retrying')
                  AND (next_poll_at IS NULL OR next_poll_at <= now()
                       OR uuid IN (SELECT uuid FROM waiting WHERE in_progress + place <= cap))
                  AND uuid NOT IN (SELECT uuid FROM held)\(onlyThis)
                ORDER BY next_poll_at NULLS FIRST, created_at
                LIMIT \(count)
                FOR UPDATE SKIP LOCKED
            ), waited AS (
                UPDATE executions e SET waiting_reason = held.reason,
                                        next_poll_at = now() + make_interval(secs => \(recheckSeconds))
                FROM held WHERE e.uuid = held.uuid\(onlyThis.replacingOccurrences(of: "uuid =", with: "e.uuid ="))
                RETURNING e.uuid, held.reason, held.waiting_reason IS DISTINCT FROM held.reason AS changed
            ), waiting_events AS (
                INSERT INTO execution_events (execution_id, step, status, detail)
                SELECT uuid, 'waiting', 'pending', jsonb_build_object('message', reason) FROM waited WHERE changed
            ), taken AS (
                UPDATE executions e SET next_poll_at = now() + make_interval(secs => \(leaseSeconds)),
                    admitted_at = CASE WHEN e.status = 'pending' AND e.admitted_at IS NULL AND e.cancel_requested_at IS NULL
                                       THEN now() ELSE e.admitted_at END,
                    waiting_reason = NULL
                FROM picked WHERE e.uuid = picked.uuid
                RETURNING e.*
            )
            SELECT * FROM taken
            """, name: "due executions")
            .rows.map(ExecutionRecord.init(row:)).sorted { $0.createdAt < $1.createdAt }
    }

    /// The advisory lock `due` takes so that runners admit executions one at a time.
    public static let admissionLockName = "beamsync:admission"

    /// When the next non-terminal execution (or `only` that one) falls due (nil: none is waiting).
    public func nextDueAt(only: UUID? = nil) async throws -> Date? {
        try await conn.query("""
            SELECT min(COALESCE(next_poll_at, '-infinity')) AS at FROM executions
            WHERE status IN ('pending', 'running', 'awaiting_scheduler', 'retrying') AND ($1::uuid IS NULL OR uuid = $1::uuid)
            """, [only.map(PGValue.uuid)]).first?.optionalDate("at")
    }

    // MARK: Status changes

    /// The one way an execution's status or step changes. In one transaction: locks the row,
    /// checks it still is where the caller read it (`expecting`), checks the status machine,
    /// writes the columns and an `execution_events` row. Commit this before the external call the
    /// new step leads to.
    ///
    /// With `expecting` (what a runner always passes) this is one statement: the update only
    /// matches the row while it still is where the caller read it, and the event and its NOTIFY
    /// ride along in the same statement. Without it, the row is locked and read first.
    @discardableResult
    public func transition(_ id: UUID, expecting: (status: ExecutionStatus, step: String?)? = nil,
                           _ change: ExecutionTransition) async throws -> ExecutionRecord {
        if let expecting { return try await transition(id, from: expecting, change) }
        let record = try await conn.transaction { conn in
            guard let row = try await conn.query("SELECT * FROM executions WHERE uuid = $1::uuid FOR UPDATE", [.uuid(id)]).first else {
                throw ExecutionLedgerError.executionNotFound(id.uuidString.lowercased())
            }
            let current = try ExecutionRecord(row: row)
            let target = try Self.checkedTarget(of: change, from: current.status, name: current.name)
            let updated = try await conn.query("""
                UPDATE executions SET \(Self.transitionColumns)
                WHERE uuid = $1::uuid
                RETURNING *
                """, Self.transitionParameters(id, target, change), name: "execution transition")
            try await insertEvent(id, step: change.step, status: target, detail: Self.eventDetail(change, from: current.status, to: target),
                                  on: conn)
            return try ExecutionRecord(row: try updated.single())
        }
        return record
    }

    /// `transition` from a known place, in one statement.
    private func transition(_ id: UUID, from expecting: (status: ExecutionStatus, step: String?),
                            _ change: ExecutionTransition) async throws -> ExecutionRecord {
        let target: ExecutionStatus
        do {
            target = try Self.checkedTarget(of: change, from: expecting.status, name: id.uuidString.lowercased())
        } catch {
            // The same refusal, naming the execution (its name is read only now that it is refused).
            let name = (try? await get(id: id))?.name ?? id.uuidString.lowercased()
            _ = try Self.checkedTarget(of: change, from: expecting.status, name: name)
            throw error  // not reached: the line above throws
        }
        let detail = Self.eventDetail(change, from: expecting.status, to: target)
        let updated = try await conn.query("""
            WITH moved AS (
                UPDATE executions SET \(Self.transitionColumns)
                WHERE uuid = $1::uuid AND status = $17 AND step IS NOT DISTINCT FROM $18
                RETURNING *
            ), event AS (
                INSERT INTO execution_events (execution_id, step, status, detail)
                SELECT uuid, $3, $2::text, $19::jsonb FROM moved
            )
            SELECT moved.*, pg_notify($20, $21) FROM moved
            """,
            Self.transitionParameters(id, target, change) + [.text(expecting.status.rawValue), expecting.step.map(PGValue.text),
             .json(JSONValue.object(detail).canonicalString), .text(Self.eventChannel),
             .text("\(id.uuidString.lowercased()) \(target.rawValue) \(change.step)")],
            name: "execution transition")
        if let row = updated.first { return try ExecutionRecord(row: row) }
        guard let current = try await get(id: id) else { throw ExecutionLedgerError.executionNotFound(id.uuidString.lowercased()) }
        throw ExecutionLedgerError.conflict("execution '\(current.name)' moved to \(current.status.rawValue)/\(current.step ?? "-") "
                                            + "while expected at \(expecting.status.rawValue)/\(expecting.step ?? "-")")
    }

    /// The columns a transition writes; parameters $1–$16 as `transitionParameters` gives them.
    private static let transitionColumns = """
        status = $2::text, step = $3,
        submission_state = COALESCE($4, submission_state),
        daliuge_session_id = COALESCE($5, daliuge_session_id),
        backend = COALESCE($6, backend),
        simulated = COALESCE($7, simulated),
        daliuge_state = COALESCE($8, daliuge_state),
        last_error = COALESCE($9, last_error),
        failed_drops = COALESCE($10, failed_drops),
        poll_failures = 0,
        next_poll_at = CASE WHEN $11::boolean THEN NULL ELSE now() + make_interval(secs => $12) END,
        started_at = CASE WHEN $2::text = 'running' AND started_at IS NULL THEN now() ELSE started_at END,
        completed_at = CASE WHEN $11 THEN now() ELSE completed_at END,
        slurm_job_id = COALESCE($13, slurm_job_id),
        remote_session_dir = COALESCE($14, remote_session_dir),
        submission_deadline_at = COALESCE(now() + make_interval(secs => $15), submission_deadline_at),
        scheduler_state = COALESCE($16, scheduler_state),
        waiting_reason = NULL,
        updated_at = now()
        """

    private static func transitionParameters(_ id: UUID, _ target: ExecutionStatus, _ change: ExecutionTransition) -> [PGValue?] {
        [.uuid(id), .text(target.rawValue), .text(change.step), change.submissionState.map { .text($0.rawValue) },
         change.daliugeSessionID.map(PGValue.text), change.backend.map { PGValue.text($0.rawValue) }, change.simulated.map(PGValue.bool),
         change.daliugeState.map(PGValue.text), change.lastError.map(PGValue.text), change.failedDrops.map { .json($0.canonicalString) },
         .bool(target.isTerminal), .double(seconds(change.nextPollIn)), change.slurmJobID.map(PGValue.text),
         change.remoteSessionDir.map(PGValue.text), change.submissionDeadlineIn.map { .double(seconds($0)) },
         change.schedulerState.map(PGValue.text)]
    }

    /// The status `change` leads to from `current`, if beampipe's status machine allows it.
    private static func checkedTarget(of change: ExecutionTransition, from current: ExecutionStatus,
                                      name: String) throws -> ExecutionStatus {
        let target = change.status ?? current
        if target != current {
            guard ExecutionStatusMachine.allows(from: current, to: target) else {
                throw ExecutionLedgerError.illegalTransition(execution: name, from: current, to: target)
            }
        } else if current.isTerminal {
            throw ExecutionLedgerError.alreadyTerminal(execution: name, status: current)
        }
        return target
    }

    /// The `execution_events` detail of a transition.
    private static func eventDetail(_ change: ExecutionTransition, from current: ExecutionStatus,
                                    to target: ExecutionStatus) -> [String: JSONValue] {
        var detail = change.detail
        detail["message"] = .string(change.message)
        if target != current { detail["from_status"] = .string(current.rawValue) }
        if let error = change.lastError { detail["error"] = .string(error) }
        return detail
    }

    /// Records one poll reading that changes no status: the backend's state (the DALiuGE
    /// session's and, for a batch job, the scheduler's; nil keeps the recorded value), the run of
    /// failed readings and when to look again. An event is written only when a state changes, or
    /// when `alwaysRecord` says so. Returns since when the execution has been in its current state
    /// (the first reading of the current run).
    @discardableResult
    public func recordPoll(_ id: UUID, expectingStep step: String?, daliugeState: String?, schedulerState: String? = nil,
                           pollFailures: Int, nextPollIn: Duration, message: String, detail: [String: JSONValue] = [:],
                           alwaysRecord: Bool = false) async throws -> Date {
        var eventDetail = detail
        eventDetail["message"] = .string(message)
        if let daliugeState { eventDetail["daliuge_state"] = .string(daliugeState) }
        if let schedulerState { eventDetail["scheduler_state"] = .string(schedulerState) }
        // One statement: lock and read the row, move next_poll_at, and only when a state changed
        // write the event and its NOTIFY; else read since when the state has held.
        let result = try await conn.query("""
            WITH current AS (
                SELECT uuid, status, step, daliuge_state, scheduler_state FROM executions WHERE uuid = $1::uuid FOR UPDATE
            ), moved AS (
                UPDATE executions e SET daliuge_state = COALESCE($3, e.daliuge_state), poll_failures = $4,
                                        scheduler_state = COALESCE($8, e.scheduler_state),
                                        next_poll_at = now() + make_interval(secs => $5), updated_at = now()
                FROM current WHERE e.uuid = current.uuid AND current.step IS NOT DISTINCT FROM $2
                RETURNING e.uuid
            ), event AS (
                INSERT INTO execution_events (execution_id, step, status, detail)
                SELECT current.uuid, 'poll', current.status, $6::jsonb FROM current JOIN moved USING (uuid)
                WHERE ($3::text IS NOT NULL AND current.daliuge_state IS DISTINCT FROM $3)
                   OR ($8::text IS NOT NULL AND current.scheduler_state IS DISTINCT FROM $8) OR $9
                RETURNING execution_id, status, occurred_at
            ), notified AS (
                SELECT pg_notify($7, execution_id::text || ' ' || status || ' poll') FROM event
            )
            SELECT current.step, (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM notified) AS notified,
                   (SELECT occurred_at FROM event) AS changed_at,
                   (SELECT occurred_at FROM execution_events
                    WHERE execution_id = $1::uuid AND step = 'poll' ORDER BY id DESC LIMIT 1) AS last_poll_event
            FROM current
            """, [.uuid(id), step.map(PGValue.text), daliugeState.map(PGValue.text), .int(pollFailures), .double(Self.seconds(nextPollIn)),
                  .json(JSONValue.object(eventDetail).canonicalString), .text(Self.eventChannel), schedulerState.map(PGValue.text),
                  .bool(alwaysRecord)], name: "record poll")
        guard let row = result.first else { throw ExecutionLedgerError.executionNotFound(id.uuidString.lowercased()) }
        guard try row.int("moved") == 1 else {
            throw ExecutionLedgerError.conflict("execution \(id.uuidString.lowercased()) moved to step \(try row.optionalString("step") ?? "-")")
        }
        return try row.optionalDate("changed_at") ?? row.optionalDate("last_poll_event") ?? Date()
    }

    /// A step that failed for a reason that may pass (the DIM is down): the step stays, the
    /// failure is counted and recorded, and the runner looks again after `retryIn`.
    @discardableResult
    public func recordRetry(_ id: UUID, expectingStep step: String?, failures: Int, retryIn: Duration, error: String) async throws -> ExecutionRecord {
        try await conn.transaction { conn in
            let updated = try await conn.query("""
                UPDATE executions SET poll_failures = $3, last_error = $4, next_poll_at = now() + make_interval(secs => $5), updated_at = now()
                WHERE uuid = $1::uuid AND step IS NOT DISTINCT FROM $2 AND status IN ('pending', 'running', 'awaiting_scheduler', 'retrying')
                RETURNING *
                """, [.uuid(id), step.map(PGValue.text), .int(failures), .text(error), .double(Self.seconds(retryIn))])
            guard let row = updated.first else {
                throw ExecutionLedgerError.conflict("execution \(id.uuidString.lowercased()) moved away from step \(step ?? "-")")
            }
            let record = try ExecutionRecord(row: row)
            try await insertEvent(id, step: "retry", status: record.status, detail: [
                "message": .string("\(step ?? "-") will be retried in \(Self.tenths(Self.seconds(retryIn)))s (failure \(failures)): \(error)"),
                "retrying_step": step.map(JSONValue.string) ?? .null, "error": .string(error),
            ], on: conn)
            return record
        }
    }

    /// Hands an execution back without a change (for example after an error reading the database).
    public func release(_ id: UUID, retryIn: Duration) async throws {
        _ = try await conn.query("""
            UPDATE executions SET next_poll_at = now() + make_interval(secs => $2)
            WHERE uuid = $1::uuid AND status IN ('pending', 'running', 'awaiting_scheduler', 'retrying')
            """, [.uuid(id), .double(Self.seconds(retryIn))])
    }

    /// Asks the runner to cancel. Terminal executions refuse; asking twice is harmless. A `pending`
    /// execution has sent nothing to any backend (every driver records its first step before its
    /// first call), so it ends `cancelled` at once, runner or not; a runner that took it meanwhile
    /// finds it moved and leaves it. Otherwise the runner cancels the backend work and then
    /// records `cancelled`: the execution becomes due at once, unless a runner holds it (its
    /// `next_poll_at` is a lease more than `leaseThreshold` ahead), when that runner's next step,
    /// which is due immediately, handles the cancel.
    @discardableResult
    public func requestCancel(idOrName: String, actor: String) async throws -> ExecutionRecord {
        guard let found = try await get(idOrName: idOrName) else { throw ExecutionLedgerError.executionNotFound(idOrName) }
        return try await conn.transaction { conn in
            guard let row = try await conn.query("SELECT * FROM executions WHERE uuid = $1::uuid FOR UPDATE", [.uuid(found.id)]).first else {
                throw ExecutionLedgerError.executionNotFound(idOrName)
            }
            let current = try ExecutionRecord(row: row)
            if current.isTerminal { throw ExecutionLedgerError.alreadyTerminal(execution: current.name, status: current.status) }
            if current.status == .pending {
                _ = try await conn.query("UPDATE executions SET cancel_requested_at = now() WHERE uuid = $1::uuid", [.uuid(current.id)])
                return try await ExecutionLedger(conn: conn).transition(current.id, expecting: (current.status, current.step), ExecutionTransition(
                    status: .cancelled, step: Self.cancelledStep,
                    message: "cancelled by \(actor) before any runner started it; nothing was sent to a backend"))
            }
            if current.cancelRequestedAt != nil { return current }
            let updated = try await conn.query("""
                UPDATE executions SET cancel_requested_at = now(), updated_at = now(),
                    next_poll_at = CASE WHEN next_poll_at IS NULL OR next_poll_at <= now() + make_interval(secs => $2)
                                        THEN now() ELSE next_poll_at END
                WHERE uuid = $1::uuid RETURNING *
                """, [.uuid(current.id), .double(Self.seconds(Self.leaseThreshold))])
            try await insertEvent(current.id, step: "cancel_requested", status: current.status,
                                  detail: ["message": .string("cancel requested by \(actor)")], on: conn)
            try await conn.notify(Self.wakeChannel, payload: current.id.uuidString.lowercased())
            return try ExecutionRecord(row: try updated.single())
        }
    }

    // MARK: Plumbing

    private func insertEvent(_ id: UUID, step: String, status: ExecutionStatus, detail: [String: JSONValue], on conn: PGConnection) async throws {
        _ = try await conn.query("INSERT INTO execution_events (execution_id, step, status, detail) VALUES ($1::uuid, $2, $3, $4)",
                                 [.uuid(id), .text(step), .text(status.rawValue), .json(JSONValue.object(detail).canonicalString)])
        try await conn.notify(Self.eventChannel, payload: "\(id.uuidString.lowercased()) \(status.rawValue) \(step)")
    }

    static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return max(0, Double(s) + Double(atto) / 1e18)
    }

    /// `2`, `0.5`, `12.3`: at most one decimal, none when whole (no locale-aware formatter: see UTCTimestamp).
    static func tenths(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(tenths % 10)"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex(_ text: String) -> [UInt8] {
        func value(_ c: UInt8) -> UInt8 {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: 0
            }
        }
        let chars = Array(text.utf8)
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i + 1 < chars.count {
            out.append(value(chars[i]) << 4 | value(chars[i + 1]))
            i += 2
        }
        return out
    }
}
