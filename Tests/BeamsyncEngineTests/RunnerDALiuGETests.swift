@testable import BeamsyncEngine
import BeamsyncModel
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// A proxy in front of the test stack's DIM, for counting calls and taking the DIM away.
private func dimProxy() throws -> DIMProxy {
    let stack = try TestServices.requireDALiuGE()
    return try DIMProxy(targetHost: stack.dimHost, targetPort: stack.dimPort)
}

private func directDIM() throws -> DIMClient {
    DIMClient(endpoint: DIMEndpoint(baseURL: try TestServices.requireDALiuGE().dimURL), http: HTTPClient())
}

@Suite("Runner against a real DALiuGE stack", .serialized,
       .requires(.postgres, .daliuge))
struct RunnerDALiuGETests {
    @Test("HelloWorld runs to completed through every recorded step, and its output is on disk")
    func helloWorld() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            let e = try await h.create("HelloWorld", name: "hello")
            let runner = h.runner()
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .completed, "\(done.lastError ?? "")")
            #expect(done.backend == .restRemote && !done.simulated && done.submissionState == .submitted)
            #expect(done.daliugeState == "FINISHED" && done.startedAt != nil && done.completedAt != nil && done.lastError == nil)
            let sessionID = DaliugeSessionID.make(executionID: e.id, createdAt: e.createdAt)
            #expect(done.daliugeSessionID == sessionID)
            #expect(try await h.steps(e.id) == ["created", "translating", "session_creating", "graph_appending", "deploying", "deployed", "completed"])
            let translated = try #require(try await h.ledger.events(of: e.id).first { $0.step == "session_creating" })
            let pgSHA = try #require(translated.detail?["physical_graph_sha256"]?.stringValue)
            #expect(try await h.ledger.graph(sha256: pgSHA) != nil, "the translated graph is kept")

            let work = try TestServices.requireDALiuGE().work
            let dir = URL(fileURLWithPath: work).appendingPathComponent(sessionID)
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            let greetings = files.compactMap { try? String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }
                .filter { $0.contains("Hello") }
            #expect(!greetings.isEmpty, "no output file with a greeting in \(dir.path): \(files)")
        }
    }

    @Test("a failing application ends failed, naming the drop")
    func failingApp() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            let e = try await h.create("FailingApp")
            let runner = h.runner()
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .failed && done.daliugeState == "FAILED")
            #expect(done.lastError?.contains("'boom'") == true, "\(done.lastError ?? "")")
            let drops = try #require(done.failedDrops?.arrayValue)
            #expect(drops.first?["name"]?.stringValue == "boom")
            #expect(done.completedAt != nil)
        }
    }

    @Test("the Translator Manager's rejection fails the execution with its message verbatim")
    func translatorRejects() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            let e = try await h.create("Invalid")
            let runner = h.runner()
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .failed && done.step == "failed")
            #expect(done.lastError == "Translator Manager rejected the graph (HTTP 400): LG content is malformed")
            #expect(done.daliugeSessionID == nil, "nothing reached the DIM")
            let event = try #require(try await h.ledger.events(of: e.id).last)
            #expect(event.detail?["tm_message"]?.stringValue == "LG content is malformed")
        }
    }

    @Test("do_submit false translates and ends not_submitted without touching the DIM")
    func notSubmitted() async throws {
        try await RunnerHarness.with { h in
            let proxy = try dimProxy()
            defer { proxy.stop() }
            try await h.restProfile("dim", isDefault: true, deployPort: proxy.port)
            let e = try await h.create("HelloWorld", doSubmit: false)
            let runner = h.runner()
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .notSubmitted && done.daliugeSessionID == nil)
            #expect(proxy.requests.isEmpty)
        }
    }

    @Test("cancel: the runner cancels the DIM session and records cancelled")
    func cancel() async throws {
        try await RunnerHarness.with { h in
            let proxy = try dimProxy()
            defer { proxy.stop() }
            try await h.restProfile("dim", isDefault: true, deployPort: proxy.port)
            let e = try await h.create("Sleep", name: "nap")
            let runner = h.runner()
            let running = try await h.drive(runner, e.id) { $0.step == "deployed" }
            #expect(running.status == .running)
            try await h.ledger.requestCancel(idOrName: "nap", actor: "test")
            let done = try await h.drive(runner, e.id, timeout: .seconds(60))
            await runner.close()
            #expect(done.status == .cancelled && done.daliugeState == "CANCELLED", "\(done.lastError ?? "")")
            #expect(proxy.count("POST /api/sessions/\(done.daliugeSessionID!)/cancel") == 1)
            let state = try await directDIM().sessionStatus(done.daliugeSessionID!).state
            #expect(state == .cancelled)
            #expect(try await h.steps(e.id).suffix(3) == ["cancel_requested", "cancelling", "cancelled"])
        }
    }

    @Test("DIM down at deploy: failed with a clear error; the session, graph and steps are all kept")
    func dimDownAtDeploy() async throws {
        try await RunnerHarness.with { h in
            let proxy = try dimProxy()
            defer { proxy.stop() }
            try await h.restProfile("dim", isDefault: true, deployPort: proxy.port)
            let e = try await h.create("HelloWorld")
            let runner = h.runner()
            try await h.drive(runner, e.id) { $0.step == "deploying" }
            proxy.goDown()
            let done = try await h.drive(runner, e.id)
            await runner.close()
            let sessionID = DaliugeSessionID.make(executionID: e.id, createdAt: e.createdAt)
            #expect(done.status == .failed && done.submissionState == .failed)
            #expect(done.lastError?.hasPrefix("DIM unreachable at http://127.0.0.1:\(proxy.port) while deploying session \(sessionID): connection refused") == true,
                    "\(done.lastError ?? "")")
            #expect(done.lastError?.contains("was not deployed") == true)
            #expect(done.daliugeSessionID == sessionID)
            #expect(try await h.steps(e.id) == ["created", "translating", "session_creating", "graph_appending", "deploying", "failed"])
            // Nothing lost: the DIM still holds the session with its graph, never deployed.
            #expect(try await directDIM().sessionStatus(sessionID).state == .building)
            #expect(proxy.count("POST /api/sessions/\(sessionID)/deploy") == 0)
        }
    }

    @Test("a DIM unreachable for a few polls is picked up again when it returns")
    func dimReturnsMidPoll() async throws {
        try await RunnerHarness.with { h in
            let proxy = try dimProxy()
            defer { proxy.stop() }
            try await h.restProfile("dim", isDefault: true, deployPort: proxy.port)
            let e = try await h.create("HelloWorld")
            let runner = h.runner()  // 3 unreachable readings allowed, but only after 60 s
            try await h.drive(runner, e.id) { $0.step == "deployed" }
            proxy.goDown()
            let down = try await h.drive(runner, e.id, timeout: .seconds(30)) { $0.pollFailures >= 4 }
            #expect(down.status == .running && down.daliugeState == "UNREACHABLE")
            try proxy.comeBack()
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .completed && done.daliugeState == "FINISHED", "\(done.lastError ?? "")")
            #expect(try await h.ledger.events(of: e.id).contains { $0.step == "poll" && $0.detail?["daliuge_state"]?.stringValue == "UNREACHABLE" })
        }
    }

    @Test("a DIM that stays unreachable ends the execution after the bounded time")
    func dimStaysDown() async throws {
        try await RunnerHarness.with { h in
            let proxy = try dimProxy()
            defer { proxy.stop() }
            try await h.restProfile("dim", isDefault: true, deployPort: proxy.port)
            let e = try await h.create("Sleep")
            var config = testRunnerConfiguration()
            config.unreachableGrace = .seconds(2)
            let runner = h.runner(config)
            try await h.drive(runner, e.id) { $0.step == "deployed" }
            proxy.goDown()
            let started = ContinuousClock.now
            let done = try await h.drive(runner, e.id, timeout: .seconds(30))
            await runner.close()
            #expect(ContinuousClock.now - started >= .seconds(2))
            #expect(done.status == .failed && done.daliugeState == "UNREACHABLE")
            #expect(done.lastError?.contains("has been unreachable for") == true, "\(done.lastError ?? "")")
            _ = try? await directDIM().cancelSession(done.daliugeSessionID!)
        }
    }

    @Test("a session the DIM does not know ends failed after a bounded number of polls")
    func unknownSession() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            let e = try await h.create("HelloWorld")
            // As if the DIM had been restarted after deployment: the recorded session is gone.
            try await h.ledger.transition(e.id, ExecutionTransition(status: .running, step: "translating", message: "test"))
            try await h.ledger.transition(e.id, ExecutionTransition(
                step: "deployed", message: "test: pretend deployed", submissionState: .submitted,
                daliugeSessionID: "BeampipeExecution-lost-\(UUID().uuidString.lowercased())", backend: .restRemote))
            let runner = h.runner()
            var passes = 0
            while try await h.record(e.id).isTerminal == false && passes < 20 {
                if await runner.runOnce() == 0 { try await Task.sleep(for: .milliseconds(100)) } else { passes += 1 }
            }
            await runner.close()
            let done = try await h.record(e.id)
            #expect(passes == 3, "three readings, then terminal")
            #expect(done.status == .failed && done.daliugeState == "UNKNOWN")
            #expect(done.lastError?.contains("the DIM does not know session") == true && done.lastError?.contains("not polling it any further") == true)
        }
    }

    @Test("a runner stopped after recording 'deploying' is resumed by a new runner without a second create or deploy")
    func resumeBeforeDeploy() async throws {
        try await RunnerHarness.with { h in
            let proxy = try dimProxy()
            defer { proxy.stop() }
            try await h.restProfile("dim", isDefault: true, deployPort: proxy.port)
            let e = try await h.create("HelloWorld")
            let first = h.runner()
            let stopped = try await h.drive(first, e.id) { $0.step == "deploying" }
            await first.close()
            #expect(stopped.status == .running)
            let second = h.runner()
            let done = try await h.drive(second, e.id)
            await second.close()
            let sid = try #require(done.daliugeSessionID)
            #expect(done.status == .completed, "\(done.lastError ?? "")")
            #expect(proxy.count("POST /api/sessions") == 1)
            #expect(proxy.count("POST /api/sessions/\(sid)/graph/append") == 1)
            #expect(proxy.count("POST /api/sessions/\(sid)/deploy") == 1)
        }
    }

    @Test("killed after the deploy call but before 'deployed' was recorded: the DIM's state shows it, no second deploy")
    func resumeAfterDeployCall() async throws {
        try await RunnerHarness.with { h in
            let proxy = try dimProxy()
            defer { proxy.stop() }
            try await h.restProfile("dim", isDefault: true, deployPort: proxy.port)
            let e = try await h.create("HelloWorld")
            let first = h.runner()
            try await h.drive(first, e.id) { $0.step == "deploying" }
            // The call the first runner made just before it died.
            let graph = try #require(await first.graphs.get(e.id))
            let sid = try #require(try await h.record(e.id).daliugeSessionID)
            let viaProxy = DIMClient(endpoint: DIMEndpoint(baseURL: "http://127.0.0.1:\(proxy.port)"), http: HTTPClient())
            try await viaProxy.deploy(sid, roots: graph.roots)
            await first.close()

            let second = h.runner()
            let done = try await h.drive(second, e.id)
            await second.close()
            #expect(done.status == .completed, "\(done.lastError ?? "")")
            #expect(proxy.count("POST /api/sessions/\(sid)/deploy") == 1, "deployed exactly once")
            let deployed = try #require(try await h.ledger.events(of: e.id).first { $0.step == "deployed" })
            #expect(deployed.message?.contains("was already deployed") == true, "\(deployed.message ?? "")")
        }
    }

    @Test("killed after creating the session but before recording it: the session is found, not created twice")
    func resumeAfterCreateCall() async throws {
        try await RunnerHarness.with { h in
            let proxy = try dimProxy()
            defer { proxy.stop() }
            try await h.restProfile("dim", isDefault: true, deployPort: proxy.port)
            let e = try await h.create("HelloWorld")
            let first = h.runner()
            let at = try await h.drive(first, e.id) { $0.step == "session_creating" }
            await first.close()
            let viaProxy = DIMClient(endpoint: DIMEndpoint(baseURL: "http://127.0.0.1:\(proxy.port)"), http: HTTPClient())
            try await viaProxy.createSession(try #require(at.daliugeSessionID))

            let second = h.runner()
            let done = try await h.drive(second, e.id)
            await second.close()
            #expect(done.status == .completed, "\(done.lastError ?? "")")
            #expect(proxy.count("POST /api/sessions") == 1, "created exactly once")
            #expect(try await h.ledger.events(of: e.id).contains { $0.message?.contains("already exists on the DIM") == true })
        }
    }

    @Test("two profiles: moving the default and editing the pinned profile mid-run change nothing for the running execution")
    func pinnedSnapshot() async throws {
        try await RunnerHarness.with { h in
            let proxy = try dimProxy()
            defer { proxy.stop() }
            let first = try await h.restProfile("first", isDefault: true, deployPort: proxy.port)
            let second = try await h.restProfile("second", deployPort: try closedPort())
            let e = try await h.create("HelloWorld")
            #expect(e.deploymentProfileID == first)
            let runner = h.runner()
            try await h.drive(runner, e.id) { $0.step == "session_creating" }
            // Move the default and point the pinned profile at a port where nothing listens.
            try await h.conn.query("UPDATE daliuge_deployment_profile SET is_default = false WHERE uuid = $1", [.uuid(first)])
            try await h.conn.query("UPDATE daliuge_deployment_profile SET is_default = true WHERE uuid = $1", [.uuid(second)])
            try await h.conn.query("""
                UPDATE daliuge_deployment_profile SET deployment = jsonb_set(deployment, '{deploy_port}', to_jsonb($2::int)),
                       revision = revision + 1 WHERE uuid = $1
                """, [.uuid(first), .int(try closedPort())])
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .completed, "\(done.lastError ?? "")")
            #expect(done.deploymentProfileID == first && done.deploymentProfileRevision == 1)
            #expect(done.deploymentProfileSnapshot == e.deploymentProfileSnapshot)
            #expect(proxy.count("POST /api/sessions/\(done.daliugeSessionID!)/deploy") == 1, "the pinned DIM was used")
            // A new execution resolves today's default.
            #expect(try await h.create("HelloWorld").deploymentProfileID == second)
        }
    }
}

/// A loopback port nothing listens on.
private func closedPort() throws -> Int {
    let proxy = try DIMProxy(targetHost: "127.0.0.1", targetPort: 9)
    proxy.stop()
    return proxy.port
}
