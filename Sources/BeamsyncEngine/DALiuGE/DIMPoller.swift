/// How long and how often to poll a DIM session.
public struct PollPolicy: Sendable, Hashable {
    /// First wait; each further wait is `multiplier` times longer, up to `maxDelay`.
    public var initialDelay: Duration = .milliseconds(250)
    public var maxDelay: Duration = .seconds(10)
    public var multiplier: Double = 2
    /// Each wait is scaled by a random factor in 1 ± jitter.
    public var jitter: Double = 0.2
    /// Polling ends with `.timedOut` after this long.
    public var maxDuration: Duration = .seconds(6 * 3600)
    /// Consecutive readings in which the DIM does not know the session (or says something that is
    /// not a state) before polling ends with `.sessionUnknown`.
    public var maxUnknownReadings: Int = 3
    /// Consecutive readings without an answer (DIM or NM down) before `.unreachable`.
    public var maxUnreachableReadings: Int = 10

    public init() {}

    public init(initialDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(10), multiplier: Double = 2,
                jitter: Double = 0.2, maxDuration: Duration = .seconds(6 * 3600), maxUnknownReadings: Int = 3,
                maxUnreachableReadings: Int = 10) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.multiplier = multiplier
        self.jitter = jitter
        self.maxDuration = maxDuration
        self.maxUnknownReadings = max(1, maxUnknownReadings)
        self.maxUnreachableReadings = max(1, maxUnreachableReadings)
    }
}

/// A drop in error, with its name from the physical graph when known.
public struct FailedDrop: Sendable, Hashable, CustomStringConvertible {
    public var oid: String
    public var name: String?

    public init(oid: String, name: String? = nil) {
        self.oid = oid
        self.name = name
    }

    public var description: String { name.map { "'\($0)' (\(oid))" } ?? oid }
}

/// How polling a session ended.
public enum PollOutcome: Sendable, Hashable, CustomStringConvertible {
    /// FINISHED and no drop in error.
    case finished
    /// FAILED, or FINISHED with drops in error; failed applications come first.
    case failed(reason: String, drops: [FailedDrop])
    case cancelled
    /// The DIM does not know the session, or reports no state we can read.
    case sessionUnknown(String)
    /// The DIM (or its Node Manager) did not answer, `maxUnreachableReadings` times in a row.
    case unreachable(DIMError)
    /// Still not terminal after `maxDuration`.
    case timedOut(lastState: DIMSessionState?, after: Duration)

    /// The execution ledger status this outcome leads to.
    public var executionStatus: String {
        switch self {
        case .finished: "completed"
        case .cancelled: "cancelled"
        default: "failed"
        }
    }

    public var description: String {
        switch self {
        case .finished: "finished"
        case .failed(let reason, _): "failed: \(reason)"
        case .cancelled: "cancelled"
        case .sessionUnknown(let detail): "session unknown: \(detail)"
        case .unreachable(let error): "unreachable: \(error)"
        case .timedOut(let last, let after):
            "DIM poll timeout after \(after) (last state \(last.map(String.init(describing:)) ?? "none"))"
        }
    }
}

/// One look at a session.
public enum PollReading: Sendable, Hashable {
    case terminal(PollOutcome)
    case active(DIMSessionState)
    case unknown(String)
    case unreachable(DIMError)
}

/// Time as the poller sees it; tests substitute a virtual clock.
public struct PollClock: Sendable {
    public var elapsed: @Sendable () -> Duration
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(elapsed: @escaping @Sendable () -> Duration, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.elapsed = elapsed
        self.sleep = sleep
    }

    public static var continuous: PollClock {
        let clock = ContinuousClock()
        let origin = clock.now
        return PollClock(elapsed: { clock.now - origin }, sleep: { try await Task.sleep(for: $0) })
    }
}

/// Polls one session until it is terminal, with exponential backoff and jitter, and always ends:
/// an unknown session, an unreachable DIM and a session that never finishes each have a limit.
public struct DIMPoller: Sendable {
    public var observer: any DIMSessionObserver
    public var policy: PollPolicy
    public var clock: PollClock
    /// A number in [0, 1) for jitter.
    public var random: @Sendable () -> Double

