@testable import BeamsyncEngine
import BeamsyncModel
import BeamsyncTestSupport
import Foundation
import Testing

extension TestServices.DALiuGE {
    /// A rest_remote profile for the stack: the TM, and the DIM both as the TM and as beamsync reach it.
    var profile: DeploymentProfile {
        DeploymentProfile(
            name: "dlg-loopback",
            translation: TranslationConfig(algo: .metis, numPar: 1, numIslands: 0, tmURL: tmURL),
            deployment: .restRemote(RestRemoteDeployment(dimHostForTM: dimHost, dimPortForTM: dimPort,
                                                         deployHost: dimHost, deployPort: dimPort)))
    }
}

func fixture(_ name: String) throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    return Array(try Data(contentsOf: url))
}

/// Serialized: a DALiuGE 6.6.0 Node Manager `chdir`s into each new session's directory and
/// resolves relative output paths against its (process-wide) working directory, so sessions
/// created concurrently on one NM can write into each other's directories.
@Suite("DALiuGE 6.6.0 integration (TM, DIM, NM from scripts/dlg.sh)", .requires(.daliuge), .serialized)
struct DaliugeIntegrationTests {
    let http = HTTPClient(threads: 2, name: "dlg-test-http")
    let policy = PollPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(1), maxDuration: .seconds(90))

    func clients() throws -> (TestServices.DALiuGE, TranslatorClient, DIMClient) {
        let services = try TestServices.requireDALiuGE()
        let profile = services.profile
        guard case .restRemote(let rest) = profile.deployment else { fatalError() }
        return (services, TranslatorClient(endpoint: try TranslatorEndpoint(profile: profile), http: http),
                DIMClient(endpoint: try DIMEndpoint(rest: rest), http: http))
    }

    func newSessionID(_ label: String) -> String {
        "beamsync-test-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    @Test("HelloWorld is translated by the TM, deployed on the DIM in three steps, finishes and writes its output file")
    func helloWorldTranslatesDeploysFinishesAndWritesItsOutput() async throws {
        let (services, tm, dim) = try clients()
        let graph = try await tm.translate(logicalGraph: try fixture("HelloWorld.graph"), profile: services.profile)
        #expect(graph.drops.count == 2)
        #expect(graph.roots.count == 1 && graph.roots[0].hasSuffix("_hello_0"))
        #expect(graph.drops.allSatisfy { $0.node?.hasPrefix("\(services.dimHost):") == true })
        let hello = try #require(graph.elements.first { $0["oid"]?.stringValue == graph.roots[0] })
        #expect(hello["type"] == .string("app"))
        #expect(hello["app"] == .string("dlg.apps.simple.HelloWorldApp"))
        #expect(hello["humanReadableKey"] == .string("hello_0"))

        let sid = newSessionID("hello")
        let steps = StepLog()
        try await dim.submit(sessionID: sid, graph: graph) { await steps.add($0) }
        #expect(await steps.all == [.creating, .appending, .deploying])
        let outcome = try await DIMPoller(observer: dim, policy: policy).poll(sessionID: sid, dropNames: graph.dropNames)
        #expect(outcome == .finished)
        let output = URL(fileURLWithPath: services.work).appendingPathComponent(sid).appendingPathComponent("beamsync-hello.txt")
        let written = try? String(contentsOf: output, encoding: .utf8)
        #expect(written == "Hello beamsync", "no \(output.path); the NM may have written it into another session's directory")
        try await dim.deleteSession(sid)
    }

    @Test("a failing application makes the session failed, naming the drop")
    func aFailingAppIsFailedWithTheDropNamed() async throws {
        let (services, tm, dim) = try clients()
        let graph = try await tm.translate(logicalGraph: try fixture("FailingApp.graph"), profile: services.profile)
        let sid = newSessionID("fail")
        try await dim.submit(sessionID: sid, graph: graph)
        let outcome = try await DIMPoller(observer: dim, policy: policy).poll(sessionID: sid, dropNames: graph.dropNames)
        guard case .failed(let reason, let drops) = outcome else {
            Issue.record("expected failed, got \(outcome)")
            return
        }
        #expect(drops.first?.name == "boom")
        #expect(drops.first?.oid.hasSuffix("_boom_0") == true)
        #expect(reason.contains("'boom'"))
        #expect(outcome.executionStatus == "failed")
    }

    @Test("the Translator Manager's rejection reaches the caller verbatim, and so does its plain-text 500")
    func theTranslatorsRejectionReachesTheCallerVerbatim() async throws {
        let (services, tm, _) = try clients()
        let error = await #expect(throws: TranslatorError.self) {
            try await tm.translate(logicalGraph: try fixture("Invalid.graph"), profile: services.profile)
        }
        guard case .rejected(let http)? = error else {
            Issue.record("expected rejected, got \(String(describing: error))")
            return
        }
        #expect(http.status == 400)
        #expect(error?.serverMessage == "LG content is malformed")
        #expect(error?.description.contains("POST \(services.tmURL)/unroll_and_partition: HTTP 400: LG content is malformed") == true)

        // JSON that is not a logical graph: the TM's 500 is plain text.
        let empty = Array(#"{"modelData": {"filePath": "x"}, "nodeDataArray": [], "linkDataArray": []}"#.utf8)
        let crash = await #expect(throws: TranslatorError.self) {
            try await tm.unrollAndPartition(logicalGraph: empty, settings: PartitionSettings(services.profile.translation))
        }
        #expect(crash?.serverMessage == "Internal Server Error")
    }

    @Test("a running session is cancelled, and polling ends as cancelled long before the application would have finished")
    func aRunningSessionCanBeCancelled() async throws {
        let (services, tm, dim) = try clients()
        let graph = try await tm.translate(logicalGraph: try fixture("Sleep.graph"), profile: services.profile)
        let sid = newSessionID("cancel")
        try await dim.submit(sessionID: sid, graph: graph)
        let poller = DIMPoller(observer: dim, policy: policy)
        var reading = try await poller.check(sessionID: sid)
        for _ in 0..<50 where reading != .active(.running) {
            try await Task.sleep(for: .milliseconds(100))
            reading = try await poller.check(sessionID: sid)
        }
        #expect(reading == .active(.running))
        let started = ContinuousClock.now
        try await dim.cancelSession(sid)
        #expect(try await poller.poll(sessionID: sid) == .cancelled)
        #expect(ContinuousClock.now - started < .seconds(30))  // the app sleeps 120 s
        try await dim.deleteSession(sid)
    }

    @Test("a DIM that is down is unreachable: creating a session is refused and polling ends after its limit")
    func aDIMThatIsDownIsUnreachableNotAnEndlessPoll() async throws {
        let services = try TestServices.requireDALiuGE()
        let port = try closedLoopbackPort()
        let dim = DIMClient(endpoint: DIMEndpoint(baseURL: "http://\(services.dimHost):\(port)"), http: http)
        let error = await #expect(throws: DIMError.self) { try await dim.createSession(newSessionID("down")) }
        guard case .unreachable(let http)? = error else {
            Issue.record("expected unreachable, got \(String(describing: error))")
            return
        }
        #expect(http.kind == .connectionRefused)
        #expect(error?.description.contains("DIM unreachable: POST http://\(services.dimHost):\(port)/api/sessions: connection refused") == true)
        let outcome = try await DIMPoller(observer: dim, policy: PollPolicy(initialDelay: .milliseconds(10),
                                                                            maxUnreachableReadings: 3)).poll(sessionID: "x")
        guard case .unreachable(.unreachable(let last)) = outcome else {
            Issue.record("expected unreachable, got \(outcome)")
            return
        }
        #expect(last.kind == .connectionRefused)
    }

    @Test("a session the DIM does not know is missing, its calls answer session unknown, and polling ends after its limit")
    func anUnknownSessionIsClassifiedAndPollingEnds() async throws {
        let (_, _, dim) = try clients()
        let sid = newSessionID("unknown")
        // The DIM answers 200 {"<node>": {"Status": "Success"}} for a session it does not know.
        #expect(try await dim.sessionStatus(sid).state == .missing)
        #expect(try await dim.sessionExists(sid) == false)
        await #expect(throws: DIMError.sessionUnknown(sessionID: sid)) { try await dim.graphStatus(sid) }
        await #expect(throws: DIMError.sessionUnknown(sessionID: sid)) { try await dim.cancelSession(sid) }
        let started = ContinuousClock.now
        let outcome = try await DIMPoller(observer: dim, policy: PollPolicy(initialDelay: .milliseconds(50),
                                                                            maxUnknownReadings: 3)).poll(sessionID: sid)
        guard case .sessionUnknown(let detail) = outcome else {
            Issue.record("expected sessionUnknown, got \(outcome)")
            return
        }
        #expect(detail.contains(sid))
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("creating a session twice is a session-exists error, and deploying without roots is refused")
    func duplicateSessionsAndEmptyRootsAreTyped() async throws {
        let (_, _, dim) = try clients()
        let sid = newSessionID("dup")
        try await dim.createSession(sid)
        #expect(try await dim.sessionExists(sid))
        await #expect(throws: DIMError.sessionExists(sessionID: sid)) { try await dim.createSession(sid) }
        await #expect(throws: DIMError.self) { try await dim.deploy(sid, roots: []) }
        #expect(try await dim.info().sessionIDs.contains(sid))
        try await dim.deleteSession(sid)
        #expect(try await dim.sessionExists(sid) == false)
    }
}

