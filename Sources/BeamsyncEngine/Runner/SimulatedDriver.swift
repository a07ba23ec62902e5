import BeamsyncModel
import BeamsyncStore
import Foundation

/// The built-in stand-in used when `BEAMPIPE_USE_REAL_BACKENDS` is not true: it records what
/// it would deploy (graph, profile, session id) and completes, contacting nothing. Every line it
/// writes starts with "simulated:".
struct SimulatedDriver: ExecutionDriver {
    /// The one step between `created` and the end: what would have been deployed is recorded.
    static let step = "simulated"

    var backend: ExecutionBackend { .simulated }

    func phase(of step: String) -> ExecutionPhase? {
        switch step {
        case CommonStep.created.rawValue: .translate
        case Self.step: .submit
        default: nil
        }
    }

    func cancel(_ e: ExecutionRecord, in context: DriverContext) async throws {
        try await context.move(e, ExecutionTransition(
            status: .cancelled, step: CommonStep.cancelled.rawValue, message: "simulated: cancelled on request; no backend was contacted",
            backend: .simulated, simulated: true))
    }

    func poll(_ e: ExecutionRecord, in context: DriverContext) async throws {
        try await submit(e, in: context)
    }

    /// Ends the execution as the real backend would have, had it succeeded.
    func submit(_ e: ExecutionRecord, in context: DriverContext) async throws {
        if e.doSubmit {
            try await context.move(e, ExecutionTransition(
                status: .completed, step: CommonStep.completed.rawValue,
                message: "simulated: completed; nothing was translated or deployed (BEAMPIPE_USE_REAL_BACKENDS is not true)",
                submissionState: .submitted, daliugeState: "SIMULATED"))
        } else {
            try await context.move(e, ExecutionTransition(
                status: .notSubmitted, step: CommonStep.notSubmitted.rawValue,
                message: "simulated: do_submit is false, so nothing would be submitted"))
        }
    }

    /// Records what the real backend would translate and deploy, and where.
    func translate(_ e: ExecutionRecord, in context: DriverContext) async throws {
        let sessionID = DaliugeSessionID.make(executionID: e.id, createdAt: e.createdAt)
        var detail: [String: JSONValue] = [
            "graph_sha256": e.graphSHA256.map(JSONValue.string) ?? .null,
            "session_id": .string(sessionID),
            "profile_id": e.deploymentProfileID.map { .string($0.uuidString.lowercased()) } ?? .null,
            "profile_name": e.profileName.map(JSONValue.string) ?? .null,
            "profile_revision": e.deploymentProfileRevision.map { .int(Int64($0)) } ?? .null,
        ]
        var target = "its backend"
        if let snapshot = e.deploymentProfileSnapshot, let profile = try? ProfileSnapshot.decode(snapshot) {
            detail["deployment_kind"] = .string(profile.deployment.kind.rawValue)
            switch profile.deployment {
            case .restRemote(let rest):
                if let dim = try? DIMEndpoint(rest: rest) {
                    detail["dim_url"] = .string(dim.baseURL)
                    target = "DIM \(dim.baseURL)"
                }
                if let tm = profile.translation.tmURL { detail["tm_url"] = .string(tm) }
            case .slurmRemote(let slurm):
                detail["login_node"] = .string(slurm.loginNode)
                target = "Slurm login node \(slurm.loginNode)"
            }
        }
        let sha = (e.graphSHA256 ?? "unknown").prefix(12)
        let state = e.status == .pending ? ExecutionStatus.running : nil
        try await context.move(e, ExecutionTransition(
            status: state, step: Self.step,
            message: "simulated: would translate graph \(sha) with profile '\(e.profileName ?? "?")' "
                + "(revision \(e.deploymentProfileRevision ?? 0)) and deploy it as session \(sessionID) on \(target); "
                + "BEAMPIPE_USE_REAL_BACKENDS is not true, so no backend is contacted",
            detail: detail, submissionState: .preparing, backend: .simulated, simulated: true))
    }
}
