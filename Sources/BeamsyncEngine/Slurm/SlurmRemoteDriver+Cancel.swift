import BeamsyncModel
import BeamsyncSSH
import BeamsyncStore
import Foundation

extension SlurmRemoteDriver {
    /// Cancel on request. Before the submission is in flight: just record it. While it is in flight
    /// or uncertain: look the job up by name first (sbatch may have created it). With a job:
    /// record `cancelling`, then `scancel` (by id, and by the execution's unique job name, which
    /// also catches a job a lost sbatch answer left behind) until the job has ended.
    func cancel(_ e: ExecutionRecord, in context: DriverContext) async throws {
        let step = SlurmRemoteStep(rawValue: e.step ?? "")
        switch step {
        case .submitting, .reconciling:
            return try await cancelUnresolved(e, context)
        case .submitted, .stoppingFailedGraph, .cancelling:
            break
        default:
            return try await context.move(e, ExecutionTransition(
                status: .cancelled, step: CommonStep.cancelled.rawValue, message: "cancelled on request before anything was submitted"))
        }
        guard let job = e.slurmJobID, SlurmJobID.isValid(job) else { return try await cancelUnresolved(e, context) }
        guard step == .cancelling else {
            return try await context.move(e, ExecutionTransition(
                step: SlurmRemoteStep.cancelling.rawValue, message: "cancelling job \(job) ('\(sessionID(e))') with scancel"))
        }
        let target = sshTarget(context)
        do {
            let result = try await context.slurm.pool.exec(
                SlurmCommands.scancel([job]) + "; " + "scancel --name=\(ShellQuote.quote(sessionID(e)))", on: target,
                timeout: context.configuration.slurm.commandTimeout, label: "scancel")
            guard result.succeeded else {
                throw SSHError.commandFailed(endpoint: target.endpoint, command: "scancel",
                                             reason: "exit status \(result.exitStatus.map(String.init) ?? "none"): \(Self.tail(result.stderrText))")
            }
        } catch {
            return try await cancelFailed(e, error, "scancel \(job)", context)
        }
        let reading: SlurmJobReading
        do {
            reading = try await context.slurm.poller(for: target).reading(of: job, sessionDir: e.remoteSessionDir)
        } catch {
            return try await cancelFailed(e, error, "reading job \(job) after scancel", context)
        }
        if reading.state.isTerminal {
            return try await finish(e, job: job, reading, note: reading.state == .cancelled ? "" : " (it ended before the cancel reached it)", context)
        }
        try await context.ledger.recordPoll(e.id, expectingStep: e.step, daliugeState: reading.daliuge?.description,
                                            schedulerState: reading.schedulerText, pollFailures: 0,
                                            nextPollIn: context.jittered(context.configuration.poll.initialDelay),
                                            message: "asked Slurm to cancel job \(job); it is \(reading.schedulerText)")
    }

    /// Cancel while sbatch's outcome is not recorded: find the job by name, then cancel it.
    private func cancelUnresolved(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        let found: [String]
        do {
            found = try await jobsNamed(e, context)
        } catch {
            return try await cancelFailed(e, error, "looking up job '\(sessionID(e))'", context)
        }
        guard let job = found.first else {
            return try await context.move(e, ExecutionTransition(
                status: .cancelled, step: CommonStep.cancelled.rawValue,
                message: "cancelled on request; no job named '\(sessionID(e))' exists, so nothing runs", submissionState: .failed))
        }
        try await context.move(e, ExecutionTransition(
            step: SlurmRemoteStep.cancelling.rawValue,
            message: "found job \(found.joined(separator: ", ")) named '\(sessionID(e))'; cancelling it with scancel",
            submissionState: .submitted, slurmJobID: job))
    }

    /// Cancel could not reach the login node: retried, and given up after the poll policy's
    /// unreachable readings (the job may still run, which the message says).
    private func cancelFailed(_ e: ExecutionRecord, _ error: Error, _ what: String, _ context: DriverContext) async throws {
        if error is CancellationError { throw error }
        if case .cancelled? = error as? SSHError { throw CancellationError() }
        let message = "\(what): \(Self.describe(error))"
        let failures = e.pollFailures + 1
        if failures >= context.configuration.poll.maxUnreachableReadings {
            return try await context.fail(e, "cancel requested, but it could not be carried out after \(failures) attempts: \(message); "
                                          + "job '\(sessionID(e))' may still run (scancel --name=\(sessionID(e)))")
        }
        try await retryLater(e, "cancelling: \(message)", context)
    }
}
