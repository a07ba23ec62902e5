/// What one poll cycle learnt about one job.
public struct SlurmJobReading: Sendable, Hashable {
    public enum Source: String, Sendable {
        case squeue, sacct
        /// Neither lists the job (not yet in sacct, or gone from both).
        case none
    }

    public var jobID: String
    /// The state as printed (`PENDING`, `CANCELLED by 1001`); nil when no source lists the job.
    public var rawState: String?
    public var state: SlurmJobState
    /// squeue's reason (`Priority`, `Resources`, `TimeLimit`, `None`).
    public var reason: String?
    /// sacct's `ExitCode` (`3:0` = exit status 3, no signal), when sacct was asked.
    public var exitCode: String?
    public var source: Source
    /// The DALiuGE session's state from the job's `start_dlg_cluster.log`, once the job wrote one.
    public var daliuge: DIMSessionState?

    public init(jobID: String, rawState: String?, reason: String? = nil, exitCode: String? = nil, source: Source,
                daliuge: DIMSessionState? = nil) {
        self.jobID = jobID
        self.rawState = rawState
        self.state = rawState.map(SlurmJobState.init(raw:)) ?? .unknown
        self.reason = reason
        self.exitCode = exitCode
        self.source = source
        self.daliuge = daliuge
    }

    /// For `scheduler_state`: `PENDING (Priority)`, `RUNNING`, `CANCELLED by 1001`, `FAILED (exit 3:0)`, `UNKNOWN`.
    public var schedulerText: String {
        guard let raw = rawState else { return "UNKNOWN" }
        var text = raw
        if state == .pending, let reason, !reason.isEmpty, reason != "None" { text += " (\(reason))" }
        if state == .failed, let exitCode, !exitCode.isEmpty { text += " (exit \(exitCode))" }
        return text
    }
}
