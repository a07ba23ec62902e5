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
/// Up to `configuration.concurrency` executions advance at the same time, each on its own
/// database connection (from a pool the runner owns) and its own HTTP transfer thread; the
/// hand-over (`ExecutionLedger.due`) runs on a separate control connection. An execution is
/// advanced by one task at a time: while a step runs, its lease keeps it out of `due`.
///
/// Several runners may run against one database: `ExecutionLedger.due` hands each execution to
/// one runner at a time.
public actor ExecutionRunner {
    public let configuration: RunnerConfiguration
    let conninfo: String
    let logger: RunnerLogger?
    let http: HTTPClient
    let random: @Sendable () -> Double
    /// For `due`, `nextDueAt` and `release`: single statements only, so concurrent tasks may share it.
    private var connection: PGConnection?
    /// One connection per execution being advanced (steps run transactions).
    private var workers: PGPool?
    /// Executions being advanced by `run(until:)` right now.
    private var active = 0
    /// Translations in flight per Translator Manager (`translationsPerTM`).
    let translations: HostGate
    /// Prepared physical graphs by execution (read from `graph_blobs`), for append, deploy and
    /// naming failed drops.
    var graphs: [UUID: PhysicalGraph] = [:]

    /// `environment` decides the backends (`BEAMPIPE_USE_REAL_BACKENDS`) unless `configuration`
    /// is given.
    public init(conninfo: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                configuration: RunnerConfiguration? = nil, logger: RunnerLogger? = nil,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        var configuration = configuration ?? RunnerConfiguration(environment: environment)
        configuration.concurrency = max(1, configuration.concurrency)
        self.conninfo = conninfo
        self.configuration = configuration
        self.logger = logger
        // One transfer thread per execution that may be advancing, so concurrent polls of slow
        // DIMs do not queue behind each other.
        self.http = HTTPClient(threads: max(2, configuration.concurrency), name: "beamsync-runner-http",
                               maxPerHost: configuration.callsPerHost)
        self.random = random
        self.translations = HostGate(limit: max(1, configuration.translationsPerTM))
    }

    /// HTTP requests this runner has sent (for metrics and benchmarks).
    public nonisolated var httpRequestsSent: Int { http.requestsSent }

    /// Closes the runner's database connections (a later pass opens new ones).
    public func close() async {
        await connection?.close()
        connection = nil
        await workers?.close()
        workers = nil
    }

    /// One pass: takes up to `batchSize` due executions and advances each one step (or one poll),
    /// `concurrency` of them at a time. Returns how many executions it took. Database trouble is
    /// logged and reported as 0.
    public func runOnce() async -> Int {
        let due = await takeDue(limit: configuration.batchSize)
        let width = configuration.concurrency
        await withTaskGroup(of: Void.self) { group in
            var started = 0
            for execution in due {
                if started >= width { await group.next() }
                started += 1
                group.addTask { await self.advancePooled(execution) }
            }
            await group.waitForAll()
        }
        return due.count
    }

    /// Runs until `done` says so or the task is cancelled. Keeps up to `concurrency` executions
    /// advancing: whenever one finishes its step, due executions fill the free slot, so a slow
    /// Translator Manager or DIM holds up only the executions that wait on it. When nothing is
    /// due it waits for the next due execution, waking early on `NOTIFY beamsync_executions`
    /// (sent when an execution is created or cancelled). On cancellation the steps in flight are
    /// cancelled and their executions handed back at once (their recorded step is repeated
    /// safely by whoever takes them next); when `done` ends the loop, they finish first.
    public func run(until done: @Sendable () async -> Bool = { false }) async {
        let bell = Doorbell()
        let listener = Task.detached { [conninfo, logger] in
            await Self.listenForWakeUps(conninfo: conninfo, logger: logger, bell: bell)
        }
        defer { listener.cancel() }
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let free = configuration.concurrency - active
                var asked = 0
                var taken = 0
                if free > 0 {
                    asked = min(free, max(1, configuration.batchSize))
                    let due = await takeDue(limit: asked)
                    taken = due.count
                    active += taken
                    for execution in due {
                        group.addTask {
                            await self.advancePooled(execution)
                            await self.stepFinished()
                            await bell.ring()
                        }
                    }
                }
                if await done() || Task.isCancelled { break }
                if taken > 0 && taken == asked { continue }  // there may be more
                var wait = configuration.idleWait
                if active < configuration.concurrency, let next = try? await control().nextDueAt() {
                    let until = Duration.milliseconds(Int64((next.timeIntervalSinceNow * 1000).rounded(.up)))
                    // Due already but not handed over (another runner's pick holds it): look again shortly.
                    wait = min(wait, until > .zero ? until : .milliseconds(20))
                }
                if wait > .zero { await bell.wait(timeout: wait) }
            }
        }
    }

    private func stepFinished() { active -= 1 }

    /// Due executions from the control connection; [] (logged) when the database fails.
    private func takeDue(limit: Int) async -> [ExecutionRecord] {
        do {
            return try await control().due(limit: limit, lease: configuration.lease)
        } catch {
            log(.error, "runner pass failed: \(error)")
            if connection?.isBroken ?? false { connection = nil }
            return []
        }
    }

    /// Advances one execution on a connection of the worker pool.
    private func advancePooled(_ execution: ExecutionRecord) async {
        if Task.isCancelled {
            await handBack(execution)
            return
        }
        do {
            try await workerPool().withConnection { conn in
                await advance(execution, ledger: ExecutionLedger(conn: conn))
            }
        } catch {
            // No connection: the lease runs out and any runner takes the execution again.
            log(.error, "execution \(execution.name): no database connection for its step: \(error)")
        }
    }

    /// Makes an execution due again at once, outside any cancelled task (a shut-down runner's
    /// executions go straight to the next runner instead of waiting for their lease).
    private func handBack(_ execution: ExecutionRecord) async {
        let conninfo = self.conninfo
        await Task.detached {
            guard let conn = try? await PGConnection.connect(conninfo: conninfo) else { return }
            try? await ExecutionLedger(conn: conn).release(execution.id, retryIn: .zero)
            await conn.close()
        }.value
    }

    /// Rings `bell` for every `NOTIFY beamsync_executions`; reconnects after failures.
    private static func listenForWakeUps(conninfo: String, logger: RunnerLogger?, bell: Doorbell) async {
        while !Task.isCancelled {
            guard let listener = try? await PGConnection.connect(conninfo: conninfo) else {
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            do {
                try await listener.listen(ExecutionLedger.wakeChannel)
                while !Task.isCancelled {
                    if try await listener.waitForNotification(timeout: .seconds(30)) != nil { await bell.ring() }
                }
            } catch is CancellationError {
            } catch {
                logger?.emit(.warning, "LISTEN connection failed: \(error); reconnecting", [:])
                try? await Task.sleep(for: .seconds(1))
            }
            await listener.close()
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
            if Task.isCancelled {
                log(.info, "execution \(execution.name): step \(execution.step ?? "-") interrupted by shutdown; handed back")
                await handBack(execution)
            } else {
                log(.error, "execution \(execution.name) at step \(execution.step ?? "-"): \(error)")
                // A broken connection goes back to the pool, which closes it.
                if !ledger.conn.isBroken { try? await ledger.release(execution.id, retryIn: .seconds(5)) }
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

    nonisolated func log(_ level: RunnerLogger.Level, _ message: String, _ metadata: [String: String] = [:]) {
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

    /// The ledger on the control connection (single statements only).
    private func control() async throws -> ExecutionLedger {
        if let connection, !connection.isBroken { return ExecutionLedger(conn: connection) }
        let conn = try await PGConnection.connect(conninfo: conninfo)
        connection = conn
        return ExecutionLedger(conn: conn)
    }

    private func workerPool() -> PGPool {
        if let workers { return workers }
        let pool = PGPool(conninfo: conninfo, maxConnections: configuration.concurrency)
        workers = pool
        return pool
    }
}

/// Wakes the runner loop: a finished step or a notification rings it; the loop waits for a ring
/// or a timeout. A ring while nobody waits is kept for the next wait.
actor Doorbell {
    private var rung = false
    private var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
    private var nextID: UInt64 = 0

    func ring() {
        if let waiter {
            self.waiter = nil
            waiter.continuation.resume()
        } else {
            rung = true
        }
    }

    /// Returns at the next ring (or at once if one came since the last wait), after `timeout`,
    /// or when the task is cancelled.
    func wait(timeout: Duration) async {
        if rung {
            rung = false
            return
        }
        let id = nextID
        nextID += 1
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                if Task.isCancelled {
                    continuation.resume()
                } else {
                    waiter = (id, continuation)
                }
            }
        } onCancel: {
            Task { await self.expire(id) }
        }
        timer.cancel()
    }

    private func expire(_ id: UInt64) {
        guard let waiter, waiter.id == id else { return }
        self.waiter = nil
        waiter.continuation.resume()
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