private actor StepLog {
    var all: [DIMClient.SubmitStep] = []
    func add(_ step: DIMClient.SubmitStep) { all.append(step) }
}

/// The second DIM that `scripts/dlg.sh start` runs: its only Node Manager is down, so every
/// session call stalls for the DIM's 10 s node check and then answers 555 naming the node.
@Suite("DALiuGE 6.6.0: a DIM whose Node Manager is down", .requires(.daliuge))
struct DaliugeDeadNodeTests {
    @Test("a call on a DIM whose Node Manager is down is a transient node failure naming the node, and polling ends as unreachable")
    func aStalledIslandIsATypedNodeFailureAndPollingEnds() async throws {
        let services = try TestServices.requireDALiuGE()
        let port = try #require(services.deadNodeDIMPort,
                                "BEAMSYNC_TEST_DEAD_NM_DIM_PORT (from scripts/dlg.sh start) is not set")
        let dim = DIMClient(endpoint: DIMEndpoint(baseURL: "http://\(services.dimHost):\(port)"), http: HTTPClient(threads: 2))
        // /api still answers at once and names the node.
        let node = try #require(try await dim.info().hosts.first)

        let started = ContinuousClock.now
        let error = await #expect(throws: DIMError.self) { try await dim.createSession("beamsync-test-deadnm") }
        guard case .nodeFailure(let failing, let reason, let http)? = error else {
            Issue.record("expected nodeFailure, got \(String(describing: error))")
            return
        }
        #expect(failing == node)
        #expect(reason == "SubManagerException")
        #expect(http.status == 555)
        #expect(error?.isTransient == true)
        #expect(ContinuousClock.now - started < .seconds(20))

        // Polling a session there ends as unreachable instead of spinning.
        let outcome = try await DIMPoller(observer: dim, policy: PollPolicy(initialDelay: .milliseconds(10),
                                                                            maxUnreachableReadings: 1))
            .poll(sessionID: "beamsync-test-deadnm")
        guard case .unreachable(.nodeFailure(let polled, _, _)) = outcome else {
            Issue.record("expected unreachable(nodeFailure), got \(outcome)")
            return
        }
        #expect(polled == node)
    }
}