    public init(observer: any DIMSessionObserver, policy: PollPolicy = PollPolicy(), clock: PollClock = .continuous,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.observer = observer
        self.policy = policy
        self.clock = clock
        self.random = random
    }

    /// Polls until terminal. `dropNames` (oid → name, `PhysicalGraph.dropNames`) names failed
    /// drops. Throws only `CancellationError`.
    public func poll(sessionID: String, dropNames: [String: String] = [:]) async throws -> PollOutcome {
        let start = clock.elapsed()
        var delay = policy.initialDelay
        var unknown = 0
        var unreachable = 0
        var lastState: DIMSessionState? = nil
        while true {
            try Task.checkCancellation()
            switch try await check(sessionID: sessionID, dropNames: dropNames) {
            case .terminal(let outcome):
                return outcome
            case .active(let state):
                lastState = state
                unknown = 0
                unreachable = 0
            case .unknown(let detail):
                unknown += 1
                unreachable = 0
                if unknown >= policy.maxUnknownReadings {
                    return .sessionUnknown("\(detail) (\(unknown) readings in a row)")
                }
            case .unreachable(let error):
                unreachable += 1
                unknown = 0
                if unreachable >= policy.maxUnreachableReadings { return .unreachable(error) }
            }
            let elapsed = clock.elapsed() - start
            if elapsed >= policy.maxDuration { return .timedOut(lastState: lastState, after: elapsed) }
            try await clock.sleep(min(jittered(delay), policy.maxDuration - elapsed))
            delay = min(delay * policy.multiplier, policy.maxDelay)
        }
    }

    /// One reading: the session state, and for a terminal FINISHED or FAILED session the graph
    /// status (a FINISHED session with drops in error is failed). Throws only `CancellationError`.
    public func check(sessionID: String, dropNames: [String: String] = [:]) async throws -> PollReading {
        try await check(sessionID: sessionID, dropNames: { dropNames })
    }

    /// `check` with the drop names looked up only when drops are in error. Throws
    /// `CancellationError`, or what `dropNames` throws.
    public func check(sessionID: String, dropNames: () async throws -> [String: String]) async throws -> PollReading {
        let status: SessionStatus
        do {
            status = try await observer.sessionStatus(sessionID)
        } catch {
            return try reading(for: error, sessionID: sessionID)
        }
        switch status.state {
        case .cancelled:
            return .terminal(.cancelled)
        case .finished, .failed:
            let graph: GraphStatus
            do {
                graph = try await observer.graphStatus(sessionID)
            } catch {
                if status.state == .failed {  // the verdict stands; we only lack the names
                    return .terminal(.failed(reason: "session \(sessionID) FAILED (graph status unavailable: \(error))",
                                             drops: []))
                }
                return try reading(for: error, sessionID: sessionID)
            }
            let errorDrops = graph.errorDrops
            let names = errorDrops.isEmpty ? [:] : try await dropNames()
            let failed = errorDrops.map { FailedDrop(oid: $0, name: names[$0]) }
            if failed.isEmpty {
                return status.state == .finished
                    ? .terminal(.finished)
                    : .terminal(.failed(reason: "session \(sessionID) FAILED", drops: []))
            }
            let what = status.state == .finished ? "FINISHED with \(failed.count) drop(s) in error"
                                                 : "FAILED with \(failed.count) drop(s) in error"
            return .terminal(.failed(reason: "session \(sessionID) \(what); first: \(failed[0])", drops: failed))
        case .missing:
            return .unknown("the DIM does not know session \(sessionID) (it answered {\"Status\": \"Success\"})")
        case .unrecognised(let raw):
            return .unknown("session \(sessionID) reports an unrecognised state \(raw)")
        case .pristine, .building, .deploying, .running:
            return .active(status.state)
        }
    }

    private func reading(for error: DIMError, sessionID: String) throws -> PollReading {
        switch error {
        case .cancelled: throw CancellationError()
        case .sessionUnknown: return .unknown("the DIM does not know session \(sessionID)")
        case .invalidResponse(let why): return .unknown(why)
        default: return .unreachable(error)
        }
    }

    private func jittered(_ delay: Duration) -> Duration {
        delay.jittered(by: policy.jitter, random: random())
    }
}
