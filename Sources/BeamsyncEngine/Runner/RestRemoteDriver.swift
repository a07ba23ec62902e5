import BeamsyncModel
import BeamsyncStore
import BeamsyncTime
import Foundation

/// The steps of a `rest_remote` execution, in order.
public enum RestRemoteStep: String, Sendable, CaseIterable {
    case translating
    case sessionCreating = "session_creating"
    case graphAppending = "graph_appending"
    case deploying
    case deployed
    case cancelling

    var phase: ExecutionPhase {
        switch self {
        case .translating: .translate
        case .sessionCreating, .graphAppending, .deploying: .submit
        case .deployed, .cancelling: .poll
        }
    }
}

/// The `rest_remote` backend: Translator Manager, then a DALiuGE Data Island Manager over REST.
///
/// Each call is made at the step that names it and is preceded by a look at the DIM's own
/// state, so a step that is repeated (a runner died after the call but before recording the next
/// step) never repeats its effect: an existing session is not created again, an appended graph
/// is not appended again and a deployed session is never deployed a second time.
struct RestRemoteDriver: ExecutionDriver {
    let profile: DeploymentProfile
    let translator: TranslatorClient
    let dim: DIMClient

    var backend: ExecutionBackend { .restRemote }

    init(profile: DeploymentProfile, rest: RestRemoteDeployment, http: HTTPClient, caFile: String?) throws(EngineConfigurationError) {
        self.profile = profile
        translator = TranslatorClient(endpoint: try TranslatorEndpoint(profile: profile, caFile: caFile), http: http)
        dim = DIMClient(endpoint: try DIMEndpoint(rest: rest, caFile: caFile), http: http)
    }

    func phase(of step: String) -> ExecutionPhase? {
        if step == CommonStep.created.rawValue { return .translate }
        return RestRemoteStep(rawValue: step)?.phase
    }

    func translate(_ e: ExecutionRecord, in context: DriverContext) async throws {
        guard e.step == RestRemoteStep.translating.rawValue else {
            // Recorded before the Translator Manager is called.
            return try await context.move(e, ExecutionTransition(
                status: .running, step: RestRemoteStep.translating.rawValue,
                message: "translating graph \((e.graphSHA256 ?? "?").prefix(12)) with the Translator Manager at "
                    + "\(translator.endpoint.baseURL) (profile '\(profile.name)' revision \(e.deploymentProfileRevision ?? 0))",
                submissionState: .preparing, backend: .restRemote, simulated: false))
        }
        try await translateGraph(e, context)
    }

    func submit(_ e: ExecutionRecord, in context: DriverContext) async throws {
        switch RestRemoteStep(rawValue: e.step ?? "") {
        case .sessionCreating: try await createSession(e, context)
        case .graphAppending: try await appendGraph(e, context)
        default: try await deploy(e, context)
        }
    }

    func poll(_ e: ExecutionRecord, in context: DriverContext) async throws {
        try await pollSession(e, context)
    }

    // MARK: Translate

    private func translateGraph(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        let graph: [UInt8]
        switch try await logicalGraph(e, context) {
        case .success(let bytes): graph = bytes
        case .failure(let problem):
            if problem.transient { return try await retryOrFail(e, problem.message, context) }
            return try await context.fail(e, problem.message)
        }
        let physical: PhysicalGraph
        do {
            physical = try await translateOneAtATime(graph, context)
        } catch {
            switch error {
            case .rejected(let http):
                // The TM's own words, verbatim.
                return try await context.fail(e,
                    "Translator Manager rejected the graph (HTTP \(http.status.map(String.init) ?? "?")): \(http.message)",
                    detail: ["tm_status": http.status.map { .int(Int64($0)) } ?? .null, "tm_message": .string(http.message)])
            case .unreachable:
                return try await retryOrFail(e, error.description, context)
            case .cancelled:
                throw CancellationError()
            default:
                return try await context.fail(e, error.description)
            }
        }
        let pgSHA = try await context.ledger.storeGraph(physical.jsonBytes)
        await context.graphs.put(physical, for: e.id)
        let counts: [String: JSONValue] = ["physical_graph_sha256": .string(pgSHA), "drops": .int(Int64(physical.drops.count)),
                                           "roots": .int(Int64(physical.roots.count))]
        if !e.doSubmit {
            try await context.move(e, ExecutionTransition(
                status: .notSubmitted, step: CommonStep.notSubmitted.rawValue,
                message: "translated into \(physical.drops.count) drops; do_submit is false, so nothing was submitted",
                detail: counts, submissionState: .notStarted))
            return
        }
        let sessionID = DaliugeSessionID.make(executionID: e.id, createdAt: e.createdAt)
        try await context.move(e, ExecutionTransition(
            step: RestRemoteStep.sessionCreating.rawValue,
            message: "translated into \(physical.drops.count) drops (\(physical.roots.count) root(s)); "
                + "creating session \(sessionID) on DIM \(dim.endpoint.baseURL)",
            detail: counts, submissionState: .inFlight, daliugeSessionID: sessionID))
    }

