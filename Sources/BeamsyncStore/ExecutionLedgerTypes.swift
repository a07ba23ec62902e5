import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import Foundation

/// beampipe's execution status machine (its `ExecutionStatus.allows`).
public enum ExecutionStatusMachine {
    /// The statuses `from` may move to. completed and cancelled are locked terminal: nothing.
    public static func allowedNext(_ from: ExecutionStatus) -> Set<ExecutionStatus> {
        switch from {
        case .pending: [.running, .cancelled, .failed]
        case .running: [.awaitingScheduler, .completed, .notSubmitted, .failed, .cancelled]
        case .awaitingScheduler: [.running, .completed, .failed, .cancelled]
        case .notSubmitted: [.running, .cancelled]
        case .failed: [.retrying, .running, .cancelled]
        case .retrying: [.running, .failed, .cancelled]
        case .completed, .cancelled: []
        }
    }

    public static func allows(from: ExecutionStatus, to: ExecutionStatus) -> Bool {
        allowedNext(from).contains(to)
    }

    /// The statuses a runner still works on (the `idx_executions_due` set).
    public static let active: [ExecutionStatus] = [.pending, .running, .awaitingScheduler, .retrying]
}

/// beampipe's SubmissionState axis: how far the hand-over to the backend got.
public enum SubmissionState: String, Sendable, Codable, CaseIterable {
    case notStarted = "not_started"
    case preparing
    case inFlight = "in_flight"
    case submitted
    /// The backend may or may not have the work (a call timed out); never resubmitted blindly.
    case uncertain
    case failed
}

