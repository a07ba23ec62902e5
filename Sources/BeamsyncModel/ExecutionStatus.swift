/// beampipe's execution statuses.
public enum ExecutionStatus: String, Sendable, Codable, CaseIterable {
    case pending, running
    case awaitingScheduler = "awaiting_scheduler"
    case completed, failed, cancelled
    case notSubmitted = "not_submitted"
    case retrying

    public var isTerminal: Bool { [.completed, .failed, .cancelled, .notSubmitted].contains(self) }
}

/// Which backend ran an execution, as recorded in `executions.backend`.
public enum ExecutionBackend: String, Sendable, Codable, CaseIterable {
    case restRemote = "rest_remote"
    case slurmRemote = "slurm_remote"
    /// The built-in stand-in used unless `BEAMPIPE_USE_REAL_BACKENDS` is true; contacts nothing.
    case simulated
}