    /// `translator.translate`, waiting its turn at this Translator Manager (`translationsPerTM`).
    private func translateOneAtATime(_ graph: [UInt8], _ context: DriverContext) async throws(TranslatorError) -> PhysicalGraph {
        try await context.oneTranslationAtATime(translator.endpoint.baseURL) { () async throws(TranslatorError) -> PhysicalGraph in
            try await translator.translate(logicalGraph: graph, profile: profile)
        }
    }

    private func logicalGraph(_ e: ExecutionRecord, _ context: DriverContext) async throws -> Result<[UInt8], StepProblem> {
        try await context.logicalGraph(e)
    }

    // MARK: Submit

    private func createSession(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        guard let sessionID = e.daliugeSessionID else {
            return try await context.fail(e, "step session_creating without a session id")
        }
        var message: String
        do {
            if try await dim.sessionExists(sessionID) {
                message = "session \(sessionID) already exists on the DIM (an earlier attempt created it); not creating it again"
            } else {
                do {
                    try await dim.createSession(sessionID)
                    message = "created session \(sessionID)"
                } catch .sessionExists {
                    message = "session \(sessionID) already exists on the DIM; not creating it again"
                }
            }
        } catch {
            return try await submitError(e, error, during: "creating session \(sessionID)", nothingDeployed: true, context)
        }
        try await context.move(e, ExecutionTransition(
            step: RestRemoteStep.graphAppending.rawValue, message: message + "; appending the graph"))
    }

    /// What a submission step found on the DIM.
    private enum Found {
        case done(String, DIMSessionState)
        case back(to: String, String)
        case unrecognised(String)
    }

    private func appendGraph(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        guard let sessionID = e.daliugeSessionID else { return try await context.fail(e, "no session id") }
        guard let graph = try await physicalGraph(e, context) else {
            return try await context.fail(e, "the translated graph of this execution is not stored; it cannot be appended")
        }
        let found: Found
        do {
            let state = try await dim.sessionStatus(sessionID).state
            switch state {
            case .pristine:
                try await dim.appendGraph(sessionID, graph: graph)
                found = .done("appended \(graph.drops.count) drops to session \(sessionID)", .building)
            case .missing:
                found = .back(to: RestRemoteStep.sessionCreating.rawValue, "the DIM no longer knows session \(sessionID) (restarted?); creating it again")
            case .unrecognised(let raw):
                found = .unrecognised("session \(sessionID) reports an unrecognised state \(raw) before append")
            default:
                found = .done("session \(sessionID) already holds the graph (state \(state)); not appending again", state)
            }
        } catch {
            return try await submitError(e, error, during: "appending the graph to session \(sessionID)", nothingDeployed: true, context)
        }
        switch found {
        case .done(let message, _):
            try await context.move(e, ExecutionTransition(
                step: RestRemoteStep.deploying.rawValue, message: message + "; deploying with \(graph.roots.count) root drop(s)"))
        case .back(let step, let message):
            try await context.move(e, ExecutionTransition(step: step, message: message))
        case .unrecognised(let message):
            try await retryOrFail(e, message, context)
        }
    }

