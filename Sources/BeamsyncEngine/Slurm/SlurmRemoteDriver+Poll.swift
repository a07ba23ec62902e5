import BeamsyncModel
import BeamsyncSSH
import BeamsyncStore
import BeamsyncTime
import Foundation

extension SlurmRemoteDriver {
    func poll(_ e: ExecutionRecord, in context: DriverContext) async throws {
        guard let job = e.slurmJobID, SlurmJobID.isValid(job) else {
            return try await context.fail(e, "step \(e.step ?? "-") without a valid Slurm job id (\(e.slurmJobID ?? "none"))")
        }
        switch SlurmRemoteStep(rawValue: e.step ?? "") {
        case .stoppingFailedGraph: return try await stopFailedGraph(e, job: job, context)
        case .cancelling: return try await cancel(e, in: context)
        default: break
        }
        let reading: SlurmJobReading
        do {
            reading = try await context.slurm.poller(for: sshTarget(context)).reading(of: job, sessionDir: e.remoteSessionDir)
        } catch {
            return try await failedPoll(e, job: job, error, context)
        }
        if reading.state.isTerminal { return try await finish(e, job: job, reading, context) }
        let policy = context.configuration.poll
        let running = context.elapsed(since: e.startedAt ?? e.createdAt)
        if running >= policy.maxDuration {
            return try await context.fail(e, "job \(job) is still \(reading.schedulerText) after \(Int(running.inSeconds)) s, longer than "
                                          + "beamsync follows an execution; it was not cancelled (scancel \(job) to stop it)",
                                          schedulerState: reading.schedulerText)
        }
        if reading.state == .running, reading.daliuge == .failed {
            return try await context.move(e, ExecutionTransition(
                status: e.status == .running ? nil : .running, step: SlurmRemoteStep.stoppingFailedGraph.rawValue,
                message: "the DALiuGE session FAILED inside job \(job), which would keep running until its time limit; cancelling the job",
                schedulerState: reading.schedulerText, daliugeState: "FAILED"))
        }
        if reading.state == .unknown { return try await unknownJob(e, job: job, context) }
        let delay = context.jittered(min(policy.maxDelay, max(policy.initialDelay, running / 10)))
        let daliuge = reading.daliuge?.description
        let message = "job \(job) is \(reading.schedulerText)" + (daliuge.map { "; DALiuGE session \($0)" } ?? "")
        let status = reading.state.executionStatus
        if status != e.status {
            try await context.move(e, ExecutionTransition(status: status, step: SlurmRemoteStep.submitted.rawValue, message: message,
                                                          schedulerState: reading.schedulerText, daliugeState: daliuge, nextPollIn: delay))
        } else {
            try await context.ledger.recordPoll(e.id, expectingStep: e.step, daliugeState: daliuge, schedulerState: reading.schedulerText,
                                                pollFailures: 0, nextPollIn: delay, message: message)
        }
    }

    /// A poll that did not answer keeps the last known state; the job runs on regardless.
    private func failedPoll(_ e: ExecutionRecord, job: String, _ error: Error, _ context: DriverContext) async throws {
        if error is CancellationError { throw error }
        if case .cancelled? = error as? SSHError { throw CancellationError() }
        let failures = e.pollFailures + 1
        let policy = context.configuration.poll
        let delay = min(policy.maxDelay, policy.initialDelay * pow(policy.multiplier, Double(min(failures - 1, 16))))
        try await context.ledger.recordPoll(
            e.id, expectingStep: e.step, daliugeState: nil, pollFailures: failures, nextPollIn: context.jittered(delay),
            message: "polling job \(job) failed (\(Self.describe(error))); keeping its last known state \(e.schedulerState ?? "-") "
                + "and polling again", alwaysRecord: failures == 1)
    }

    /// Neither squeue nor sacct lists the job. Right after sbatch sacct may lag, but squeue
    /// knows every job until MinJobAge after its end; a job missing from both for long is lost.
    private func unknownJob(_ e: ExecutionRecord, job: String, _ context: DriverContext) async throws {
        let failures = (e.schedulerState == "UNKNOWN" ? e.pollFailures : 0) + 1
        let policy = context.configuration.poll
        let since = try await context.ledger.recordPoll(
            e.id, expectingStep: e.step, daliugeState: nil, schedulerState: "UNKNOWN", pollFailures: failures,
            nextPollIn: context.jittered(min(policy.maxDelay, policy.initialDelay * pow(policy.multiplier, Double(min(failures - 1, 16))))),
            message: "neither squeue nor sacct lists job \(job) (reading \(failures))")
        let missing = context.elapsed(since: since)
        if failures >= policy.maxUnknownReadings && missing >= context.configuration.slurm.unknownGrace {
            let fresh = try await context.ledger.get(id: e.id) ?? e
            await context.slurm.poller(for: sshTarget(context)).forget(job)
            try await context.fail(fresh, "neither squeue nor sacct has listed job \(job) for \(Int(missing.inSeconds)) s "
                                   + "(\(failures) readings); its outcome is unknown", schedulerState: "UNKNOWN")
        }
    }