/// One row of `executions`, every column.
public struct ExecutionRecord: Sendable, Hashable, Codable {
    public var id: UUID
    public var name: String
    public var projectModule: String
    public var deploymentProfileID: UUID?
    public var deploymentProfileRevision: Int?
    /// `{id, name, description, project_module, is_default, max_concurrent_executions, revision,
    /// spec_sha256, translation, deployment}` as pinned at creation.
    public var deploymentProfileSnapshot: JSONValue?
    public var projectConfigID: UUID?
    public var sourceRevision: String?
    public var graphSHA256: String?
    public var graphPath: String?
    public var graphURL: String?
    public var doSubmit: Bool
    public var status: ExecutionStatus
    public var submissionState: SubmissionState
    /// The step recorded last: the external call it names was about to be made (or was made).
    public var step: String?
    public var daliugeSessionID: String?
    public var slurmJobID: String?
    public var remoteSessionDir: String?
    public var lastError: String?
    public var simulated: Bool
    /// `rest_remote`, `slurm_remote` or `simulated` once the runner picked a backend.
    public var backend: ExecutionBackend?
    public var cancelRequestedAt: Date?
    public var nextPollAt: Date?
    /// Consecutive polls that read no usable state (unknown session or unreachable DIM).
    public var pollFailures: Int
    public var daliugeState: String?
    /// `[{"oid": ..., "name": ...}]` for a failed graph.
    public var failedDrops: JSONValue?
    public var createdBy: String?
    /// When a runner first took it out of `pending` under its profile's `max_concurrent_executions`.
    public var admittedAt: Date?
    /// Why a pending execution waits (its profile's cap is reached); nil once admitted.
    public var waitingReason: String?
    /// The end of the current submission attempt; an unresolved submission is never retried blindly.
    public var submissionDeadlineAt: Date?
    /// The batch scheduler's view of the job (`PENDING (Priority)`, `RUNNING`, `TIMEOUT`).
    public var schedulerState: String?
    public var createdAt: Date
    public var updatedAt: Date?
    public var startedAt: Date?
    public var completedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, status, step, simulated, backend
        case projectModule = "project_module"
        case deploymentProfileID = "deployment_profile_id"
        case deploymentProfileRevision = "deployment_profile_revision"
        case deploymentProfileSnapshot = "deployment_profile_snapshot"
        case projectConfigID = "project_config_id"
        case sourceRevision = "source_revision"
        case graphSHA256 = "graph_sha256"
        case graphPath = "graph_path"
        case graphURL = "graph_url"
        case doSubmit = "do_submit"
        case submissionState = "submission_state"
        case daliugeSessionID = "daliuge_session_id"
        case slurmJobID = "slurm_job_id"
        case remoteSessionDir = "remote_session_dir"
        case lastError = "last_error"
        case cancelRequestedAt = "cancel_requested_at"
        case nextPollAt = "next_poll_at"
        case pollFailures = "poll_failures"
        case daliugeState = "daliuge_state"
        case failedDrops = "failed_drops"
        case createdBy = "created_by"
        case admittedAt = "admitted_at"
        case waitingReason = "waiting_reason"
        case submissionDeadlineAt = "submission_deadline_at"
        case schedulerState = "scheduler_state"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case completedAt = "completed_at"
    }

    /// UUIDs are written in lowercase, as PostgreSQL and beampipe print them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func lower(_ u: UUID?) -> String? { u?.uuidString.lowercased() }
        try c.encode(lower(id), forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(projectModule, forKey: .projectModule)
        try c.encode(lower(deploymentProfileID), forKey: .deploymentProfileID)
        try c.encode(deploymentProfileRevision, forKey: .deploymentProfileRevision)
        try c.encode(deploymentProfileSnapshot, forKey: .deploymentProfileSnapshot)
        try c.encode(lower(projectConfigID), forKey: .projectConfigID)
        try c.encode(sourceRevision, forKey: .sourceRevision)
        try c.encode(graphSHA256, forKey: .graphSHA256)
        try c.encode(graphPath, forKey: .graphPath)
        try c.encode(graphURL, forKey: .graphURL)
        try c.encode(doSubmit, forKey: .doSubmit)
        try c.encode(status, forKey: .status)
        try c.encode(submissionState, forKey: .submissionState)
        try c.encode(step, forKey: .step)
        try c.encode(daliugeSessionID, forKey: .daliugeSessionID)
        try c.encode(slurmJobID, forKey: .slurmJobID)
        try c.encode(remoteSessionDir, forKey: .remoteSessionDir)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(simulated, forKey: .simulated)
        try c.encode(backend, forKey: .backend)
        try c.encode(cancelRequestedAt, forKey: .cancelRequestedAt)
        try c.encode(nextPollAt, forKey: .nextPollAt)
        try c.encode(pollFailures, forKey: .pollFailures)
        try c.encode(daliugeState, forKey: .daliugeState)
        try c.encode(failedDrops, forKey: .failedDrops)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(admittedAt, forKey: .admittedAt)
        try c.encode(waitingReason, forKey: .waitingReason)
        try c.encode(submissionDeadlineAt, forKey: .submissionDeadlineAt)
        try c.encode(schedulerState, forKey: .schedulerState)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(completedAt, forKey: .completedAt)
    }

    public var isTerminal: Bool { status.isTerminal }

    /// The pinned profile's name, from the snapshot.
    public var profileName: String? { deploymentProfileSnapshot?["name"]?.stringValue }

    init(row: PGRow) throws {
        id = try row.uuid("uuid")
        name = try row.string("name")
        projectModule = try row.string("project_module")
        deploymentProfileID = try row.optionalUUID("deployment_profile_id")
        deploymentProfileRevision = try row.optionalInt("deployment_profile_revision")
        deploymentProfileSnapshot = try row.optionalJSON("deployment_profile_snapshot").map { try JSONValue.parse($0) }
        projectConfigID = try row.optionalUUID("project_config_id")
        sourceRevision = try row.optionalString("source_revision")
        graphSHA256 = try row.optionalString("graph_sha256")
        graphPath = try row.optionalString("graph_path")
        graphURL = try row.optionalString("graph_url")
        doSubmit = try row.bool("do_submit")
        let statusText = try row.string("status")
        guard let status = ExecutionStatus(rawValue: statusText) else {
            throw PostgresError.decoding("column \"status\" holds an unknown status '\(statusText)'")
        }
        self.status = status
        let submissionText = try row.string("submission_state")
        guard let submission = SubmissionState(rawValue: submissionText) else {
            throw PostgresError.decoding("column \"submission_state\" holds an unknown state '\(submissionText)'")
        }
        submissionState = submission
        step = try row.optionalString("step")
        daliugeSessionID = try row.optionalString("daliuge_session_id")
        slurmJobID = try row.optionalString("slurm_job_id")
        remoteSessionDir = try row.optionalString("remote_session_dir")
        lastError = try row.optionalString("last_error")
        simulated = try row.bool("simulated")
        backend = try row.optionalString("backend").flatMap(ExecutionBackend.init(rawValue:))
        cancelRequestedAt = try row.optionalDate("cancel_requested_at")
        nextPollAt = try row.optionalDate("next_poll_at")
        pollFailures = try row.int("poll_failures")
        daliugeState = try row.optionalString("daliuge_state")
        failedDrops = try row.optionalJSON("failed_drops").map { try JSONValue.parse($0) }
        createdBy = try row.optionalString("created_by")
        admittedAt = try row.optionalDate("admitted_at")
        waitingReason = try row.optionalString("waiting_reason")
        submissionDeadlineAt = try row.optionalDate("submission_deadline_at")
        schedulerState = try row.optionalString("scheduler_state")
        createdAt = try row.date("created_at")
        updatedAt = try row.optionalDate("updated_at")
        startedAt = try row.optionalDate("started_at")
        completedAt = try row.optionalDate("completed_at")
    }
}