    private func deploy(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        guard let sessionID = e.daliugeSessionID else { return try await context.fail(e, "no session id") }
        guard let graph = try await physicalGraph(e, context) else {
            return try await context.fail(e, "the translated graph of this execution is not stored; it cannot be deployed")
        }
        let found: Found
        do {
            let state = try await dim.sessionStatus(sessionID).state
            switch state {
            case .building:
                try await dim.deploy(sessionID, roots: graph.roots)
                found = .done("deployed session \(sessionID) on DIM \(dim.endpoint.baseURL)", .running)
            case .pristine:
                found = .back(to: RestRemoteStep.graphAppending.rawValue, "session \(sessionID) has no graph yet; appending it again")
            case .missing:
                found = .back(to: RestRemoteStep.sessionCreating.rawValue, "the DIM no longer knows session \(sessionID) (restarted?); creating it again")
            case .unrecognised(let raw):
                found = .unrecognised("session \(sessionID) reports an unrecognised state \(raw) before deploy")
            case .deploying, .running, .finished, .failed, .cancelled:
                found = .done("session \(sessionID) was already deployed (state \(state)); not deploying it again", state)
            }
        } catch {
            return try await submitError(e, error, during: "deploying session \(sessionID)", nothingDeployed: false, context)
        }
        switch found {
        case .done(let message, let state):
            try await context.move(e, ExecutionTransition(
                step: RestRemoteStep.deployed.rawValue, message: message + "; polling", submissionState: .submitted,
                daliugeState: state.description, nextPollIn: context.jittered(context.configuration.poll.initialDelay)))
        case .back(let step, let message):
            try await context.move(e, ExecutionTransition(step: step, message: message))
        case .unrecognised(let message):
            try await retryOrFail(e, message, context)
        }
    }

    /// A DIM call during submission failed. Nothing answered → retried a bounded number of
    /// times, then failed; a call that may have reached the DIM (timeout) is not repeated
    /// blindly: the next attempt looks at the session's state first. An error answer fails.
    private func submitError(_ e: ExecutionRecord, _ error: DIMError, during what: String, nothingDeployed: Bool, _ context: DriverContext) async throws {
        if case .cancelled = error { throw CancellationError() }
        let outcome = nothingDeployed ? "nothing was deployed"
            : "the session holds the graph but was not deployed by this attempt; nothing was started by it"
        switch error {
        case .unreachable(let http):
            let uncertain = http.kind == .timedOut || http.kind == .transport
            let text = "DIM unreachable at \(dim.endpoint.baseURL) while \(what): \(http.kind.rawValue) (\(http.message))"
            if e.pollFailures + 1 < context.configuration.submitAttempts {
                return try await retryOrFail(e, text, context)
            }
            try await context.fail(e, text + "; " + (uncertain && !nothingDeployed
                ? "the call may have reached the DIM: check session \(e.daliugeSessionID ?? "?") there before running it again"
                : outcome),
                submission: uncertain && !nothingDeployed ? .uncertain : .failed,
                detail: ["dim_url": .string(dim.endpoint.baseURL)])
        case .nodeFailure:
            if e.pollFailures + 1 < context.configuration.submitAttempts { return try await retryOrFail(e, "\(error) while \(what)", context) }
            try await context.fail(e, "\(error) while \(what); \(outcome)", submission: .failed)
        default:
            try await context.fail(e, "DIM refused \(what): \(error)", submission: .failed)
        }
    }

    /// Records a failed attempt and retries later, or fails once `submitAttempts` are used up.
    private func retryOrFail(_ e: ExecutionRecord, _ message: String, _ context: DriverContext) async throws {
        let failures = e.pollFailures + 1
        guard failures < context.configuration.submitAttempts else {
            return try await context.fail(e, message + " (gave up after \(failures) attempt(s))")
        }
        let delay = context.configuration.submitRetryDelay * pow(2, Double(failures - 1))
        try await context.ledger.recordRetry(e.id, expectingStep: e.step, failures: failures, retryIn: context.jittered(delay), error: message)
    }

