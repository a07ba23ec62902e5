import BeamsyncModel
import BeamsyncSSH
import BeamsyncStore
import BeamsyncTime
import Foundation

/// The `slurm_remote` backend: the Translator Manager partitions the graph; over SSH the graph
/// and a DALiuGE configuration are uploaded to a per-execution directory under `dlg_root`,
/// DALiuGE's `create_dlg_job` writes the job script, `sbatch` submits it under the execution's
/// session id as job name, and squeue/sacct follow the job to its end.
///
/// Nothing is ever submitted twice: `submitting` looks for a job with the execution's name before
/// it runs sbatch (a runner may have died after sbatch and before recording the job), and an
/// answer that is not exactly one job id makes the submission `uncertain`, settled only by
/// looking the job up by name.
struct SlurmRemoteDriver: ExecutionDriver {
    let profile: DeploymentProfile
    let slurm: SlurmRemoteDeployment
    let translator: TranslatorClient

    var backend: ExecutionBackend { .slurmRemote }

    init(profile: DeploymentProfile, slurm: SlurmRemoteDeployment, http: HTTPClient, caFile: String?) throws(EngineConfigurationError) {
        self.profile = profile
        self.slurm = slurm
        translator = TranslatorClient(endpoint: try TranslatorEndpoint(profile: profile, caFile: caFile), http: http)
    }

    func phase(of step: String) -> ExecutionPhase? {
        if step == CommonStep.created.rawValue { return .translate }
        return SlurmRemoteStep(rawValue: step)?.phase
    }

    // MARK: Where

    var fields: SSHProfileFields {
        SSHProfileFields(loginNode: slurm.loginNode, sshPort: slurm.sshPort, remoteUser: slurm.remoteUser, credentialSlot: slurm.sshCredential)
    }

    func sshTarget(_ context: DriverContext) -> SSHTarget { context.slurm.policy.target(for: fields) }

    func commands(_ context: DriverContext) -> SlurmCommands {
        SlurmCommands(slurm: slurm, environment: context.slurm.environment)
    }

    /// The execution's session id: its DALiuGE session name, its job name and its file names.
    func sessionID(_ e: ExecutionRecord) -> String {
        e.daliugeSessionID ?? DaliugeSessionID.make(executionID: e.id, createdAt: e.createdAt)
    }

    /// `<dlg_root>/staging/<session id>`: the execution's own upload directory.
    func stagingDirectory(_ e: ExecutionRecord) -> String {
        Self.joined(slurm.dlgRoot, "staging", sessionID(e))
    }

    static func joined(_ parts: String...) -> String {
        var path = parts[0]
        for part in parts.dropFirst() { path = (path.hasSuffix("/") ? path : path + "/") + part }
        return path
    }

    // MARK: Translate

    func translate(_ e: ExecutionRecord, in context: DriverContext) async throws {
        guard e.step == SlurmRemoteStep.translating.rawValue else { return try await start(e, context) }
        let graph: [UInt8]
        switch try await context.logicalGraph(e) {
        case .success(let bytes): graph = bytes
        case .failure(let problem):
            if problem.transient { return try await retryTranslation(e, problem.message, context) }
            return try await context.fail(e, problem.message)
        }
        let partitioned: [UInt8]
        do {
            partitioned = try await context.oneTranslationAtATime(translator.endpoint.baseURL) { () async throws(TranslatorError) -> [UInt8] in
                try await translator.unrollAndPartition(logicalGraph: graph, settings: PartitionSettings(profile.translation))
            }
        } catch {
            switch error {
            case .rejected(let http):
                return try await context.fail(e,
                    "Translator Manager rejected the graph (HTTP \(http.status.map(String.init) ?? "?")): \(http.message)",
                    detail: ["tm_status": http.status.map { .int(Int64($0)) } ?? .null, "tm_message": .string(http.message)])
            case .unreachable: return try await retryTranslation(e, error.description, context)
            case .cancelled: throw CancellationError()
            default: return try await context.fail(e, error.description)
            }
        }
        let sid = sessionID(e)
        let template: PartitionedGraph
        do {
            template = try PartitionedGraph(translatorOutput: partitioned, name: "\(sid).pgt.graph")
        } catch {
            return try await context.fail(e, "Translator Manager: /unroll_and_partition: \(error.message)")
        }
        let sha = try await context.ledger.storeGraph(template.bytes)
        let counts: [String: JSONValue] = [Self.graphKey: .string(sha), "drops": .int(Int64(template.dropNames.count))]
        if !e.doSubmit {
            return try await context.move(e, ExecutionTransition(
                status: .notSubmitted, step: CommonStep.notSubmitted.rawValue,
                message: "translated into \(template.dropNames.count) drops; do_submit is false, so nothing was submitted",
                detail: counts, submissionState: .notStarted))
        }
        let target = sshTarget(context)
        try await context.move(e, ExecutionTransition(
            step: SlurmRemoteStep.staging.rawValue,
            message: "translated into \(template.dropNames.count) drops; uploading the graph and its DALiuGE configuration to "
                + "\(target.user)@\(target.endpoint):\(stagingDirectory(e))",
            detail: counts.merging(["staging_dir": .string(stagingDirectory(e))]) { a, _ in a },
            submissionDeadlineIn: context.configuration.slurm.submissionTimeout))
    }

