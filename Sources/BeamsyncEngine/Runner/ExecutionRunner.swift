import BeamsyncModel
import BeamsyncPlan
import BeamsyncStore
import Foundation

/// Drives every execution in the ledger, whoever created it (git apply, CLI, API): translate,
/// deploy, poll, terminal state. Each pass advances every due execution by one step: it makes
/// the external call the recorded step names (after checking the backend's state, so a repeated
/// step never repeats its effect) and records the next step before anything else is called. A
/// runner that stops at any point is resumed by any other runner from the recorded step.
///
/// Several runners may run against one database: `ExecutionLedger.due` hands each execution to
/// one runner at a time.
public actor ExecutionRunner {
    public let configuration: RunnerConfiguration
    let conninfo: String
    let logger: RunnerLogger?
    let http: HTTPClient
    let random: @Sendable () -> Double
    private var connection: PGConnection?
    /// Prepared physical graphs by execution (read from `graph_blobs`), for append, deploy and
    /// naming failed drops.
    var graphs: [UUID: PhysicalGraph] = [:]

    /// `environment` decides the backends (`BEAMPIPE_USE_REAL_BACKENDS`) unless `configuration`
    /// is given.
    public init(conninfo: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                configuration: RunnerConfiguration? = nil, logger: RunnerLogger? = nil,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.conninfo = conninfo
        self.configuration = configuration ?? RunnerConfiguration(environment: environment)
        self.logger = logger
        self.http = HTTPClient(threads: 2, name: "beamsync-runner-http")
        self.random = random
    }

    /// Closes the runner's database connection.
    public func close() async {
        await connection?.close()
        connection = nil
    }

    /// One pass: takes every due execution and advances each one step (or one poll). Returns how
    /// many executions it took. Database trouble is logged and reported as 0.
    public func runOnce() async -> Int {
        do {
            let ledger = try await ledger()
            let due = try await ledger.due(limit: configuration.batchSize, lease: configuration.lease)
            for execution in due {
                if Task.isCancelled {
                    try? await ledger.release(execution.id, retryIn: .zero)
                    continue
                }
                await advance(execution, ledger: ledger)
            }
            return due.count
        } catch {
            log(.error, "runner pass failed: \(error)")
            if connection?.isBroken ?? false { connection = nil }
            return 0
        }
    }

    /// Passes until `done` says so or the task is cancelled. Between passes it waits for the next
    /// due execution, waking early on `NOTIFY beamsync_executions` (sent when an execution is
    /// created or cancelled).
    public func run(until done: @Sendable () async -> Bool = { false }) async {
        var listener: PGConnection? = nil
        defer { if let listener { Task { await listener.close() } } }
        while !Task.isCancelled {
            let taken = await runOnce()
            if await done() || Task.isCancelled { break }
            if taken > 0 { continue }
            if listener == nil || listener?.isBroken == true {
                listener = try? await PGConnection.connect(conninfo: conninfo)
                if let l = listener {
                    do { try await l.listen(ExecutionLedger.wakeChannel) } catch { listener = nil }
                }
            }
            var wait = configuration.idleWait
            if let next = try? await ledger().nextDueAt() {
                let until = next.timeIntervalSinceNow
                wait = min(wait, .milliseconds(Int64(max(0, until) * 1000)))
            }
            if wait <= .zero { continue }
            if let listener {
                do {
                    _ = try await listener.waitForNotification(timeout: wait)
                } catch is CancellationError {
                    break
                } catch {
                    log(.warning, "LISTEN connection failed: \(error); reconnecting")
                    await listener.close()
                    try? await Task.sleep(for: .seconds(1))
                }
            } else {
                try? await Task.sleep(for: wait)
            }
        }
    }

    // MARK: One execution

    func advance(_ execution: ExecutionRecord, ledger: ExecutionLedger) async {
        do {
            try await step(execution, ledger: ledger)
        } catch let error as ExecutionLedgerError {
            if case .conflict = error {
                log(.info, "execution \(execution.name): \(error); leaving it to whoever moved it")
            } else {
                log(.error, "execution \(execution.name): \(error)")
                try? await ledger.release(execution.id, retryIn: .seconds(5))
            }
        } catch {
            log(.error, "execution \(execution.name) at step \(execution.step ?? "-"): \(error)")
            if connection?.isBroken ?? false {
                connection = nil
            } else {
                try? await ledger.release(execution.id, retryIn: .seconds(5))
            }
        }
    }

    private func step(_ e: ExecutionRecord, ledger: ExecutionLedger) async throws {
        let simulated = e.backend == "simulated" || (e.backend == nil && !configuration.useRealBackends)
        if simulated {
            return try await SimulatedBackend(ledger: ledger).advance(e)
        }
        guard let snapshot = e.deploymentProfileSnapshot else {
            return try await fail(e, ledger: ledger, "the execution has no pinned deployment profile snapshot; "
                                  + "beamsync does not fall back to a live profile (create it again)")
        }
        let profile: DeploymentProfile
        do {
            profile = try ProfileSnapshot.decode(snapshot)
        } catch {
            return try await fail(e, ledger: ledger, error.description)
        }
        switch profile.deployment {
        case .slurmRemote:
            if e.cancelRequestedAt != nil {
                try await ledger.transition(e.id, expecting: (e.status, e.step), ExecutionTransition(
                    status: .cancelled, step: RunnerStep.cancelled, message: "cancelled before anything was submitted"))
                return
            }
            return try await fail(e, ledger: ledger, "slurm_remote backend is not available in this build "
                                  + "(profile '\(profile.name)'); nothing was submitted", backend: "slurm_remote")
        case .restRemote(let rest):
            let driver: RestRemoteDriver
            do {
                driver = try RestRemoteDriver(runner: self, ledger: ledger, profile: profile, rest: rest)
            } catch {
                return try await fail(e, ledger: ledger, "deployment profile '\(profile.name)': \(error)", backend: "rest_remote")
            }
            try await driver.advance(e)
        }
    }

    // MARK: Helpers shared by the drivers

    func fail(_ e: ExecutionRecord, ledger: ExecutionLedger, _ message: String, backend: String? = nil,
              submission: SubmissionState? = nil, detail: [String: JSONValue] = [:], failedDrops: JSONValue? = nil,
              daliugeState: String? = nil) async throws {
        log(.warning, "execution \(e.name) failed: \(message)")
        try await ledger.transition(e.id, expecting: (e.status, e.step), ExecutionTransition(
            status: .failed, step: RunnerStep.failed, message: message, detail: detail,
            submissionState: submission ?? (e.submissionState == .submitted ? nil : .failed),
            backend: backend, daliugeState: daliugeState, lastError: message, failedDrops: failedDrops))
    }

    func log(_ level: RunnerLogger.Level, _ message: String, _ metadata: [String: String] = [:]) {
        logger?.emit(level, message, metadata)
    }

    func cachedGraph(_ id: UUID) -> PhysicalGraph? { graphs[id] }
    func cache(_ graph: PhysicalGraph, for id: UUID) {
        if graphs.count > 256 { graphs.removeAll() }
        graphs[id] = graph
    }
    func forget(_ id: UUID) { graphs[id] = nil }

    /// `delay` scaled by a random factor in 1 ± jitter.
    func jittered(_ delay: Duration) -> Duration {
        let factor = 1 + configuration.poll.jitter * (2 * random() - 1)
        return delay * max(0.05, factor)
    }

    private func ledger() async throws -> ExecutionLedger {
        if let connection, !connection.isBroken { return ExecutionLedger(conn: connection) }
        let conn = try await PGConnection.connect(conninfo: conninfo)
        connection = conn
        return ExecutionLedger(conn: conn)
    }
}