/// One `execution_events` row: a step an execution took, recorded before the call it leads to.
public struct ExecutionEvent: Sendable, Hashable, Codable {
    public var id: Int64
    public var executionID: UUID
    public var occurredAt: Date
    public var step: String
    public var status: ExecutionStatus
    public var detail: JSONValue?

    enum CodingKeys: String, CodingKey {
        case id, step, status, detail
        case executionID = "execution_id"
        case occurredAt = "occurred_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(executionID.uuidString.lowercased(), forKey: .executionID)
        try c.encode(occurredAt, forKey: .occurredAt)
        try c.encode(step, forKey: .step)
        try c.encode(status, forKey: .status)
        try c.encode(detail, forKey: .detail)
    }

    /// The human line of the event (`detail.message`).
    public var message: String? { detail?["message"]?.stringValue }

    init(row: PGRow) throws {
        id = try row.int64("id")
        executionID = try row.uuid("execution_id")
        occurredAt = try row.date("occurred_at")
        step = try row.string("step")
        let statusText = try row.string("status")
        status = ExecutionStatus(rawValue: statusText) ?? .failed
        detail = try row.optionalJSON("detail").map { try JSONValue.parse($0) }
    }
}

/// Why a ledger operation refused.
public enum ExecutionLedgerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The request itself is wrong (both profile id and name, a malformed UUID, ...).
    case invalidRequest(String)
    /// Profile resolution found nothing; the message names the missing piece.
    case profileNotFound(String)
    /// The profile belongs to another project.
    case profileOutOfScope(profile: String, profileProject: String, project: String)
    /// The pinned profile does not decode as a DeploymentProfile.
    case invalidProfile(String)
    case duplicateName(String)
    case executionNotFound(String)
    /// The status machine does not allow this change.
    case illegalTransition(execution: String, from: ExecutionStatus, to: ExecutionStatus)
    /// Someone else moved the execution since it was read (another runner, a cancel).
    case conflict(String)
    case alreadyTerminal(execution: String, status: ExecutionStatus)

    public var description: String {
        switch self {
        case .invalidRequest(let m), .profileNotFound(let m), .invalidProfile(let m), .conflict(let m): m
        case .profileOutOfScope(let p, let pp, let project):
            "deployment profile '\(p)' belongs to project '\(pp)', not '\(project)'; use a global profile or one of project '\(project)'"
        case .duplicateName(let n): "an execution named '\(n)' already exists; names are unique (pick another --name)"
        case .executionNotFound(let n): "no execution with id or name '\(n)'"
        case .illegalTransition(let e, let from, let to):
            "execution '\(e)': \(from.rawValue) → \(to.rawValue) is not allowed (from \(from.rawValue) only "
                + (ExecutionStatusMachine.allowedNext(from).isEmpty ? "nothing: it is locked terminal"
                   : ExecutionStatusMachine.allowedNext(from).map(\.rawValue).sorted().joined(separator: ", ")) + ")"
        case .alreadyTerminal(let e, let s): "execution '\(e)' is already \(s.rawValue)"
        }
    }
}

/// Turns a pinned snapshot back into a `DeploymentProfile`, with the same rules as a profile
/// document (the snapshot's JSON is YAML, so it goes through `ProfileDecoder` unchanged).
public enum ProfileSnapshot {
    public static func decode(_ snapshot: JSONValue) throws(ExecutionLedgerError) -> DeploymentProfile {
        guard var object = snapshot.objectValue else {
            throw .invalidProfile("the pinned deployment profile snapshot is not a JSON object")
        }
        // Bookkeeping fields are not part of a profile document; nulls mean "absent".
        for key in ["id", "revision", "spec_sha256"] { object[key] = nil }
        object = object.filter { !$0.value.isNull }
        let name = object["name"]?.stringValue ?? "?"
        let file = "deployment_profile_snapshot(\(name))"
        let loaded = YAMLLoader.load(file: file, bytes: JSONValue.object(object).canonicalBytes)
        guard let root = loaded.documents.first?.root, !loaded.diagnostics.hasErrors else {
            throw .invalidProfile("the pinned snapshot of profile '\(name)' does not parse: "
                                  + loaded.diagnostics.map(\.message).joined(separator: "; "))
        }
        var sink = DiagnosticSink(file: file)
        guard let profile = ProfileDecoder.decode(root, origin: DocumentOrigin(file: file), sink: &sink), !sink.hasErrors else {
            throw .invalidProfile("the pinned snapshot of profile '\(name)' is not a valid deployment profile: "
                                  + sink.diagnostics.errors.map { "\($0.path): \($0.message)" }.joined(separator: "; "))
        }
        return profile
    }
}
