import BeamsyncModel
import BeamsyncStore
import BeamsyncTime
import Foundation

/// Where a recorded step belongs. The runner resumes an execution by calling the driver method of
/// its step's phase; the driver makes the external call the step names (after checking the
/// backend's own state, so a repeated step never repeats its effect) and records the next step.
public enum ExecutionPhase: Sendable, Equatable {
    /// Preparing the graph (Translator Manager).
    case translate
    /// Handing the work to the backend (a DIM session, a Slurm job).
    case submit
    /// Following submitted work to its end.
    case poll
}

/// The steps every backend shares: where an execution starts and where it ends.
public enum CommonStep: String, Sendable, CaseIterable {
    case created
    case completed, failed, cancelled
    case notSubmitted = "not_submitted"
}

/// One backend's part of running an execution: translate, submit, poll, cancel. Each driver
/// names its own steps (recorded in `executions.step`); `resume` continues from the last one.
public protocol ExecutionDriver: Sendable {
    /// Recorded in `executions.backend`.
    var backend: ExecutionBackend { get }
    /// The phase of a step this driver records; nil for a step it does not know.
    func phase(of step: String) -> ExecutionPhase?
    func translate(_ execution: ExecutionRecord, in context: DriverContext) async throws
    func submit(_ execution: ExecutionRecord, in context: DriverContext) async throws
    func poll(_ execution: ExecutionRecord, in context: DriverContext) async throws
    /// Called instead of the phase's method once a cancel was requested.
    func cancel(_ execution: ExecutionRecord, in context: DriverContext) async throws
}

extension ExecutionDriver {
    /// Advances `execution` by one step from the step recorded last.
    public func resume(_ execution: ExecutionRecord, in context: DriverContext) async throws {
        if execution.cancelRequestedAt != nil { return try await cancel(execution, in: context) }
        let step = execution.step ?? CommonStep.created.rawValue
        switch phase(of: step) {
        case .translate: try await translate(execution, in: context)
        case .submit: try await submit(execution, in: context)
        case .poll: try await poll(execution, in: context)
        case nil: try await context.fail(execution, "unknown step '\(step)' for a \(backend.rawValue) execution")
        }
    }
}

/// What a driver may use while it advances one execution: the ledger on the step's own
/// connection, the runner's HTTP client, configuration, time, logging and shared caches. Drivers
/// never see the runner.
public struct DriverContext: Sendable {
    public let ledger: ExecutionLedger
    public let http: HTTPClient
    public let configuration: RunnerConfiguration
    public let clock: any WallClock
    public let logger: RunnerLogger?
    /// Draws from 0..<1 for jitter (fixed in tests).
    public let random: @Sendable () -> Double
    /// Physical graphs prepared by translation, by execution.
    public let graphs: PreparedGraphs
    /// At most `translationsPerTM` translations at once per Translator Manager.
    public let translations: HostGate
    /// The runner's SSH session pool, key policy and job pollers for `slurm_remote`.
    public let slurm: SlurmBackend
    /// Log each execution that ends ("execution finished"): the controller's runner does, a
    /// foreground runner prints the events instead.
    public let reportsLifecycle: Bool

    public init(ledger: ExecutionLedger, http: HTTPClient, configuration: RunnerConfiguration, clock: any WallClock,
                logger: RunnerLogger?, random: @escaping @Sendable () -> Double, graphs: PreparedGraphs, translations: HostGate,
                slurm: SlurmBackend, reportsLifecycle: Bool = false) {
        self.reportsLifecycle = reportsLifecycle
        self.ledger = ledger
        self.http = http
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.random = random
        self.graphs = graphs
        self.translations = translations
        self.slurm = slurm
    }

    /// Records `change` if the execution is still where it was read.
    public func move(_ e: ExecutionRecord, _ change: ExecutionTransition) async throws {
        let moved = try await ledger.transition(e.id, expecting: (e.status, e.step), change)
        reportEnd(moved)
    }

    private func reportEnd(_ record: ExecutionRecord) {
        guard reportsLifecycle, record.isTerminal else { return }
        log(record.status == .failed ? .warning : .info, "execution finished",
            ["execution": record.name, "status": record.status.rawValue, "step": record.step ?? "-"])
    }

    /// Ends the execution as failed with `message`.
    public func fail(_ e: ExecutionRecord, _ message: String, backend: ExecutionBackend? = nil,
                     submission: SubmissionState? = nil, detail: [String: JSONValue] = [:], failedDrops: JSONValue? = nil,
                     daliugeState: String? = nil, schedulerState: String? = nil) async throws {
        log(.warning, "execution \(e.name) failed: \(message)")
        let failed = try await ledger.transition(e.id, expecting: (e.status, e.step), ExecutionTransition(
            status: .failed, step: CommonStep.failed.rawValue, message: message, detail: detail,
            submissionState: submission ?? (e.submissionState == .submitted ? nil : .failed),
            schedulerState: schedulerState, backend: backend, daliugeState: daliugeState, lastError: message,
            failedDrops: failedDrops))
        reportEnd(failed)
    }

    /// `delay` scaled by a random factor in 1 ± the poll jitter.
    public func jittered(_ delay: Duration) -> Duration {
        delay.jittered(by: configuration.poll.jitter, random: random())
    }

    /// How long ago `date` was, by this context's clock (never negative).
    public func elapsed(since date: Date) -> Duration {
        .fromSeconds(max(0, clock.now().timeIntervalSince(date)))
    }

    public func log(_ level: RunnerLogger.Level, _ message: String, _ metadata: [String: String] = [:]) {
        logger?.emit(level, message, metadata)
    }
}

/// Physical graphs kept between the steps of one execution (append, deploy, naming failed
/// drops); read back from `graph_blobs` when not here.
public actor PreparedGraphs {
    private var graphs: [UUID: PhysicalGraph] = [:]
    private let limit: Int

    public init(limit: Int = 256) { self.limit = limit }

    public func get(_ id: UUID) -> PhysicalGraph? { graphs[id] }

    public func put(_ graph: PhysicalGraph, for id: UUID) {
        if graphs.count >= limit { graphs.removeAll() }
        graphs[id] = graph
    }

    public func forget(_ id: UUID) { graphs[id] = nil }
}