    /// The prepared physical graph: from the runner's cache, else from `graph_blobs` by the SHA-256
    /// recorded when it was translated.
    private func physicalGraph(_ e: ExecutionRecord, _ context: DriverContext) async throws -> PhysicalGraph? {
        if let cached = await context.graphs.get(e.id) { return cached }
        let events = try await context.ledger.events(of: e.id)
        guard let sha = events.last(where: { $0.detail?["physical_graph_sha256"] != nil })?.detail?["physical_graph_sha256"]?.stringValue,
              let bytes = try await context.ledger.graph(sha256: sha),
              let graph = try? PhysicalGraph(mapOutput: bytes) else { return nil }
        await context.graphs.put(graph, for: e.id)
        return graph
    }

    // MARK: Poll

    private func pollSession(_ e: ExecutionRecord, _ context: DriverContext) async throws {
        guard let sessionID = e.daliugeSessionID else { return try await context.fail(e, "no session id") }
        let poller = DIMPoller(observer: dim, policy: context.configuration.poll, random: context.random)
        // Drop names are looked up only for a session with drops in error.
        let reading = try await poller.check(sessionID: sessionID, dropNames: { try await physicalGraph(e, context)?.dropNames ?? [:] })
        let policy = context.configuration.poll
        let running = context.elapsed(since: e.startedAt ?? e.createdAt)
        switch reading {
        case .terminal(let outcome):
            try await finish(e, outcome, sessionID: sessionID, context)
        case .active(let state):
            if running >= policy.maxDuration {
                return try await context.fail(e, "DIM poll timeout: session \(sessionID) is still \(state) after \(running)",
                                             daliugeState: state.description)
            }
            // A tenth of the time since the start, between the initial and the maximum delay.
            let delay = min(policy.maxDelay, max(policy.initialDelay, running / 10))
            try await context.ledger.recordPoll(e.id, expectingStep: e.step, daliugeState: state.description, pollFailures: 0,
                                        nextPollIn: context.jittered(delay), message: "session \(sessionID) is \(state)")
        case .unknown(let detail):
            let failures = (e.daliugeState == "UNKNOWN" ? e.pollFailures : 0) + 1
            if failures >= policy.maxUnknownReadings {
                return try await context.fail(e,
                    "the DIM does not know session \(sessionID) (\(detail)); \(failures) readings in a row, so it was lost "
                    + "(DIM or Node Manager restart?) — not polling it any further", daliugeState: "UNKNOWN")
            }
            try await context.ledger.recordPoll(e.id, expectingStep: e.step, daliugeState: "UNKNOWN", pollFailures: failures,
                                        nextPollIn: context.jittered(backoff(failures, context)), message: detail)
        case .unreachable(let error):
            let failures = (e.daliugeState == "UNREACHABLE" ? e.pollFailures : 0) + 1
            let since = try await context.ledger.recordPoll(e.id, expectingStep: e.step, daliugeState: "UNREACHABLE", pollFailures: failures,
                                                    nextPollIn: context.jittered(backoff(failures, context)),
                                                    message: "DIM unreachable while polling session \(sessionID): \(error)")
            let down = context.elapsed(since: since)
            if failures >= policy.maxUnreachableReadings && down >= context.configuration.unreachableGrace {
                let fresh = try await context.ledger.get(id: e.id) ?? e
                try await context.fail(fresh,
                    "the DIM at \(dim.endpoint.baseURL) has been unreachable for \(Int(down.inSeconds))s "
                    + "(\(failures) polls): \(error); session \(sessionID) may still be running there", daliugeState: "UNREACHABLE")
            }
        }
        if case .terminal = reading { await context.graphs.forget(e.id) }
    }

    private func backoff(_ failures: Int, _ context: DriverContext) -> Duration {
        min(context.configuration.poll.maxDelay, context.configuration.poll.initialDelay * pow(context.configuration.poll.multiplier, Double(max(0, failures - 1))))
    }

