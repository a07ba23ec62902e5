import Foundation

/// Where the runner's log lines go. BeamsyncEngine does not depend on swift-log; the caller
/// adapts (`RunnerLogger { level, message, metadata in logger.log(...) }`).
public struct RunnerLogger: Sendable {
    public enum Level: String, Sendable { case debug, info, warning, error }

    public var emit: @Sendable (Level, String, [String: String]) -> Void

    public init(_ emit: @escaping @Sendable (Level, String, [String: String]) -> Void) {
        self.emit = emit
    }
}

/// How the runner behaves. `init(environment:)` reads `BEAMPIPE_USE_REAL_BACKENDS`.
public struct RunnerConfiguration: Sendable {
    /// false: every execution runs through the simulated backend, which contacts nothing.
    public var useRealBackends: Bool
    /// How many due executions one pass (`runOnce`) takes.
    public var batchSize: Int = 16
    /// How many executions one runner advances at the same time (`BEAMSYNC_RUNNER_CONCURRENCY`,
    /// `beamsync run --runner-concurrency`). Each advancing execution has its own database
    /// connection and HTTP transfer thread, so a slow Translator Manager or DIM holds up only the
    /// executions waiting on it.
    public var concurrency: Int = RunnerConfiguration.defaultConcurrency
    public static let defaultConcurrency = 8
    /// At most this many calls to one Translator Manager or DIM at once. DALiuGE's managers
    /// listen with a backlog of 5: connections beyond it are dropped and the kernel retries
    /// them a second later, so more than 4 at once makes every call slower, not faster.
    public var callsPerHost: Int = 4
    /// At most this many translations at once per Translator Manager. DALiuGE 6.6.0's TM imports
    /// and patches `metis` on its first partitioning without a lock: two first partitionings at
    /// once fail with HTTP 500 (`module 'metis' has no attribute 'part_graph'`). A TM is one
    /// Python process, so translating one graph at a time costs little.
    public var translationsPerTM: Int = 1
    /// How long a runner owns an execution it took (a runner that dies mid-step gives it up
    /// after this); longer than any single backend call.
    public var lease: Duration = .seconds(300)
    /// Poll pacing and limits. The active-session delay grows with the time since the execution
    /// started (a tenth of it) between `initialDelay` and `maxDelay`; failed readings back off by
    /// `multiplier`. `maxUnknownReadings` consecutive readings in which the DIM does not know the
    /// session end it as failed; `maxDuration` bounds the whole run.
    public var poll = PollPolicy(initialDelay: .milliseconds(500), maxDelay: .seconds(15), multiplier: 2, jitter: 0.2,
                                 maxDuration: .seconds(24 * 3600), maxUnknownReadings: 3, maxUnreachableReadings: 10)
    /// An unreachable DIM ends polling only after `poll.maxUnreachableReadings` failed readings in
    /// a row AND at least this long: a DIM restart is ridden out.
    public var unreachableGrace: Duration = .seconds(600)
    /// Attempts for a submission step (translate, create, append, deploy) whose failure may pass
    /// (nothing answered), before the execution fails.
    public var submitAttempts: Int = 3
    /// Wait between such attempts (doubles each time).
    public var submitRetryDelay: Duration = .seconds(2)
    /// CA bundle for TLS to the TM and DIM (`BEAMSYNC_CA_FILE`).
    public var caFile: String?
    public var graphFetchTimeout: Duration = .seconds(60)
    /// Longest idle wait in `run(until:)` between looks at the ledger (notifications wake it earlier).
    public var idleWait: Duration = .seconds(5)
    /// How often a pending execution held by its profile's `max_concurrent_executions` is looked
    /// at again when nothing else wakes it (a slot freeing on this runner does at once).
    public var admissionRecheck: Duration = .seconds(30)
    /// The `slurm_remote` backend's pacing and deadlines.
    public var slurm = SlurmSettings()
    /// The environment the SSH key policy reads (`SLURM_SSH_*`, `BEAMPIPE_*`, credential slots)
    /// and `environment_setup` forwards from; the process environment unless given.
    public var environment: [String: String]

    public init(useRealBackends: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.useRealBackends = useRealBackends
        self.environment = environment
    }

    /// Reads `BEAMPIPE_USE_REAL_BACKENDS`, `BEAMSYNC_CA_FILE`, `BEAMSYNC_RUNNER_CONCURRENCY` and
    /// `BEAMPIPE_WORKER_SUBMISSION_TIMEOUT_SECONDS` (malformed values keep the defaults;
    /// `concurrency(from:)` and `SlurmSettings.submissionTimeout(from:)` report them), and keeps
    /// `environment` for the SSH key policy.
    public init(environment: [String: String]) {
        self.init(useRealBackends: Self.useRealBackends(environment), environment: environment)
        if let ca = environment["BEAMSYNC_CA_FILE"], !ca.isEmpty { caFile = ca }
        if let width = try? Self.concurrency(from: environment) { concurrency = width }
        if let timeout = try? SlurmSettings.submissionTimeout(from: environment) { slurm.submissionTimeout = timeout }
    }

    /// `BEAMSYNC_RUNNER_CONCURRENCY`: nil when unset, an error naming the variable when it is not
    /// a whole number from 1 to 256.
    public static func concurrency(from environment: [String: String]) throws(EngineConfigurationError) -> Int? {
        guard let text = environment["BEAMSYNC_RUNNER_CONCURRENCY"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return nil
        }
        guard let value = Int(text), (1...256).contains(value) else {
            throw EngineConfigurationError(field: "BEAMSYNC_RUNNER_CONCURRENCY",
                                           message: "'\(text)' is not a whole number from 1 to 256 (default \(defaultConcurrency))")
        }
        return value
    }

    /// `BEAMPIPE_USE_REAL_BACKENDS` is true when it says true, 1, yes or on (any case).
    public static func useRealBackends(_ environment: [String: String]) -> Bool {
        guard let value = environment["BEAMPIPE_USE_REAL_BACKENDS"] else { return false }
        return ["true", "1", "yes", "on"].contains(value.trimmingCharacters(in: .whitespaces).lowercased())
    }
}
