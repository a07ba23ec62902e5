@testable import BeamsyncEngine
import Foundation
import Testing

/// A DIM that answers from a script; the last answer repeats.
private final class ScriptedDIM: DIMSessionObserver, @unchecked Sendable {
    enum Answer {
        case state(DIMSessionState)
        case error(DIMError)
    }

    private let lock = NSLock()
    private var answers: [Answer]
    private let graph: Result<GraphStatus, DIMError>
    private(set) var statusCalls = 0

    init(_ answers: [Answer], graph: Result<GraphStatus, DIMError> = .success(GraphStatus(drops: [:]))) {
        self.answers = answers
        self.graph = graph
    }

    var calls: Int { lock.withLock { statusCalls } }

    func sessionStatus(_ sessionID: String) async throws(DIMError) -> SessionStatus {
        let answer: Answer = lock.withLock {
            statusCalls += 1
            return answers.count > 1 ? answers.removeFirst() : answers[0]
        }
        switch answer {
        case .state(let s): return SessionStatus(state: s)
        case .error(let e): throw e
        }
    }

    func graphStatus(_ sessionID: String) async throws(DIMError) -> GraphStatus { try graph.get() }
}

/// Virtual time: sleeping advances it instantly and records each wait.
private final class VirtualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var now: Duration = .zero
    private var waits: [Duration] = []

    var sleeps: [Duration] { lock.withLock { waits } }

    var pollClock: PollClock {
        PollClock(elapsed: { self.lock.withLock { self.now } },
                  sleep: { d in self.lock.withLock { self.now += d; self.waits.append(d) } })
    }
}

@Suite("Polling a DIM session until it ends")
struct DIMPollerTests {
    let refused = DIMError.unreachable(HTTPError(kind: .connectionRefused, method: .get,
                                                 url: "http://127.0.0.1:1/api/sessions/s/status", message: "refused"))

    private func poller(_ dim: ScriptedDIM, _ clock: VirtualClock, _ policy: PollPolicy = PollPolicy()) -> DIMPoller {
        DIMPoller(observer: dim, policy: policy, clock: clock.pollClock, random: { 0.5 })
    }

    @Test("polling follows the session's states until it has finished")
    func runsToFinished() async throws {
        let dim = ScriptedDIM([.state(.pristine), .state(.building), .state(.running), .state(.running), .state(.finished)])
        let clock = VirtualClock()
        #expect(try await poller(dim, clock).poll(sessionID: "s") == .finished)
        #expect(dim.calls == 5)
    }

    @Test("the delay between polls doubles up to its maximum and is jittered")
    func backoffIsExponentialCappedAndJittered() async throws {
        let dim = ScriptedDIM(Array(repeating: .state(.running), count: 8) + [.state(.finished)])
        let clock = VirtualClock()
        let policy = PollPolicy(initialDelay: .milliseconds(100), maxDelay: .milliseconds(800), multiplier: 2, jitter: 0.5)
        // random 0.5 → factor 1 exactly
        _ = try await poller(dim, clock, policy).poll(sessionID: "s")
        #expect(clock.sleeps == [100, 200, 400, 800, 800, 800, 800, 800].map { Duration.milliseconds($0) })
        let jittery = DIMPoller(observer: ScriptedDIM([.state(.running), .state(.finished)]), policy: policy,
                                clock: clock.pollClock, random: { 0 })
        _ = try await jittery.poll(sessionID: "s")
        #expect(clock.sleeps.last == .milliseconds(50))  // 1 - 0.5
    }

    @Test("a finished session with drops in error is failed, naming the drops")
    func finishedWithErrorDropsIsFailedAndNamesTheDrop() async throws {
        let graph = GraphStatus(drops: ["T_boom_0": .init(status: .int(3), execStatus: .int(3)),
                                        "T_never_0": .init(status: .int(3)), "T_ok_0": .init(status: .int(2))])
        let dim = ScriptedDIM([.state(.finished)], graph: .success(graph))
        let outcome = try await poller(dim, VirtualClock()).poll(sessionID: "s", dropNames: ["T_boom_0": "boom"])
        guard case .failed(let reason, let drops) = outcome else { Issue.record("\(outcome)"); return }
        #expect(drops == [FailedDrop(oid: "T_boom_0", name: "boom"), FailedDrop(oid: "T_never_0")])
        #expect(reason.contains("'boom' (T_boom_0)"))
        #expect(outcome.executionStatus == "failed")
    }

