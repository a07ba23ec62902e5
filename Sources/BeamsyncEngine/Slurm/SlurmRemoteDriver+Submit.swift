import BeamsyncModel
import BeamsyncSSH
import BeamsyncStore
import Foundation

extension SlurmRemoteDriver {
    func submit(_ e: ExecutionRecord, in context: DriverContext) async throws {
        switch SlurmRemoteStep(rawValue: e.step ?? "") {
        case .staging: try await stage(e, context)
        case .creatingJobScript: try await createJobScript(e, context)
        case .reconciling: try await reconcile(e, context)
        default: try await submitJob(e, context)
        }
    }

    // MARK: Upload

    private func stage(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        if deadlinePassed(e, context) {
            return try await context.fail(e, "the submission deadline passed before the graph was uploaded; nothing was submitted")
        }
        guard let sha = try await recorded(Self.graphKey, e, context), let template = try await context.ledger.graph(sha256: sha) else {
            return try await context.fail(e, "the partitioned graph of this execution is not stored; it cannot be uploaded")
        }
        let target = sshTarget(context)
        let directory = stagingDirectory(e)
        let sid = sessionID(e)
        let graphPath = Self.joined(directory, "\(sid).pgt.graph")
        let config = DaliugeSubmitConfig(slurm: slurm, user: target.user, physicalGraphPath: graphPath).text
        let deadline = ContinuousClock.now + context.configuration.slurm.uploadTimeout
        var files = [(graphPath, Data(template)), (Self.joined(directory, "\(sid).ini"), Data(config.utf8))]
        if let body = slurm.slurmTemplate { files.append((Self.joined(directory, "\(sid).slurm"), Data(body.utf8))) }
        do {
            for (path, data) in files {
                try await context.slurm.pool.upload(data, to: path, on: target, createDirectory: true, deadline: deadline)
            }
        } catch {
            return try await beforeSubmission(e, error, during: "uploading to \(target.endpoint):\(directory)", context)
        }
        try await context.move(e, ExecutionTransition(
            step: SlurmRemoteStep.creatingJobScript.rawValue,
            message: "uploaded \(files.map { RemoteName.of($0.0) }.joined(separator: ", ")) to \(directory); "
                + "writing the job script with DALiuGE's create_dlg_job"))
    }

    // MARK: Job script

    private func createJobScript(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        if deadlinePassed(e, context) {
            return try await context.fail(e, "the submission deadline passed before the job script was written; nothing was submitted")
        }
        let target = sshTarget(context)
        let directory = stagingDirectory(e)
        let sid = sessionID(e)
        let command: String
        do {
            command = try commands(context).createJobScript(
                graph: Self.joined(directory, "\(sid).pgt.graph"), config: Self.joined(directory, "\(sid).ini"),
                template: slurm.slurmTemplate == nil ? nil : Self.joined(directory, "\(sid).slurm"))
        } catch {
            return try await context.fail(e, "deployment profile '\(profile.name)': \(error); nothing was submitted")
        }
        let result: SSHCommandResult
        do {
            result = try await context.slurm.pool.exec(command, on: target, timeout: context.configuration.slurm.jobScriptTimeout,
                                                        label: "create_dlg_job")
        } catch {
            return try await beforeSubmission(e, error, during: "running create_dlg_job on \(target.endpoint)", context)
        }
        let output = result.stdoutText + "\n" + result.stderrText
        guard result.succeeded, let script = SlurmOutput.jobScriptPath(output) else {
            return try await context.fail(e,
                "create_dlg_job on \(target.endpoint) " + (result.succeeded ? "did not print 'Created job submission script <path>'"
                    : "exited with \(result.exitStatus.map(String.init) ?? "signal \(result.exitSignal ?? "?")")")
                + ": \(Self.tail(output)); nothing was submitted", detail: ["create_dlg_job_output": .string(Self.tail(output, lines: 40))])
        }
        let sessionDirectory = RemoteName.parent(of: script)
        guard script.hasPrefix("/"), sessionDirectory.hasPrefix(slurm.dlgRoot.hasSuffix("/") ? slurm.dlgRoot : slurm.dlgRoot + "/") else {
            return try await context.fail(e, "create_dlg_job wrote the job script \(script), which is not inside a session directory "
                                          + "under dlg_root \(slurm.dlgRoot); nothing was submitted")
        }
        try await context.move(e, ExecutionTransition(
            step: SlurmRemoteStep.submitting.rawValue,
            message: "create_dlg_job wrote \(script); submitting it with sbatch as job '\(sid)'",
            detail: [Self.jobScriptKey: .string(script)], submissionState: .inFlight, remoteSessionDir: sessionDirectory))
    }

    // MARK: sbatch

