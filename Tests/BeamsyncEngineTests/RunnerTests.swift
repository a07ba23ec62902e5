@testable import BeamsyncEngine
import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Loads a fixture graph (HelloWorld, FailingApp, Sleep, Invalid).
func fixtureGraph(_ name: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.url(forResource: name, withExtension: "graph", subdirectory: "Fixtures"))
    return Array(try Data(contentsOf: url))
}

/// Small, fast limits so polling tests take seconds.
func testRunnerConfiguration(real: Bool = true) -> RunnerConfiguration {
    var c = RunnerConfiguration(useRealBackends: real)
    c.poll = PollPolicy(initialDelay: .milliseconds(100), maxDelay: .milliseconds(400), multiplier: 2, jitter: 0.1,
                        maxDuration: .seconds(300), maxUnknownReadings: 3, maxUnreachableReadings: 3)
    c.submitAttempts = 1
    c.submitRetryDelay = .milliseconds(100)
    c.lease = .seconds(60)
    c.unreachableGrace = .seconds(60)
    return c
}

/// One fresh, migrated database per test, a ledger on it, and helpers to make profiles and
/// executions and to drive a runner.
struct RunnerHarness {
    let conninfo: String
    let conn: PGConnection
    var ledger: ExecutionLedger { ExecutionLedger(conn: conn) }

    static func with<T>(_ body: (RunnerHarness) async throws -> T) async throws -> T {
        try await TestDatabase.withFreshDatabase { database in
            let conn = try await database.connect()
            do {
                _ = try await Migrator.beamsync.migrate(conn)
                let value = try await body(RunnerHarness(conninfo: database.url, conn: conn))
                await conn.close()
                return value
            } catch {
                await conn.close()
                throw error
            }
        }
    }

    /// A rest_remote profile: the TM of the test stack, the DIM as the TM sees it, and the DIM as
    /// beamsync reaches it (`deployPort`, usually a `DIMProxy`).
    @discardableResult
    func restProfile(_ name: String, isDefault: Bool = false, project: String? = nil, deployPort: Int? = nil) async throws -> UUID {
        // Without the stack (tests that never reach it), addresses where nothing answers.
        let stack = TestServices.daliuge
        let tm = stack?.tmURL ?? "http://127.0.0.1:9"
        let dimHost = stack?.dimHost ?? "127.0.0.1"
        let dimPort = stack?.dimPort ?? 9
        let translation = JSONValue.object(["algo": .string("metis"), "num_par": .int(1), "num_islands": .int(1), "tm_url": .string(tm)])
        let deployment = JSONValue.object([
            "kind": .string("rest_remote"), "deploy_host": .string("127.0.0.1"), "deploy_port": .int(Int64(deployPort ?? dimPort)),
            "dim_host_for_tm": .string(dimHost), "dim_port_for_tm": .int(Int64(dimPort)),
        ])
        return try await insertProfile(name, isDefault: isDefault, project: project, translation: translation, deployment: deployment)
    }

    @discardableResult
    func insertProfile(_ name: String, isDefault: Bool = false, project: String? = nil, translation: JSONValue, deployment: JSONValue) async throws -> UUID {
        try await conn.query("""
            INSERT INTO daliuge_deployment_profile (name, project_module, is_default, translation, deployment, spec_sha256)
            VALUES ($1, $2, $3, $4, $5, 'test') RETURNING uuid
            """, [.text(name), project.map(PGValue.text), .bool(isDefault), .json(translation.canonicalString), .json(deployment.canonicalString)])
            .single().uuid("uuid")
    }

    func create(_ fixture: String, name: String? = nil, profile: String? = nil, doSubmit: Bool = true) async throws -> ExecutionRecord {
        try await ledger.create(ExecutionRequest(name: name, projectModule: "wallaby", profileName: profile,
                                                 graph: .content(try fixtureGraph(fixture), path: "\(fixture).graph"),
                                                 doSubmit: doSubmit, createdBy: "runner-test"))
    }