    /// `created`: the SSH key policy decides first (a refusal fails the execution, naming each
    /// variable or file and its fix, before anything is contacted), then `translating` is recorded.
    private func start(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        let resolution = context.slurm.policy.resolve(fields)
        guard resolution.errors.isEmpty else {
            let refusal = SSHError.credentialsRejected(endpoint: resolution.target.endpoint, findings: resolution.errors)
            return try await context.fail(e, "deployment profile '\(profile.name)': \(refusal); nothing was submitted",
                                          backend: .slurmRemote, detail: ["key_policy": .array(resolution.errors.map { .string($0.rule.rawValue) })])
        }
        let target = resolution.target
        var message = "translating graph \((e.graphSHA256 ?? "?").prefix(12)) with the Translator Manager at "
            + "\(translator.endpoint.baseURL) for Slurm on \(target.user)@\(target.endpoint) "
            + "(profile '\(profile.name)' revision \(e.deploymentProfileRevision ?? 0))"
        var detail: [String: JSONValue] = [:]
        if !resolution.warnings.isEmpty {
            message += "; SSH key policy warnings: " + resolution.warnings.map { "\($0.message) (fix: \($0.fix))" }.joined(separator: "; ")
            detail["key_policy_warnings"] = .array(resolution.warnings.map { .string($0.rule.rawValue) })
        }
        try await context.move(e, ExecutionTransition(
            status: .running, step: SlurmRemoteStep.translating.rawValue, message: message, detail: detail,
            submissionState: .preparing, daliugeSessionID: sessionID(e), backend: .slurmRemote, simulated: false))
    }

    private func retryTranslation(_ e: ExecutionRecord, _ message: String, _ context: DriverContext) async throws {
        let failures = e.pollFailures + 1
        guard failures < context.configuration.submitAttempts else {
            return try await context.fail(e, message + " (gave up after \(failures) attempt(s))")
        }
        try await retryLater(e, message, context)
    }

    /// Keeps the step and looks again after a delay that doubles with each failure.
    func retryLater(_ e: ExecutionRecord, _ message: String, _ context: DriverContext, delay: Duration? = nil) async throws {
        let failures = e.pollFailures + 1
        let policy = context.configuration
        let wait = delay ?? min(policy.poll.maxDelay, policy.submitRetryDelay * pow(2, Double(min(failures - 1, 16))))
        try await context.ledger.recordRetry(e.id, expectingStep: e.step, failures: failures, retryIn: context.jittered(wait), error: message)
    }

    /// The event detail key holding the SHA-256 of the uploaded graph template.
    static let graphKey = "graph_template_sha256"
    /// The event detail key holding create_dlg_job's job script path.
    static let jobScriptKey = "job_script"

    /// A value recorded in the detail of one of the execution's events (the newest that has it).
    func recorded(_ key: String, _ e: ExecutionRecord, _ context: DriverContext) async throws -> String? {
        try await context.ledger.events(of: e.id).last { $0.detail?[key] != nil }?.detail?[key]?.stringValue
    }

    /// True once the execution's submission deadline has passed.
    func deadlinePassed(_ e: ExecutionRecord, _ context: DriverContext) -> Bool {
        guard let deadline = e.submissionDeadlineAt else { return false }
        return context.clock.now() >= deadline
    }
}

/// What `create_dlg_job -P` reads: `["<name>", [drops...]]`, from the Translator Manager's
/// `/unroll_and_partition` answer without its empty trailer object.
struct PartitionedGraph {
    let bytes: [UInt8]
    /// oid → drop name, for naming failed drops.
    let dropNames: [String: String]

    struct Invalid: Error { var message: String }

    init(translatorOutput: [UInt8], name: String) throws(Invalid) {
        guard let elements = (try? JSONValue.parse(bytes: translatorOutput))?.arrayValue else {
            throw Invalid(message: "the answer is not a JSON array")
        }
        let drops = elements.filter { $0.objectValue?.isEmpty == false }
        guard !drops.isEmpty else { throw Invalid(message: "the partitioned graph has no drops") }
        bytes = JSONValue.array([.string(name), .array(drops)]).canonicalBytes
        dropNames = Self.names(drops)
    }

    /// Reads back a stored template (`[name, drops]`).
    init(stored: [UInt8]) throws(Invalid) {
        guard let pair = (try? JSONValue.parse(bytes: stored))?.arrayValue, pair.count == 2, let drops = pair[1].arrayValue else {
            throw Invalid(message: "the stored graph template is not [name, drops]")
        }
        bytes = stored
        dropNames = Self.names(drops)
    }

    private static func names(_ drops: [JSONValue]) -> [String: String] {
        var names: [String: String] = [:]
        for drop in drops {
            if let oid = drop["oid"]?.stringValue, let name = drop["name"]?.stringValue { names[oid] = name }
        }
        return names
    }
}
