import BeamsyncModel
import BeamsyncStore

/// The `slurm_remote` backend. Not available yet: an execution on a Slurm profile fails at once,
/// saying so, and nothing is submitted; one cancelled before that ends cancelled.
struct SlurmRemoteDriver: ExecutionDriver {
    let profile: DeploymentProfile

    var backend: ExecutionBackend { .slurmRemote }

    func phase(of step: String) -> ExecutionPhase? {
        step == CommonStep.created.rawValue ? .translate : nil
    }

    func translate(_ e: ExecutionRecord, in context: DriverContext) async throws {
        try await context.fail(e, "slurm_remote backend is not available in this build (profile '\(profile.name)'); nothing was submitted",
                               backend: .slurmRemote)
    }

    func submit(_ e: ExecutionRecord, in context: DriverContext) async throws { try await translate(e, in: context) }
    func poll(_ e: ExecutionRecord, in context: DriverContext) async throws { try await translate(e, in: context) }

    func cancel(_ e: ExecutionRecord, in context: DriverContext) async throws {
        try await context.move(e, ExecutionTransition(
            status: .cancelled, step: CommonStep.cancelled.rawValue, message: "cancelled before anything was submitted"))
    }
}