    func runner(_ configuration: RunnerConfiguration = testRunnerConfiguration()) -> ExecutionRunner {
        ExecutionRunner(conninfo: conninfo, configuration: configuration)
    }

    func record(_ id: UUID) async throws -> ExecutionRecord {
        try #require(try await ledger.get(id: id))
    }

    /// Runs passes until `done` holds (default: terminal), at most `timeout`.
    @discardableResult
    func drive(_ runner: ExecutionRunner, _ id: UUID, timeout: Duration = .seconds(120),
               until done: (ExecutionRecord) -> Bool = { $0.isTerminal }) async throws -> ExecutionRecord {
        let deadline = ContinuousClock.now + timeout
        while true {
            let r = try await record(id)
            if done(r) { return r }
            if ContinuousClock.now > deadline {
                Issue.record("gave up waiting; execution is \(r.status.rawValue) at step \(r.step ?? "-"): \(r.lastError ?? "")")
                return r
            }
            if await runner.runOnce() == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
    }

    /// The recorded steps without the poll and retry bookkeeping.
    func steps(_ id: UUID) async throws -> [String] {
        try await ledger.events(of: id).map(\.step).filter { $0 != "poll" && $0 != "retry" }
    }
}

// MARK: - Tests that need only PostgreSQL

@Suite("Runner without DALiuGE", .serialized, .requires(.postgres))
struct RunnerLedgerTests {
    @Test("BEAMPIPE_USE_REAL_BACKENDS is true only for true, 1, yes or on")
    func realBackendsSwitch() {
        for yes in ["true", "1", "yes", "on", "TRUE", " On "] {
            #expect(RunnerConfiguration.useRealBackends(["BEAMPIPE_USE_REAL_BACKENDS": yes]))
        }
        for no in ["false", "0", "no", "", "enabled"] {
            #expect(!RunnerConfiguration.useRealBackends(["BEAMPIPE_USE_REAL_BACKENDS": no]))
        }
        #expect(!RunnerConfiguration.useRealBackends([:]))
        #expect(!RunnerConfiguration(environment: [:]).useRealBackends)
    }

