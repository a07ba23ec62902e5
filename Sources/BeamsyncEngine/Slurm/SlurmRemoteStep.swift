/// The steps of a `slurm_remote` execution, in order. Each is recorded before the remote call it
/// names; a repeated step looks at the cluster first, so nothing is ever submitted twice.
public enum SlurmRemoteStep: String, Sendable, CaseIterable {
    /// The Translator Manager unrolls and partitions the graph.
    case translating
    /// The partitioned graph and its DALiuGE configuration are uploaded over SFTP.
    case staging
    /// DALiuGE's `create_dlg_job` writes the job script on the login node.
    case creatingJobScript = "creating_job_script"
    /// A job with the execution's name is looked for, and sbatch runs only when there is none.
    case submitting
    /// sbatch's answer was not exactly one job id: the job is looked up by its name.
    case reconciling
    /// The job is followed with squeue and sacct (and DALiuGE's session status) to its end.
    case submitted
    /// The job's DALiuGE session failed while the job still runs: the job is cancelled.
    case stoppingFailedGraph = "stopping_failed_graph"
    /// Cancel was requested: scancel, then wait for the job to end.
    case cancelling

    var phase: ExecutionPhase {
        switch self {
        case .translating: .translate
        case .staging, .creatingJobScript, .submitting, .reconciling: .submit
        case .submitted, .stoppingFailedGraph, .cancelling: .poll
        }
    }
}

/// Test hooks that widen a crash window on request. `BEAMSYNC_FAULT_PAUSE_AFTER_SBATCH_MS` pauses
/// between sbatch's answer and the ledger write that records the job; unset, nothing happens.
enum SlurmFaultInjection {
    static let pauseAfterSbatchVariable = "BEAMSYNC_FAULT_PAUSE_AFTER_SBATCH_MS"

    static func pauseAfterSbatch(_ environment: [String: String]) async throws {
        guard let text = environment[pauseAfterSbatchVariable], let ms = Int(text), ms > 0 else { return }
        try await Task.sleep(for: .milliseconds(ms))
    }
}