/// The built-in stand-in used when `BEAMPIPE_USE_REAL_BACKENDS` is not true: it records what
/// it would deploy (graph, profile, session id) and completes, contacting nothing. Every line it
/// writes starts with "simulated:".
struct SimulatedBackend {
    let ledger: ExecutionLedger

    func advance(_ e: ExecutionRecord) async throws {
        let expect = (e.status, e.step)
        if e.cancelRequestedAt != nil {
            try await ledger.transition(e.id, expecting: expect, ExecutionTransition(
                status: .cancelled, step: RunnerStep.cancelled, message: "simulated: cancelled on request; no backend was contacted",
                backend: "simulated", simulated: true))
            return
        }
        switch e.step {
        case RunnerStep.simulated:
            if e.doSubmit {
                try await ledger.transition(e.id, expecting: expect, ExecutionTransition(
                    status: .completed, step: RunnerStep.completed,
                    message: "simulated: completed; nothing was translated or deployed (BEAMPIPE_USE_REAL_BACKENDS is not true)",
                    submissionState: .submitted, daliugeState: "SIMULATED"))
            } else {
                try await ledger.transition(e.id, expecting: expect, ExecutionTransition(
                    status: .notSubmitted, step: RunnerStep.notSubmitted,
                    message: "simulated: do_submit is false, so nothing would be submitted"))
            }
        default:
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
            try await ledger.transition(e.id, expecting: expect, ExecutionTransition(
                status: state, step: RunnerStep.simulated,
                message: "simulated: would translate graph \(sha) with profile '\(e.profileName ?? "?")' "
                    + "(revision \(e.deploymentProfileRevision ?? 0)) and deploy it as session \(sessionID) on \(target); "
                    + "BEAMPIPE_USE_REAL_BACKENDS is not true, so no backend is contacted",
                detail: detail, submissionState: .preparing, backend: "simulated", simulated: true))
        }
    }
}