    private func finish(_ e: ExecutionRecord, _ outcome: PollOutcome, sessionID: String, note: String = "", _ context: DriverContext) async throws {
        switch outcome {
        case .finished:
            try await context.move(e, ExecutionTransition(
                status: .completed, step: CommonStep.completed.rawValue, message: "session \(sessionID) FINISHED with no drop in error" + note,
                daliugeState: "FINISHED"))
        case .cancelled:
            try await context.move(e, ExecutionTransition(
                status: .cancelled, step: CommonStep.cancelled.rawValue, message: "session \(sessionID) CANCELLED" + note,
                daliugeState: "CANCELLED", lastError: e.cancelRequestedAt == nil ? "the session was cancelled on the DIM" : nil))
        case .failed(let reason, let drops):
            let list = JSONValue.array(drops.map { d in
                .object(["oid": .string(d.oid), "name": d.name.map(JSONValue.string) ?? .null])
            })
            try await context.fail(e, reason + note, failedDrops: list, daliugeState: "FAILED")
        default:
            try await context.fail(e, "session \(sessionID): \(outcome)" + note)
        }
    }

    // MARK: Cancel

    /// Cancel on request: before anything was submitted, just record it; otherwise record
    /// `cancelling`, then cancel (or, if never deployed, delete) the DIM session and record the
    /// state the DIM ends in.
    func cancel(_ e: ExecutionRecord, in context: DriverContext) async throws {
        guard let sessionID = e.daliugeSessionID else {
            return try await context.move(e, ExecutionTransition(
                status: .cancelled, step: CommonStep.cancelled.rawValue, message: "cancelled on request before anything was submitted"))
        }
        guard e.step == RestRemoteStep.cancelling.rawValue else {
            return try await context.move(e, ExecutionTransition(
                step: RestRemoteStep.cancelling.rawValue, message: "cancelling session \(sessionID) on DIM \(dim.endpoint.baseURL)"))
        }
        do {
            let state = try await dim.sessionStatus(sessionID).state
            switch state {
            case .finished, .failed, .cancelled:
                let names = try await physicalGraph(e, context)?.dropNames ?? [:]
                let reading = try await DIMPoller(observer: dim, policy: context.configuration.poll).check(sessionID: sessionID, dropNames: names)
                if case .terminal(let outcome) = reading {
                    let note = state == .cancelled ? "" : " (it ended before the cancel reached it)"
                    return try await finish(e, outcome, sessionID: sessionID, note: note, context)
                }
                return try await retryOrFail(e, "session \(sessionID) reads \(state) but its graph status is unavailable", context)
            case .missing:
                return try await context.move(e, ExecutionTransition(
                    status: .cancelled, step: CommonStep.cancelled.rawValue,
                    message: "cancelled on request; the DIM does not know session \(sessionID), so nothing runs there"))
            case .pristine, .building:
                try await dim.deleteSession(sessionID)
                return try await context.move(e, ExecutionTransition(
                    status: .cancelled, step: CommonStep.cancelled.rawValue,
                    message: "cancelled on request before deployment; deleted session \(sessionID) (state \(state))",
                    submissionState: .failed))
            case .deploying, .running, .unrecognised:
                try await dim.cancelSession(sessionID)
                try await context.ledger.recordPoll(e.id, expectingStep: e.step, daliugeState: "CANCELLING", pollFailures: 0,
                                            nextPollIn: context.jittered(context.configuration.poll.initialDelay),
                                            message: "asked the DIM to cancel session \(sessionID) (was \(state))")
            }
        } catch let error as DIMError {
            if case .cancelled = error { throw CancellationError() }
            let failures = e.pollFailures + 1
            if failures >= context.configuration.poll.maxUnreachableReadings {
                return try await context.fail(e,
                    "cancel requested, but the DIM did not take it after \(failures) attempts: \(error); session \(sessionID) may still run")
            }
            try await context.ledger.recordRetry(e.id, expectingStep: e.step, failures: failures,
                                         retryIn: context.jittered(backoff(failures, context)), error: "cancelling: \(error)")
        }
    }
}
