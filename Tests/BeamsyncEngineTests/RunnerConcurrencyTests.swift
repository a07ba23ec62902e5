@testable import BeamsyncEngine
import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// Counts requests a fake peer is answering at the same moment.
final class ConcurrencyGauge: @unchecked Sendable {
    private let lock = NSLock()
    private var current = 0
    private var highest = 0
    private var seen = 0

    func enter() { lock.withLock { current += 1; seen += 1; highest = max(highest, current) } }
    func leave() { lock.withLock { current -= 1 } }
    var peak: Int { lock.withLock { highest } }
    var total: Int { lock.withLock { seen } }
}

/// A Translator Manager that takes `seconds` to reject every graph with HTTP 400.
func slowTranslator(seconds: Double, gauge: ConcurrencyGauge, detail: String = "slow and rejecting") throws -> LoopbackServer {
    try LoopbackServer { _ in
        gauge.enter()
        defer { gauge.leave() }
        Thread.sleep(forTimeInterval: seconds)
        return .json(400, #"{"detail":"\#(detail)"}"#)
    }
}

extension RunnerHarness {
    /// A rest_remote profile whose Translator Manager is `tmURL` (the DIM is never reached).
    @discardableResult
    func profile(_ name: String, tmURL: String, isDefault: Bool = false) async throws -> UUID {
        try await insertProfile(name, isDefault: isDefault,
                                translation: .object(["algo": .string("metis"), "num_par": .int(1), "num_islands": .int(1),
                                                      "tm_url": .string(tmURL)]),
                                deployment: .object(["kind": .string("rest_remote"), "deploy_host": .string("127.0.0.1"),
                                                     "deploy_port": .int(Int64(try closedLoopbackPort())),
                                                     "dim_host_for_tm": .string("127.0.0.1"), "dim_port_for_tm": .int(9)]))
    }

    func waitFor(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }
}

@Suite("Runner concurrency setting")
struct RunnerConcurrencySettingTests {
    @Test("BEAMSYNC_RUNNER_CONCURRENCY sets the width; a value outside 1...256 is refused by name and the default kept")
    func fromEnvironment() throws {
        #expect(RunnerConfiguration(environment: [:]).concurrency == 8)
        #expect(RunnerConfiguration(environment: ["BEAMSYNC_RUNNER_CONCURRENCY": " 12 "]).concurrency == 12)
        #expect(try RunnerConfiguration.concurrency(from: [:]) == nil)
        for bad in ["0", "-1", "257", "eight", "1.5"] {
            #expect(RunnerConfiguration(environment: ["BEAMSYNC_RUNNER_CONCURRENCY": bad]).concurrency == 8)
            #expect(throws: EngineConfigurationError(field: "BEAMSYNC_RUNNER_CONCURRENCY",
                                                     message: "'\(bad)' is not a whole number from 1 to 256 (default 8)")) {
                try RunnerConfiguration.concurrency(from: ["BEAMSYNC_RUNNER_CONCURRENCY": bad])
            }
        }
    }
}

