import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTime
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
    let clock: any WallClock
    /// For `due`, `nextDueAt` and `release`: one round trip each and never an open transaction,
    /// so concurrent tasks may share it.
    private var connection: PGConnection?
    /// One connection per execution being advanced (steps run transactions).
    private var workers: PGPool?
    /// Executions being advanced by `run(until:)` right now.
    private var active = 0
    /// Translations in flight per Translator Manager (`translationsPerTM`).
    let translations: HostGate
    /// Prepared physical graphs by execution, for append, deploy and naming failed drops.
    let graphs = PreparedGraphs()
    /// The SSH session pool (one session per login node), key policy and job pollers every
    /// `slurm_remote` execution of this runner shares.
    public nonisolated let slurm: SlurmBackend
    /// When set, the runner advances this execution only (a foreground `executions create`):
    /// other executions wait for a runner that works through the whole ledger, with that runner's
    /// backend settings.
    public let only: UUID?

    /// `environment` decides the backends (`BEAMPIPE_USE_REAL_BACKENDS`) unless `configuration`
    /// is given.
    public init(conninfo: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                configuration: RunnerConfiguration? = nil, logger: RunnerLogger? = nil, only: UUID? = nil,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, clock: any WallClock = SystemWallClock()) {
        var configuration = configuration ?? RunnerConfiguration(environment: environment)
        configuration.concurrency = max(1, configuration.concurrency)
        self.only = only
        self.conninfo = conninfo
        self.configuration = configuration
        self.logger = logger
        // One transfer thread per execution that may be advancing, so concurrent polls of slow
        // DIMs do not queue behind each other.
        self.http = HTTPClient(threads: max(2, configuration.concurrency), name: "beamsync-runner-http",
                               maxPerHost: configuration.callsPerHost)
        self.random = random
        self.clock = clock
        self.translations = HostGate(limit: max(1, configuration.translationsPerTM))
        self.slurm = SlurmBackend(environment: configuration.environment, settings: configuration.slurm)
    }

    /// HTTP requests this runner has sent (for metrics and benchmarks).
    public nonisolated var httpRequestsSent: Int { http.requestsSent }

    /// Closes the runner's database connections and SSH sessions (a later pass opens new ones).
    public func close() async {
        await slurm.close()
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
            await Self.listenForWakeUps(conninfo: conninfo, applicationName: RunnerPresence.listenerApplicationName, logger: logger, bell: bell)
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
                if active < configuration.concurrency, let next = try? await control().nextDueAt(only: only) {
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
            return try await control().due(limit: limit, lease: configuration.lease, heldRecheck: configuration.admissionRecheck, only: only)
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
    private static func listenForWakeUps(conninfo: String, applicationName: String, logger: RunnerLogger?, bell: Doorbell) async {
        while !Task.isCancelled {
            guard let listener = try? await PGConnection.connect(conninfo: conninfo, overrides: ["application_name": applicationName]) else {
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
        // A foreground runner prints the execution's events itself; the controller's runner logs
        // the executions it takes up and (in `DriverContext`) how they end.
        let reportsLifecycle = only == nil
        if reportsLifecycle && e.status == .pending && e.startedAt == nil && e.cancelRequestedAt == nil {
            log(.info, "execution started", ["execution": e.name, "project": e.projectModule, "profile": e.profileName ?? "-",
                                             "backend": configuration.useRealBackends ? "real" : "simulated"])
        }
        let context = DriverContext(ledger: ledger, http: http, configuration: configuration, clock: clock, logger: logger,
                                    random: random, graphs: graphs, translations: translations, slurm: slurm, reportsLifecycle: reportsLifecycle)
        switch ExecutionDrivers.driver(for: e, configuration: configuration, http: http) {
        case .success(let driver):
            try await driver.resume(e, in: context)
        case .failure(let refusal):
            try await context.fail(e, refusal.message, backend: refusal.backend)
        }
    }

    nonisolated func log(_ level: RunnerLogger.Level, _ message: String, _ metadata: [String: String] = [:]) {
        logger?.emit(level, message, metadata)
    }

    /// The ledger on the control connection (one round trip per call, no open transaction).
    private func control() async throws -> ExecutionLedger {
        if let connection, !connection.isBroken { return ExecutionLedger(conn: connection) }
        // The session's name is how others see that a runner is alive (`RunnerPresence`); a
        // foreground runner's does not count for the other executions.
        let name = only == nil ? RunnerPresence.applicationName : RunnerPresence.foregroundApplicationName
        let conn = try await PGConnection.connect(conninfo: conninfo, overrides: ["application_name": name])
        connection = conn
        return ExecutionLedger(conn: conn)
    }

    private func workerPool() -> PGPool {
        if let workers { return workers }
        let pool = PGPool(conninfo: conninfo, overrides: ["application_name": RunnerPresence.workerApplicationName],
                          maxConnections: configuration.concurrency)
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
