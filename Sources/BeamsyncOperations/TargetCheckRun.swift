import BeamsyncModel
import BeamsyncPlan
import BeamsyncStore
import BeamsyncTime
import Foundation

/// `plan --check-targets`: the checker of each profile a plan creates or changes, run
/// concurrently, each under its own deadline; the reports go into the plan, and each failed
/// check becomes a diagnostic: a warning, or with `require` an error (an error makes the plan,
/// and a saved copy of it, unappliable).
public struct TargetCheckRun: Sendable {
    public var checkers: [any TargetChecker]
    /// Each check's deadline. Checkers bound their own calls by it; one that is still running
    /// `grace` later is abandoned and reported as failed.
    public var deadline: Duration
    public var grace: Duration = .seconds(2)
    /// Checks running at once.
    public var maxConcurrent = 8

    public init(checkers: [any TargetChecker], deadline: Duration) {
        self.checkers = checkers
        self.deadline = deadline
    }

    /// A profile a plan creates or changes, as the plan will write it.
    public struct Target: Sendable {
        public var name: String
        public var origin: DocumentOrigin?
        /// The profile, or why the plan's copy of it could not be read back.
        public var profile: Result<DeploymentProfile, ExecutionLedgerError>
    }

    /// The profiles `plans` create or change, by name (a later plan's copy of a name is ignored).
    public static func targets(changedBy plans: [Plan]) -> [Target] {
        var seen = Set<String>()
        var targets: [Target] = []
        for plan in plans {
            for change in plan.changes where change.kind == .deploymentProfile && (change.action == .create || change.action == .update) {
                guard let after = change.after, seen.insert(change.name).inserted else { continue }
                let profile: Result<DeploymentProfile, ExecutionLedgerError>
                do {
                    profile = .success(try ProfileSnapshot.decode(after))
                } catch {
                    profile = .failure(error)
                }
                targets.append(Target(name: change.name, origin: change.origin, profile: profile))
            }
        }
        return targets
    }

    /// `plan` with the checks of the profiles it (and `others`, e.g. a pull request's change
    /// set) creates or changes: `targetChecks` set, a diagnostic per failed check.
    public func checked(_ plan: Plan, alsoChangedBy others: [Plan] = [], require: Bool) async -> Plan {
        let targets = Self.targets(changedBy: [plan] + others)
        let reports = await run(targets)
        var out = plan
        out.targetChecks = reports
        for (target, report) in zip(targets, reports) {
            guard let failed = report.firstFailure else { continue }
            out.diagnostics.append(Diagnostic(
                require ? .error : .warning, code: .targetCheckFailed, location: target.origin?.location, path: "",
                message: "profile '\(report.profile)': \(report.kind.command) failed at step \(failed.name)"
                    + (failed.detail.map { ": \($0)" } ?? ""),
                hint: failed.hint))
        }
        return out
    }

    /// One report per target, in the targets' order.
    public func run(_ targets: [Target]) async -> [TargetCheckReport] {
        await withTaskGroup(of: (Int, TargetCheckReport).self) { group in
            var reports = [TargetCheckReport?](repeating: nil, count: targets.count)
            var waiting = targets.indices.makeIterator()
            for _ in 0..<max(1, maxConcurrent) {
                guard let index = waiting.next() else { break }
                group.addTask { (index, await check(targets[index])) }
            }
            while let (index, report) = await group.next() {
                reports[index] = report
                if let next = waiting.next() { group.addTask { (next, await check(targets[next])) } }
            }
            return reports.map { $0! }
        }
    }

    private func check(_ target: Target) async -> TargetCheckReport {
        let profile: DeploymentProfile
        switch target.profile {
        case .success(let p): profile = p
        case .failure(let error):
            return TargetCheckReport(profile: target.name, kind: .dim, target: "(unknown)", steps: [
                TargetCheckStep(name: "profile", description: "the planned profile can be read", outcome: .failed, seconds: 0,
                                detail: "\(error)", hint: "run beamsync validate on the repository"),
            ])
        }
        let kind = TargetCheckReport.Kind(profile.deployment.kind)
        guard let checker = checkers.first(where: { $0.handles(profile.deployment.kind) }) else {
            return TargetCheckReport(profile: profile.name, kind: kind, target: Self.describe(profile.deployment), steps: [
                TargetCheckStep(name: "unavailable", description: "\(kind.command) is not available in this build", outcome: .skipped,
                                seconds: 0, detail: "\(kind.command) is not available in this build"),
            ])
        }
        let limit = deadline + grace
        if let report = await DeadlineRace.run(limit: limit, { await checker.check(profile) }) { return report }
        return TargetCheckReport(profile: profile.name, kind: kind, target: Self.describe(profile.deployment), steps: [
            TargetCheckStep(name: "deadline", description: "the check finishes in time", outcome: .failed, seconds: limit.inSeconds,
                            detail: "\(kind.command) did not finish within \(Int(deadline.inSeconds.rounded(.up))) s and was abandoned",
                            hint: "a peer is not answering; run `beamsync \(kind.command) --profile \(profile.name)` to see which step hangs"),
        ])
    }

    /// The target as people name it, before any check ran.
    static func describe(_ deployment: DeploymentTarget) -> String {
        switch deployment {
        case .restRemote(let rest): "\(rest.useHTTPS ? "https" : "http")://\(rest.deployHost)" + (rest.deployPort.map { ":\($0)" } ?? "")
        case .slurmRemote(let slurm): "\(slurm.loginNode):\(slurm.sshPort)" + (slurm.remoteUser.map { " as \($0)" } ?? "")
        }
    }
}

/// Waits for `work` at most `limit`: the value, or nil when the time ran out first (the work is
/// then cancelled and no longer waited for, so a checker that ignores cancellation cannot hold
/// the plan up).
enum DeadlineRace {
    static func run<Value: Sendable>(limit: Duration, _ work: @escaping @Sendable () async -> Value) async -> Value? {
        let race = Race<Value>()
        return await withCheckedContinuation { continuation in
            race.begin(continuation)
            race.add(Task { race.finish(await work()) })
            race.add(Task {
                try? await Task.sleep(for: limit)
                race.finish(nil)
            })
        }
    }

    /// The first `finish` resumes the waiter and cancels every task; later calls do nothing.
    private final class Race<Value: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var continuation: CheckedContinuation<Value?, Never>?
        private var tasks: [Task<Void, Never>] = []
        private var done = false

        func begin(_ continuation: CheckedContinuation<Value?, Never>) {
            lock.withLock { self.continuation = continuation }
        }

        func add(_ task: Task<Void, Never>) {
            let cancel = lock.withLock { () -> Bool in
                if done { return true }
                tasks.append(task)
                return false
            }
            if cancel { task.cancel() }
        }

        func finish(_ value: Value?) {
            let (waiter, running) = lock.withLock { () -> (CheckedContinuation<Value?, Never>?, [Task<Void, Never>]) in
                guard !done else { return (nil, []) }
                done = true
                defer { continuation = nil; tasks = [] }
                return (continuation, tasks)
            }
            guard let waiter else { return }
            for task in running { task.cancel() }
            waiter.resume(returning: value)
        }
    }
}
