import BeamsyncSSH
import Foundation

/// How the `slurm_remote` backend paces and bounds its work.
public struct SlurmSettings: Sendable {
    /// One submission attempt (upload, job script, sbatch) must resolve within this; past it an
    /// attempt that sent nothing fails, and one that may have reached sbatch stays uncertain and
    /// is only ever looked up by name (`BEAMPIPE_WORKER_SUBMISSION_TIMEOUT_SECONDS`, 1–86400).
    public var submissionTimeout: Duration = .seconds(1800)
    /// Deadline of one short remote command (squeue, sacct, scancel, a look-up).
    public var commandTimeout: Duration = .seconds(60)
    /// Deadline of `create_dlg_job` (it imports DALiuGE, seconds on a busy login node).
    public var jobScriptTimeout: Duration = .seconds(180)
    /// Deadline of one upload.
    public var uploadTimeout: Duration = .seconds(120)
    /// A poll cycle that started at most this long before a poll call answers it.
    public var pollFreshness: Duration = .seconds(1)
    /// Pause between name look-ups of an uncertain submission that found nothing yet.
    public var reconcileDelay: Duration = .seconds(5)
    /// A job that neither squeue nor sacct lists for this long (after `maxUnknownReadings`
    /// readings) is given up on.
    public var unknownGrace: Duration = .seconds(120)

    public init() {}

    public static let submissionTimeoutVariable = "BEAMPIPE_WORKER_SUBMISSION_TIMEOUT_SECONDS"

    /// `BEAMPIPE_WORKER_SUBMISSION_TIMEOUT_SECONDS`: nil when unset, an error naming the
    /// variable when it is not a whole number of seconds from 1 to 86400.
    public static func submissionTimeout(from environment: [String: String]) throws(EngineConfigurationError) -> Duration? {
        guard let text = environment[submissionTimeoutVariable]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        guard let seconds = Int(text), (1...86_400).contains(seconds) else {
            throw EngineConfigurationError(field: submissionTimeoutVariable,
                                           message: "'\(text)' is not a whole number of seconds from 1 to 86400 (default 1800)")
        }
        return .seconds(seconds)
    }
}

/// What the runner shares among its `slurm_remote` executions: the SSH key policy (read from the
/// runner's environment), one SSH session pool (a session per target, reused by every execution
/// and reopened after a drop) and one job poller per target.
public final class SlurmBackend: Sendable {
    public let policy: SSHKeyPolicy
    public let pool: SSHSessionPool
    public let settings: SlurmSettings
    /// The runner's environment (variables `environment_setup` forwards to jobs).
    public let environment: [String: String]
    private let pollers = PollerRegistry()

    public init(environment: [String: String], settings: SlurmSettings = SlurmSettings(), pool: SSHSessionPool? = nil) {
        let policy = SSHKeyPolicy(environment: environment)
        self.policy = policy
        self.environment = environment
        self.settings = settings
        self.pool = pool ?? SSHSessionPool { target in
            // Asked at every (re)connect, so a rotated key or known_hosts file is picked up.
            try policy.resolve(SSHProfileFields(loginNode: target.host, sshPort: target.port, remoteUser: target.user,
                                                credentialSlot: target.credential)).requireCredential()
        }
    }

    /// The poller of `target` (one per target, made on first use).
    public func poller(for target: SSHTarget) async -> SlurmJobPoller {
        await pollers.poller(for: target) {
            SlurmJobPoller(target: target, pool: pool, freshness: settings.pollFreshness, commandTimeout: settings.commandTimeout)
        }
    }

    /// Closes every SSH session (the next call opens a new one).
    public func close() async {
        await pool.closeAll()
    }
}

private actor PollerRegistry {
    private var pollers: [SSHTarget: SlurmJobPoller] = [:]

    func poller(for target: SSHTarget, make: @Sendable () -> SlurmJobPoller) -> SlurmJobPoller {
        if let existing = pollers[target] { return existing }
        let poller = make()
        pollers[target] = poller
        return poller
    }
}
