import BeamsyncModel
import BeamsyncStore

/// Why no driver can run an execution; the execution fails with this message.
struct DriverRefusal: Error {
    var message: String
    var backend: ExecutionBackend?
}

/// Picks the driver for an execution from its pinned profile snapshot. A new backend is a new
/// `ExecutionDriver` and one case here.
enum ExecutionDrivers {
    static func driver(for e: ExecutionRecord, configuration: RunnerConfiguration, http: HTTPClient) -> Result<any ExecutionDriver, DriverRefusal> {
        if e.backend == .simulated || (e.backend == nil && !configuration.useRealBackends) {
            return .success(SimulatedDriver())
        }
        guard let snapshot = e.deploymentProfileSnapshot else {
            return .failure(DriverRefusal(message: "the execution has no pinned deployment profile snapshot; "
                                          + "beamsync does not fall back to a live profile (create it again)"))
        }
        let profile: DeploymentProfile
        do {
            profile = try ProfileSnapshot.decode(snapshot)
        } catch {
            return .failure(DriverRefusal(message: error.description))
        }
        switch profile.deployment {
        case .restRemote(let rest):
            do {
                return .success(try RestRemoteDriver(profile: profile, rest: rest, http: http, caFile: configuration.caFile))
            } catch {
                return .failure(DriverRefusal(message: "deployment profile '\(profile.name)': \(error)", backend: .restRemote))
            }
        case .slurmRemote(let slurm):
            do {
                return .success(try SlurmRemoteDriver(profile: profile, slurm: slurm, http: http, caFile: configuration.caFile))
            } catch {
                return .failure(DriverRefusal(message: "deployment profile '\(profile.name)': \(error)", backend: .slurmRemote))
            }
        }
    }
}