    /// The job ended: its state decides, and DALiuGE's session status tells a failed graph from a
    /// job that ran out of time (both end TIMEOUT: start_dlg_cluster waits for FINISHED).
    func finish(_ e: ExecutionRecord, job: String, _ reading: SlurmJobReading, note: String = "", _ context: DriverContext) async throws {
        await context.slurm.poller(for: sshTarget(context)).forget(job)
        let scheduler = reading.schedulerText
        let daliuge = reading.daliuge
        let session = daliuge.map { "; DALiuGE session \($0)" } ?? ""
        if daliuge == .failed, reading.state != .cancelled || e.cancelRequestedAt == nil {
            let ending = reading.state == .timeout ? "; the job ran until its time limit (\(scheduler))" : "; job \(job) ended \(scheduler)"
            return try await failGraph(e, job: job, ending + note, scheduler: scheduler, context)
        }
        switch reading.state {
        case .completed:
            try await context.move(e, ExecutionTransition(
                status: .completed, step: CommonStep.completed.rawValue,
                message: "job \(job) COMPLETED" + (reading.exitCode.map { " (exit code \($0))" } ?? "") + session + note,
                schedulerState: scheduler, daliugeState: daliuge?.description))
        case .cancelled:
            let outside = e.cancelRequestedAt == nil
            try await context.move(e, ExecutionTransition(
                status: .cancelled, step: CommonStep.cancelled.rawValue,
                message: (outside ? "job \(job) was cancelled outside beamsync (\(scheduler))" : "cancelled on request: job \(job) \(scheduler)")
                    + session + note,
                schedulerState: scheduler, daliugeState: daliuge?.description,
                lastError: outside ? "job \(job) was cancelled outside beamsync (\(scheduler))" : nil))
        case .timeout:
            try await context.fail(e, "job \(job) reached its time limit of \(slurm.effectiveWallTimeMinutes) minute(s) (TIMEOUT)"
                                   + (daliuge.map { " while the DALiuGE session was \($0)" } ?? " before DALiuGE reported a session status")
                                   + note, daliugeState: daliuge?.description, schedulerState: scheduler)
        default:
            try await context.fail(e, "job \(job) ended \(scheduler)" + session
                                   + (e.remoteSessionDir.map { "; see err-\(job).log in \($0)" } ?? "") + note,
                                   daliugeState: daliuge?.description, schedulerState: scheduler)
        }
    }

    /// `stopping_failed_graph`: the job's DALiuGE session failed; scancel ends the job now rather
    /// than at its time limit, and the execution fails naming the failed drops.
    private func stopFailedGraph(_ e: ExecutionRecord, job: String, _ context: DriverContext) async throws {
        do {
            let result = try await context.slurm.pool.exec(SlurmCommands.scancel([job]), on: sshTarget(context),
                                                            timeout: context.configuration.slurm.commandTimeout, label: "scancel")
            guard result.succeeded else {
                throw SSHError.commandFailed(endpoint: sshTarget(context).endpoint, command: "scancel",
                                             reason: "exit status \(result.exitStatus.map(String.init) ?? "none"): \(Self.tail(result.stderrText))")
            }
        } catch {
            if error is CancellationError { throw error }
            return try await retryLater(e, "cancelling job \(job) after its DALiuGE session failed: \(Self.describe(error))", context)
        }
        await context.slurm.poller(for: sshTarget(context)).forget(job)
        try await failGraph(e, job: job, "; job \(job) was cancelled (it would have run until its time limit)", scheduler: "CANCELLED", context)
    }

    /// Fails the execution for its failed DALiuGE session, naming the failed drops from the
    /// managers' logs in the session directory.
    private func failGraph(_ e: ExecutionRecord, job: String, _ ending: String, scheduler: String, _ context: DriverContext) async throws {
        let drops = await failedDrops(e, context)
        let session = "the DALiuGE session of job \(job) FAILED"
        let reason = session + (drops.first.map { "; first failed drop: \($0)" } ?? "") + ending
        let list = JSONValue.array(drops.map { .object(["oid": .string($0.oid), "name": $0.name.map(JSONValue.string) ?? .null]) })
        try await context.fail(e, reason, failedDrops: drops.isEmpty ? nil : list, daliugeState: "FAILED", schedulerState: scheduler)
    }

    /// The drops in error, from the session directory's logs, named from the uploaded graph
    /// template; empty when they cannot be read.
    private func failedDrops(_ e: ExecutionRecord, _ context: DriverContext) async -> [FailedDrop] {
        guard let directory = e.remoteSessionDir,
              let result = try? await context.slurm.pool.exec(SlurmCommands.failedDropLines(sessionDir: directory), on: sshTarget(context),
                                                               timeout: context.configuration.slurm.commandTimeout, label: "grep")
        else { return [] }
        var names: [String: String] = [:]
        if let sha = try? await recorded(Self.graphKey, e, context), let bytes = try? await context.ledger.graph(sha256: sha),
           let template = try? PartitionedGraph(stored: bytes) {
            names = template.dropNames
        }
        return DaliugeJobLog.failedDrops(result.stdoutText, names: names)
    }
}

/// Slurm job ids as beamsync handles them: digits only (they are spliced into command lines).
enum SlurmJobID {
    static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 20 && id.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
