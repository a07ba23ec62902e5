import BeamsyncSSH
import Foundation

/// Follows every job in flight on one target with one batched poll per cycle, however many
/// executions ask: the runner's concurrent `reading` calls for jobs of this target share cycles.
///
/// A cycle is one `squeue -t all` for every job the poller tracks (plus DALiuGE's session status
/// from each job's log, in the same round trip), and one `sacct` only for the jobs squeue no
/// longer lists or lists as finished: at most two remote commands, and one while jobs merely wait
/// or run. A call is answered by a cycle that started at most `freshness` before it, else by the
/// next cycle, which starts as soon as the one in flight ends.
public actor SlurmJobPoller {
    public struct Statistics: Sendable, Equatable {
        public var cycles = 0
        public var remoteCommands = 0
        /// Calls answered without a remote command of their own.
        public var sharedReadings = 0
        public var lastCycle: Duration = .zero
    }

    private struct Cycle {
        var started: ContinuousClock.Instant
        var jobs: Set<String>
        var task: Task<[String: SlurmJobReading], Error>
    }

    private struct Tracked {
        var sessionDir: String?
        var lastAsked: ContinuousClock.Instant
    }

    public let target: SSHTarget
    private let pool: SSHSessionPool
    private let freshness: Duration
    private let commandTimeout: Duration
    /// A job nobody asked about for this long is no longer polled (its execution moved on).
    private let forgetAfter: Duration
    private var tracked: [String: Tracked] = [:]
    private var inFlight: Cycle?
    private var next: Task<[String: SlurmJobReading], Error>?
    private var last: (started: ContinuousClock.Instant, readings: [String: SlurmJobReading])?
    public private(set) var statistics = Statistics()

    public init(target: SSHTarget, pool: SSHSessionPool, freshness: Duration = .seconds(1), commandTimeout: Duration = .seconds(60),
                forgetAfter: Duration = .seconds(900)) {
        self.target = target
        self.pool = pool
        self.freshness = freshness
        self.commandTimeout = commandTimeout
        self.forgetAfter = forgetAfter
    }

    /// Starts following `job` (its next cycle includes it).
    public func track(_ job: String, sessionDir: String?) {
        tracked[job] = Tracked(sessionDir: sessionDir ?? tracked[job]?.sessionDir, lastAsked: .now)
    }

    /// Stops following `job` (it ended).
    public func forget(_ job: String) {
        tracked[job] = nil
    }

    /// Jobs followed now.
    public var trackedJobs: [String] { tracked.keys.sorted() }

    /// The job's state from a cycle that started at most `freshness` ago, or from the next one.
    /// Throws what the cycle's SSH commands threw (the caller keeps the last known state).
    public func reading(of job: String, sessionDir: String?) async throws -> SlurmJobReading {
        track(job, sessionDir: sessionDir)
        let asked = ContinuousClock.now
        if let last, last.started.duration(to: asked) <= freshness, let reading = last.readings[job] {
            statistics.sharedReadings += 1
            return reading
        }
        if let cycle = inFlight, cycle.jobs.contains(job), cycle.started.duration(to: asked) <= freshness {
            statistics.sharedReadings += 1
            return try await answer(cycle.task, job)
        }
        let task = next ?? scheduleNext()
        return try await answer(task, job)
    }

    private func answer(_ task: Task<[String: SlurmJobReading], Error>, _ job: String) async throws -> SlurmJobReading {
        try await task.value[job] ?? SlurmJobReading(jobID: job, rawState: nil, source: .none)
    }

    /// The cycle after the one in flight; calls arriving meanwhile join it.
    private func scheduleNext() -> Task<[String: SlurmJobReading], Error> {
        let previous = inFlight?.task
        let task = Task { [self] in
            _ = try? await previous?.value
            // The calls of one runner pass are started together: they are already queued behind
            // this task, so yielding lets them join this cycle without adding a fixed delay.
            for _ in 0..<8 { await Task.yield() }
            return try await self.runNextCycle()
        }
        next = task
        return task
    }

    private func runNextCycle() async throws -> [String: SlurmJobReading] {
        let now = ContinuousClock.now
        tracked = tracked.filter { $0.value.lastAsked.duration(to: now) <= forgetAfter }
        let jobs = tracked.keys.sorted { (Int($0) ?? 0, $0) < (Int($1) ?? 0, $1) }
        let sessionDirs = tracked.compactMapValues(\.sessionDir)
        guard let task = next else { return [:] }
        next = nil
        inFlight = Cycle(started: now, jobs: Set(jobs), task: task)
        defer { inFlight = nil }
        statistics.cycles += 1
        let readings = try await poll(jobs, sessionDirs: sessionDirs)
        statistics.lastCycle = now.duration(to: .now)
        last = (now, readings)
        return readings
    }

    /// One cycle's remote commands.
    private func poll(_ jobs: [String], sessionDirs byJob: [String: String]) async throws -> [String: SlurmJobReading] {
        let sessionDirs = Array(Set(byJob.values)).sorted()
        guard !jobs.isEmpty else { return [:] }
        statistics.remoteCommands += 1
        let result = try await pool.exec(SlurmCommands.poll(jobs: jobs, sessionDirs: byJob), on: target,
                                         timeout: commandTimeout, label: "squeue")
        var queueLines: [Substring] = []
        var otherLines: [Substring] = []
        var status: Int?
        var sessionStates: [String: DIMSessionState] = [:]
        for line in result.stdoutText.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("Q|") {
                queueLines.append(line.dropFirst(2))
            } else if line.hasPrefix("R|") {
                status = Int(line.dropFirst(2))
            } else if line.hasPrefix("D|") {
                let fields = line.dropFirst(2).split(separator: "|", maxSplits: 1)
                guard fields.count == 2, let state = DaliugeJobLog.sessionState(fields[1]) else { continue }
                let path = String(fields[0])
                if let dir = sessionDirs.first(where: { path.hasPrefix($0 + "/") }) { sessionStates[dir] = state }
            } else {
                otherLines.append(line)
            }
        }
        guard let status, status == 0 || SlurmOutput.onlyUnknownJobIDs(otherLines) else {
            throw SSHError.commandFailed(endpoint: target.endpoint, command: "squeue",
                                         reason: "exit status \(status.map(String.init) ?? "none"): "
                                             + otherLines.joined(separator: " ").prefix(300))
        }
        let queue = SlurmOutput.squeue(queueLines)
        // sacct only for jobs squeue does not list (aged out, or not known yet) or lists as ended.
        let needAccounting = jobs.filter { queue[$0].map { SlurmJobState(raw: $0.state).isTerminal } ?? true }
        var accounting: [String: SlurmOutput.AccountingLine] = [:]
        if !needAccounting.isEmpty {
            statistics.remoteCommands += 1
            let answer = try await pool.exec(SlurmCommands.sacct(needAccounting), on: target, timeout: commandTimeout, label: "sacct")
            guard answer.succeeded else {
                throw SSHError.commandFailed(endpoint: target.endpoint, command: "sacct",
                                             reason: "exit status \(answer.exitStatus.map(String.init) ?? "none"): "
                                                 + answer.stderrText.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))
            }
            accounting = SlurmOutput.sacct(answer.stdoutText)
        }
        var readings: [String: SlurmJobReading] = [:]
        for job in jobs {
            let dir = tracked[job]?.sessionDir
            let daliuge = dir.flatMap { sessionStates[$0] }
            if let line = queue[job] {
                readings[job] = SlurmJobReading(jobID: job, rawState: line.state, reason: line.reason,
                                                exitCode: accounting[job]?.exitCode, source: .squeue, daliuge: daliuge)
            } else if let record = accounting[job] {
                readings[job] = SlurmJobReading(jobID: job, rawState: record.state, exitCode: record.exitCode, source: .sacct,
                                                daliuge: daliuge)
            } else {
                readings[job] = SlurmJobReading(jobID: job, rawState: nil, source: .none, daliuge: daliuge)
            }
        }
        return readings
    }
}