    @Test("a failed session is failed even when its graph status cannot be read, and a cancelled one is cancelled")
    func failedAndCancelled() async throws {
        let failed = try await poller(ScriptedDIM([.state(.failed)], graph: .failure(refused)), VirtualClock()).poll(sessionID: "s")
        guard case .failed(let reason, _) = failed else { Issue.record("\(failed)"); return }
        #expect(reason.contains("graph status unavailable"))
        #expect(try await poller(ScriptedDIM([.state(.cancelled)]), VirtualClock()).poll(sessionID: "s") == .cancelled)
    }

    @Test("a session the DIM does not know ends polling after the limit of unknown readings, however the DIM says so")
    func unknownSessionEndsPollingAfterTheLimit() async throws {
        let dim = ScriptedDIM([.state(.running), .state(.missing)])
        let outcome = try await poller(dim, VirtualClock(), PollPolicy(maxUnknownReadings: 3)).poll(sessionID: "s")
        guard case .sessionUnknown(let detail) = outcome else { Issue.record("\(outcome)"); return }
        #expect(detail.contains("does not know session s"))
        #expect(dim.calls == 4)
        // 555 NoSessionException counts the same way.
        let typed = try await poller(ScriptedDIM([.error(.sessionUnknown(sessionID: "s"))]), VirtualClock()).poll(sessionID: "s")
        if case .sessionUnknown = typed {} else { Issue.record("\(typed)") }
        // So does a state nobody knows.
        let odd = try await poller(ScriptedDIM([.state(.unrecognised("42"))]), VirtualClock()).poll(sessionID: "s")
        if case .sessionUnknown = odd {} else { Issue.record("\(odd)") }
    }

    @Test("a readable state in between resets the count of unknown readings")
    func aReadableStateResetsTheUnknownCount() async throws {
        let dim = ScriptedDIM([.state(.missing), .state(.missing), .state(.running), .state(.missing), .state(.missing),
                               .state(.finished)])
        #expect(try await poller(dim, VirtualClock(), PollPolicy(maxUnknownReadings: 3)).poll(sessionID: "s") == .finished)
    }

    @Test("an unreachable DIM ends polling after the limit of unreachable readings")
    func unreachableDIMEndsPolling() async throws {
        let dim = ScriptedDIM([.error(refused)])
        let outcome = try await poller(dim, VirtualClock(), PollPolicy(maxUnreachableReadings: 4)).poll(sessionID: "s")
        #expect(outcome == .unreachable(refused))
        #expect(dim.calls == 4)
    }

    @Test("a session that never ends times out after the maximum duration, naming its last state")
    func aSessionThatNeverEndsTimesOut() async throws {
        let clock = VirtualClock()
        let policy = PollPolicy(initialDelay: .seconds(1), maxDelay: .seconds(10), maxDuration: .seconds(60))
        let outcome = try await poller(ScriptedDIM([.state(.running)]), clock, policy).poll(sessionID: "s")
        guard case .timedOut(let last, let after) = outcome else { Issue.record("\(outcome)"); return }
        #expect(last == .running)
        #expect(after == .seconds(60))
        #expect(outcome.description.contains("DIM poll timeout"))
    }

    @Test("cancelling the polling task stops polling")
    func cancellationStopsPolling() async throws {
        let dim = ScriptedDIM([.state(.running)])
        let poller = DIMPoller(observer: dim, policy: PollPolicy(initialDelay: .milliseconds(20), maxDelay: .milliseconds(20)))
        let task = Task { try await poller.poll(sessionID: "s") }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