@Suite("Runner concurrency", .serialized, .requires(.postgres))
struct RunnerConcurrencyTests {
    @Test("one pass advances its due executions `concurrency` at a time, on that many connections and HTTP threads")
    func passIsConcurrentAndBounded() async throws {
        try await RunnerHarness.with { h in
            // A DIM that takes 1 s to say it does not know a session, then refuses to create it.
            let gauge = ConcurrencyGauge()
            let dim = try LoopbackServer { request in
                if request.method == "GET" {
                    gauge.enter()
                    defer { gauge.leave() }
                    Thread.sleep(forTimeInterval: 1)
                    return .json(555, #"{"type": "SubManagerException", "args": {"n:1": {"type": "NoSessionException", "args": "x"}}}"#)
                }
                return .json(400, #"{"type": "InvalidGraphException", "args": "refused by the test"}"#)
            }
            defer { dim.stop() }
            try await h.restProfile("slow-dim", isDefault: true, deployPort: dim.port)
            var ids: [UUID] = []
            for i in 0..<6 {
                let e = try await h.create("HelloWorld", name: "e\(i)")
                // As if translated: the next step creates the session on the DIM.
                try await h.ledger.transition(e.id, ExecutionTransition(status: .running, step: "translating", message: "test"))
                try await h.ledger.transition(e.id, ExecutionTransition(step: "session_creating", message: "test",
                                                                        daliugeSessionID: "s-\(i)", backend: .restRemote))
                ids.append(e.id)
            }
            var config = testRunnerConfiguration()
            config.concurrency = 3
            let runner = h.runner(config)
            let started = ContinuousClock.now
            #expect(await runner.runOnce() == 6)
            let elapsed = ContinuousClock.now - started
            #expect(gauge.total == 6 && gauge.peak == 3, "three steps at a time: peak \(gauge.peak) of \(gauge.total)")
            // Two waves of three 1 s calls: not 6 s one after another, and not all six at once.
            #expect(elapsed >= .milliseconds(1900) && elapsed < .milliseconds(4500), "\(elapsed)")
            for id in ids {
                let r = try await h.record(id)
                #expect(r.status == .failed && r.lastError?.hasPrefix("DIM refused creating session") == true, "\(r.lastError ?? "")")
            }
            let sessions = try await h.conn.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()")
                .single().int("n")
            #expect(sessions <= 1 + 1 + 3, "the test's own, the runner's control connection and at most three workers: \(sessions)")
            await runner.close()
        }
    }

    @Test("translations to one Translator Manager run one at a time (DALiuGE 6.6.0's first partitionings race)")
    func oneTranslationAtATime() async throws {
        try await RunnerHarness.with { h in
            let gauge = ConcurrencyGauge()
            let tm = try slowTranslator(seconds: 0.3, gauge: gauge)
            defer { tm.stop() }
            try await h.profile("slow-tm", tmURL: tm.baseURL, isDefault: true)
            for i in 0..<3 { _ = try await h.create("HelloWorld", name: "t\(i)") }
            let runner = h.runner()  // concurrency 8
            #expect(await runner.runOnce() == 3, "all three record 'translating'")
            let started = ContinuousClock.now
            #expect(await runner.runOnce() == 3)
            #expect(gauge.total == 3 && gauge.peak == 1, "one translation at a time: peak \(gauge.peak)")
            #expect(ContinuousClock.now - started >= .milliseconds(850))
            let failed = try await h.conn.query("SELECT count(*) AS n FROM executions WHERE status = 'failed'").single().int("n")
            #expect(failed == 3)
            await runner.close()
        }
    }

    @Test("cancelling run() aborts the step in flight and hands its execution back at once, at its recorded step")
    func cancelHandsBack() async throws {
        try await RunnerHarness.with { h in
            let gauge = ConcurrencyGauge()
            let tm = try slowTranslator(seconds: 20, gauge: gauge)
            defer { tm.stop() }
            try await h.profile("hanging-tm", tmURL: tm.baseURL, isDefault: true)
            let e = try await h.create("HelloWorld", name: "interrupted")
            let runner = h.runner()
            let loop = Task { await runner.run() }
            #expect(try await h.waitFor(10) { gauge.total == 1 }, "the translation call reached the Translator Manager")
            let leased = try await h.record(e.id)
            #expect(leased.step == "translating" && (leased.nextPollAt ?? .distantPast) > Date().addingTimeInterval(30),
                    "while the call runs the execution is leased")
            let cancelled = ContinuousClock.now
            loop.cancel()
            await loop.value
            #expect(ContinuousClock.now - cancelled < .seconds(3), "the transfer was aborted, not waited for")
            let after = try await h.record(e.id)
            #expect(after.status == .running && after.step == "translating", "the recorded step stays")
            #expect((after.nextPollAt ?? .distantFuture) <= Date(), "handed back: due now, not after the lease")
            let other = try await PGConnection.connect(conninfo: h.conninfo)
            let taken = try await ExecutionLedger(conn: other).due(limit: 5)
            #expect(taken.map(\.id) == [e.id], "another runner can take it at once")
            await other.close()
            await runner.close()
        }
    }
}

@Suite("Runner concurrency against a real DALiuGE stack", .serialized,
       .requires(.postgres, .daliuge))
struct RunnerConcurrencyDALiuGETests {
    @Test("a Translator Manager that takes 8 s for one execution does not hold up four others, which run to completed meanwhile")
    func slowPeerDoesNotHoldUpOthers() async throws {
        try await RunnerHarness.with { h in
            let gauge = ConcurrencyGauge()
            let tm = try slowTranslator(seconds: 8, gauge: gauge, detail: "took its time")
            defer { tm.stop() }
            try await h.profile("slow", tmURL: tm.baseURL)
            try await h.restProfile("dim", isDefault: true)
            let slow = try await h.create("HelloWorld", name: "slow", profile: "slow")
            var created: [UUID] = []
            for i in 0..<4 { created.append(try await h.create("HelloWorld", name: "fast\(i)").id) }
            let fast = created
            let runner = h.runner()
            let started = ContinuousClock.now
            let seen = FastRunSeen()
            let ledgerURL = h.conninfo
            await runner.run(until: {
                guard let conn = try? await PGConnection.connect(conninfo: ledgerURL) else { return false }
                defer { Task { await conn.close() } }
                let ledger = ExecutionLedger(conn: conn)
                var done = 0
                for id in fast where (try? await ledger.get(id: id))?.isTerminal == true { done += 1 }
                guard done == fast.count else { return false }
                let slowNow = try? await ledger.get(id: slow.id)
                seen.record(after: ContinuousClock.now - started, slowStep: slowNow?.step, slowPeers: gauge.total)
                return true
            })
            let at = try #require(seen.after)
            #expect(at < .seconds(7), "the four finished while the slow call was still running: \(at)")
            #expect(seen.slowStep == "translating" && seen.slowPeers == 1, "the slow one was still in its translate call")
            for id in fast {
                let r = try await h.record(id)
                #expect(r.status == .completed && r.daliugeState == "FINISHED", "\(r.name): \(r.lastError ?? "")")
            }
            // run(until:) lets the step in flight finish before it returns.
            let done = try await h.record(slow.id)
            #expect(done.status == .failed && done.lastError == "Translator Manager rejected the graph (HTTP 400): took its time")
            await runner.close()
        }
    }