    /// Looks for a job with the execution's name first (an earlier attempt may have submitted it
    /// and died before recording it); sbatch runs only when there is none.
    private func submitJob(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        let sid = sessionID(e)
        let found: [String]
        do {
            found = try await jobsNamed(e, context)
        } catch {
            if error is CancellationError { throw error }
            if (error as? SSHError)?.isConfigurationProblem == true {
                // An interrupted earlier attempt may have submitted it: say so rather than "nothing".
                return try await context.fail(e, "looking up job '\(sid)' before sbatch: \(Self.describe(error)); a job of that name exists "
                                              + "only if an earlier attempt was interrupted after sbatch: check with squeue --name", submission: .uncertain)
            }
            if deadlinePassed(e, context) {
                return try await uncertain(e, "the submission deadline passed while the job could not be looked up (\(Self.describe(error)))", context)
            }
            return try await retryLater(e, "looking up job '\(sid)' before sbatch: \(Self.describe(error))", context)
        }
        if found.count > 1 { return try await failMany(e, found, context) }
        if let job = found.first {
            return try await adopt(e, job: job, "job \(job) named '\(sid)' already exists (an earlier attempt submitted it); not submitting again", context)
        }
        if deadlinePassed(e, context) {
            return try await context.fail(e, "the submission deadline passed before sbatch ran; no job named '\(sid)' exists, so nothing was submitted")
        }
        guard let sessionDirectory = e.remoteSessionDir else {
            return try await context.fail(e, "step submitting without a remote session directory")
        }
        let script = try await recorded(Self.jobScriptKey, e, context) ?? Self.joined(sessionDirectory, "jobsub.sh")
        let command: String
        do {
            command = try commands(context).sbatch(jobScript: script, sessionDir: sessionDirectory, jobName: sid)
        } catch {
            return try await context.fail(e, "deployment profile '\(profile.name)': \(error); nothing was submitted")
        }
        let target = sshTarget(context)
        let result: SSHCommandResult
        do {
            result = try await context.slurm.pool.exec(command, on: target, timeout: context.configuration.slurm.commandTimeout, label: "sbatch")
        } catch {
            if Self.requestNotSent(error) {
                return try await beforeSubmission(e, error, during: "running sbatch on \(target.endpoint)", context)
            }
            if error is CancellationError { throw error }
            return try await uncertain(e, "sbatch's answer was lost (\(Self.describe(error)))", context)
        }
        try await SlurmFaultInjection.pauseAfterSbatch(context.configuration.environment)
        if result.succeeded, let job = SlurmOutput.sbatchJobID(result.stdoutText) {
            return try await adopt(e, job: job, "submitted job \(job) ('\(sid)') with sbatch", context)
        }
        if result.succeeded {
            return try await uncertain(e, "sbatch printed something other than exactly one job id (\(Self.quoted(result.stdoutText)))", context,
                                       detail: ["sbatch_stdout": .string(Self.tail(result.stdoutText, lines: 20))])
        }
        // sbatch said no. Whatever else it printed, the job must not exist: make sure.
        let refusal = "sbatch refused the job (exit \(result.exitStatus.map(String.init) ?? "signal \(result.exitSignal ?? "?")")): "
            + Self.tail(result.stderrText.isEmpty ? result.stdoutText : result.stderrText)
        let after: [String]
        do {
            after = try await jobsNamed(e, context)
        } catch {
            return try await uncertain(e, refusal + "; the job could not be looked up afterwards (\(Self.describe(error)))", context)
        }
        if after.count > 1 { return try await failMany(e, after, context) }
        if let job = after.first { return try await adopt(e, job: job, refusal + ", but job \(job) named '\(sid)' exists; following it", context) }
        try await context.fail(e, refusal + "; no job named '\(sid)' exists, so nothing was submitted", submission: .failed,
                               detail: ["sbatch_stderr": .string(Self.tail(result.stderrText, lines: 20))])
    }

    /// `reconciling`: sbatch's answer left it open whether the job exists; only a look-up by
    /// name settles it. Nothing is submitted again.
    private func reconcile(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        let sid = sessionID(e)
        let found: [String]
        do {
            found = try await jobsNamed(e, context)
        } catch {
            if error is CancellationError { throw error }
            if context.elapsed(since: e.startedAt ?? e.createdAt) >= context.configuration.poll.maxDuration {
                return try await context.fail(e, "the submission stayed uncertain: job '\(sid)' could not be looked up (\(Self.describe(error))); "
                                              + "check the cluster for a job of that name", submission: .uncertain)
            }
            return try await retryLater(e, "looking up job '\(sid)': \(Self.describe(error)); the submission stays uncertain", context)
        }
        if found.count > 1 { return try await failMany(e, found, context) }
        if let job = found.first {
            return try await adopt(e, job: job, "found job \(job) by its name '\(sid)'; the uncertain submission is settled and nothing was submitted again", context)
        }
        let lookups = e.pollFailures + 1
        if deadlinePassed(e, context) && lookups >= 3 {
            return try await context.fail(e, "the submission stayed uncertain: no job named '\(sid)' exists after \(lookups) look-ups until "
                                          + "the submission deadline; nothing was submitted again", submission: .uncertain)
        }
        try await retryLater(e, "no job named '\(sid)' yet (look-up \(lookups)); sbatch's answer was uncertain, so nothing is submitted again",
                             context, delay: context.configuration.slurm.reconcileDelay)
    }