    @Test("the simulated backend records what it would deploy, completes, and says so in every line")
    func simulated() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true, deployPort: 18999)
            let e = try await h.create("HelloWorld", name: "sim")
            let runner = ExecutionRunner(conninfo: h.conninfo, environment: ["BEAMPIPE_USE_REAL_BACKENDS": "false"])
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .completed && done.backend == .simulated && done.simulated)
            #expect(done.daliugeSessionID == nil, "no session was created anywhere")
            let events = try await h.ledger.events(of: e.id)
            #expect(events.map(\.step) == ["created", "simulated", "completed"])
            for event in events.dropFirst() {
                #expect(event.message?.hasPrefix("simulated: ") == true, "\(event.step): \(event.message ?? "")")
            }
            let plan = try #require(events.first { $0.step == "simulated" }?.detail)
            #expect(plan["graph_sha256"]?.stringValue == e.graphSHA256)
            #expect(plan["profile_name"]?.stringValue == "dim" && plan["profile_revision"]?.intValue == 1)
            #expect(plan["session_id"]?.stringValue == DaliugeSessionID.make(executionID: e.id, createdAt: e.createdAt))
            #expect(plan["dim_url"]?.stringValue == "http://127.0.0.1:18999")
        }
    }

    @Test("simulated cancel and do_submit false are labelled too")
    func simulatedCancelAndNoSubmit() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            let runner = h.runner(testRunnerConfiguration(real: false))
            let cancelled = try await h.create("HelloWorld", name: "c")
            // Past pending (a pending execution is cancelled by the ledger alone), so the driver cancels it.
            _ = await runner.runOnce()
            #expect(try await h.record(cancelled.id).status == .running)
            try await h.ledger.requestCancel(idOrName: "c", actor: "test")
            let a = try await h.drive(runner, cancelled.id)
            #expect(a.status == .cancelled && a.backend == .simulated)
            #expect(try await h.ledger.events(of: a.id).last?.message?.hasPrefix("simulated: ") == true)
            let noSubmit = try await h.create("HelloWorld", name: "n", doSubmit: false)
            let b = try await h.drive(runner, noSubmit.id)
            #expect(b.status == .notSubmitted && b.lastError == nil)
            #expect(try await h.ledger.events(of: b.id).last?.message?.hasPrefix("simulated: ") == true)
            await runner.close()
        }
    }

    @Test("a slurm_remote profile without a Translator Manager URL fails naming the field, before anything is contacted")
    func slurmWithoutTranslator() async throws {
        try await RunnerHarness.with { h in
            try await h.insertProfile("hpc", isDefault: true, translation: .object([:]),
                                      deployment: .object(["kind": .string("slurm_remote"), "login_node": .string("login.example.org"),
                                                           "account": .string("acc"), "home_dir": .string("/home/u"),
                                                           "log_dir": .string("/home/u/logs"), "dlg_root": .string("/scratch/dlg")]))
            let e = try await h.create("HelloWorld")
            let runner = h.runner()
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .failed && done.backend == .slurmRemote)
            #expect(done.lastError == "deployment profile 'hpc': translation.tm_url: not set; the Translator Manager's URL is required to translate a graph")
            #expect(try await h.steps(e.id) == ["created", "failed"])
        }
    }

    @Test("a graph fetched by URL must match its pinned sha256")
    func graphURLMismatch() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            let served = try fixtureGraph("HelloWorld")
            let server = try LoopbackServer { _ in .init(status: 200, headers: [("Content-Type", "application/json")], body: served) }
            defer { server.stop() }
            let pinned = String(repeating: "0", count: 64)
            let e = try await h.ledger.create(ExecutionRequest(name: "url", projectModule: "wallaby",
                                                               graph: .url(server.baseURL + "/hello.graph", sha256: pinned), createdBy: "test"))
            let runner = h.runner()
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .failed)
            #expect(done.lastError == "the graph at \(server.baseURL)/hello.graph has sha256 \(SHA256Digest.hex(served)), "
                    + "but the execution pins \(pinned); refusing to run content that changed")
            #expect(try await h.ledger.graph(sha256: SHA256Digest.hex(served)) == nil, "changed content is not stored")
        }
    }
}

@Suite("Runner loop", .serialized, .requires(.postgres))
struct RunnerLoopTests {
    @Test("run(until:) sleeps while nothing is due and wakes on NOTIFY when an execution is created")
    func wakesOnNotify() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            var config = testRunnerConfiguration(real: false)
            config.idleWait = .seconds(60)
            let runner = h.runner(config)
            let conninfo = h.conninfo
            let loop = Task {
                await runner.run(until: {
                    guard let conn = try? await PGConnection.connect(conninfo: conninfo) else { return false }
                    defer { Task { await conn.close() } }
                    let done = try? await conn.query("SELECT count(*) AS n FROM executions WHERE status = 'completed'").single().int("n")
                    return done == 1
                })
            }
            try await Task.sleep(for: .milliseconds(500))  // the loop is now waiting (up to 60 s)
            let started = ContinuousClock.now
            let e = try await h.create("HelloWorld", name: "wake")
            await loop.value
            #expect(ContinuousClock.now - started < .seconds(10), "woken by the notification, not the 60 s idle wait")
            #expect(try await h.record(e.id).status == .completed)
            await runner.close()
        }
    }

    @Test("the JSON form of a record writes UUIDs in lowercase")
    func jsonUUIDs() async throws {
        try await RunnerHarness.with { h in
            try await h.restProfile("dim", isDefault: true)
            let e = try await h.create("HelloWorld", name: "json")
            let json = try JSONValue.parse(bytes: Array(try JSONEncoder().encode(e)))
            #expect(json["id"]?.stringValue == e.id.uuidString.lowercased())
            #expect(json["deployment_profile_id"]?.stringValue == e.deploymentProfileID?.uuidString.lowercased())
            #expect(json["status"]?.stringValue == "pending" && json["step"]?.stringValue == "created")
        }
    }
}