    @Test("two runners advancing six executions at once never step on each other: one create, append and deploy per session")
    func twoConcurrentRunners() async throws {
        try await RunnerHarness.with { h in
            let stack = try TestServices.requireDALiuGE()
            let proxy = try DIMProxy(targetHost: stack.dimHost, targetPort: stack.dimPort)
            defer { proxy.stop() }
            try await h.restProfile("dim", isDefault: true, deployPort: proxy.port)
            var ids: [UUID] = []
            for i in 0..<6 { ids.append(try await h.create("HelloWorld", name: "pair\(i)").id) }
            let conninfo = h.conninfo
            let allDone: @Sendable () async -> Bool = {
                guard let conn = try? await PGConnection.connect(conninfo: conninfo) else { return false }
                defer { Task { await conn.close() } }
                let open = try? await conn.query("SELECT count(*) AS n FROM executions WHERE completed_at IS NULL").single().int("n")
                return open == 0
            }
            var config = testRunnerConfiguration()
            config.concurrency = 3
            let a = h.runner(config), b = h.runner(config)
            async let first: Void = a.run(until: allDone)
            async let second: Void = b.run(until: allDone)
            _ = await (first, second)
            for id in ids {
                let r = try await h.record(id)
                #expect(r.status == .completed, "\(r.name): \(r.lastError ?? "")")
                let sid = try #require(r.daliugeSessionID)
                #expect(proxy.count("POST /api/sessions/\(sid)/graph/append") == 1)
                #expect(proxy.count("POST /api/sessions/\(sid)/deploy") == 1)
                #expect(try await h.steps(id) == ["created", "translating", "session_creating", "graph_appending", "deploying",
                                                  "deployed", "completed"])
            }
            #expect(proxy.count("POST /api/sessions") == 6, "one create per execution")
            await a.close()
            await b.close()
        }
    }
}

/// What the slow-peer test saw when the fast executions were all done.
final class FastRunSeen: @unchecked Sendable {
    private let lock = NSLock()
    private var values: (Duration, String?, Int)?

    func record(after: Duration, slowStep: String?, slowPeers: Int) {
        lock.withLock { if values == nil { values = (after, slowStep, slowPeers) } }
    }
    var after: Duration? { lock.withLock { values?.0 } }
    var slowStep: String? { lock.withLock { values?.1 } }
    var slowPeers: Int { lock.withLock { values?.2 ?? -1 } }
}

@Suite("HTTPClient per-server limit")
struct HTTPClientPerHostTests {
    @Test("at most maxPerHost requests reach one server at once, and a busy server does not hold up another")
    func perHostLimit() async throws {
        let gauge = ConcurrencyGauge()
        let busy = try LoopbackServer { _ in
            gauge.enter()
            defer { gauge.leave() }
            Thread.sleep(forTimeInterval: 0.3)
            return .json(200, "{}")
        }
        defer { busy.stop() }
        let other = try LoopbackServer { _ in .json(200, "{}") }
        defer { other.stop() }
        let http = HTTPClient(threads: 8, maxPerHost: 2)
        let started = ContinuousClock.now
        async let slow: [Int] = withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<6 { group.addTask { try await http.send(HTTPRequest(.get, busy.baseURL + "/status")).status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await Task.sleep(for: .milliseconds(50))
        let quick = try await http.send(HTTPRequest(.get, other.baseURL + "/api"))
        let quickAt = ContinuousClock.now - started
        let statuses = try await slow
        let all = ContinuousClock.now - started
        #expect(statuses == Array(repeating: 200, count: 6) && quick.status == 200)
        #expect(gauge.total == 6 && gauge.peak == 2, "two at a time: peak \(gauge.peak)")
        #expect(all >= .milliseconds(850), "three waves of two 0.3 s calls: \(all)")
        #expect(quickAt < .milliseconds(250), "the other server answered while the busy one was still working: \(quickAt)")
    }

    @Test("the limit is per scheme, host and port, without credentials")
    func origin() {
        #expect(HTTPClient.origin(of: "http://127.0.0.1:8001/api/sessions/x/status") == "http://127.0.0.1:8001")
        #expect(HTTPClient.origin(of: "HTTPS://user:pw@DIM.example.org:443?x") == "https://dim.example.org:443")
        #expect(HTTPClient.origin(of: "http://dim:8001") == "http://dim:8001")
        #expect(HTTPClient.origin(of: "http://dim:8002/") != HTTPClient.origin(of: "http://dim:8001/"))
    }
}