    // MARK: Helpers

    /// Every job named after the execution (squeue and sacct since shortly before it started).
    func jobsNamed(_ e: ExecutionRecord, _ context: DriverContext) async throws -> [String] {
        let since = (e.startedAt ?? e.createdAt).addingTimeInterval(-300)
        let result = try await context.slurm.pool.exec(SlurmCommands.jobsNamed(sessionID(e), since: since), on: sshTarget(context),
                                                        timeout: context.configuration.slurm.commandTimeout, label: "squeue")
        guard result.succeeded else {
            throw SSHError.commandFailed(endpoint: sshTarget(context).endpoint, command: "squeue/sacct --name",
                                         reason: "exit status \(result.exitStatus.map(String.init) ?? "none"): \(Self.tail(result.stderrText))")
        }
        return SlurmOutput.jobIDs(result.stdoutText)
    }

    /// Records the job as submitted and starts following it.
    func adopt(_ e: ExecutionRecord, job: String, _ message: String, _ context: DriverContext) async throws {
        await context.slurm.poller(for: sshTarget(context)).track(job, sessionDir: e.remoteSessionDir)
        try await context.move(e, ExecutionTransition(
            status: .awaitingScheduler, step: SlurmRemoteStep.submitted.rawValue, message: message + "; following it with squeue and sacct",
            submissionState: .submitted, slurmJobID: job, schedulerState: "SUBMITTED",
            nextPollIn: context.jittered(context.configuration.poll.initialDelay)))
    }

    private func uncertain(_ e: ExecutionRecord, _ why: String, _ context: DriverContext, detail: [String: JSONValue] = [:]) async throws {
        try await context.move(e, ExecutionTransition(
            step: SlurmRemoteStep.reconciling.rawValue,
            message: "\(why); the submission is uncertain: looking the job up by its name '\(sessionID(e))' before anything else",
            detail: detail, submissionState: .uncertain))
    }

    private func failMany(_ e: ExecutionRecord, _ jobs: [String], _ context: DriverContext) async throws {
        try await context.fail(e, "\(jobs.count) jobs are named '\(sessionID(e))' (\(jobs.joined(separator: ", "))); expected at most one. "
                               + "None is followed: cancel the ones that should not run (scancel)", submission: .uncertain)
    }

    /// An error before sbatch could have run: the step is retried until the submission deadline,
    /// unless waiting cannot help (credentials, host key, authentication).
    private func beforeSubmission(_ e: ExecutionRecord, _ error: Error, during what: String, _ context: DriverContext) async throws {
        if error is CancellationError { throw error }
        guard let ssh = error as? SSHError else { throw error }
        if case .cancelled = ssh { throw CancellationError() }
        if ssh.isConfigurationProblem {
            return try await context.fail(e, "\(what): \(ssh); nothing was submitted")
        }
        if deadlinePassed(e, context) {
            return try await context.fail(e, "\(what): \(ssh); the submission deadline passed, nothing was submitted")
        }
        try await retryLater(e, "\(what): \(ssh)", context)
    }

    static func requestNotSent(_ error: Error) -> Bool {
        guard let ssh = error as? SSHError else { return false }
        if ssh.isSafeToRetryOnNewConnection { return true }
        switch ssh {
        case .closed, .channelRefused: return true
        default: return ssh.step != .command
        }
    }

    static func describe(_ error: Error) -> String { (error as? SSHError)?.description ?? "\(error)" }

    /// The last lines of a command's output, for messages (at most 600 characters).
    static func tail(_ text: String, lines: Int = 6) -> String {
        let kept = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.suffix(lines)
        let joined = kept.joined(separator: " | ")
        return joined.count > 600 ? "…" + String(joined.suffix(600)) : joined
    }

    static func quoted(_ text: String) -> String {
        let shown = text.count > 200 ? String(text.prefix(200)) + "…" : text
        return "\"" + shown.replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

/// POSIX path pieces of remote paths.
enum RemoteName {
    static func of(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

extension SSHError {
    /// A problem that waiting does not fix: the key policy, the host key, authentication.
    var isConfigurationProblem: Bool {
        switch self {
        case .credentialsRejected, .hostKeyNotListed, .hostKeyMismatch, .hostKeyTypeNotListed, .hostKeyRevoked, .knownHostsUnreadable,
             .privateKeyUnusable, .passphraseRequired, .wrongPassphrase, .rsaKeyRefused, .authenticationRefused:
            true
        default:
            false
        }
    }
}
