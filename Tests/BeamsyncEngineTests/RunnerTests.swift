@testable import BeamsyncEngine
import BeamsyncModel
import BeamsyncPlan
import BeamsyncStore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Services the runner tests use

/// PostgreSQL (`BEAMSYNC_TEST_DATABASE_URL`) and the DALiuGE stack of `scripts/dlg.sh start DIR`
/// (`BEAMSYNC_TEST_TM_URL`, `BEAMSYNC_TEST_DIM_HOST`, `BEAMSYNC_TEST_DIM_PORT`,
/// `BEAMSYNC_TEST_DLG_WORK`). With `BEAMSYNC_REQUIRE_SERVICES=1` a missing one fails the tests
/// instead of skipping them.
enum RunnerServices {
    static let env = ProcessInfo.processInfo.environment
    static let requireServices = env["BEAMSYNC_REQUIRE_SERVICES"] == "1"
    static var database: String? { env["BEAMSYNC_TEST_DATABASE_URL"] }
    static var databaseConfigured: Bool { database != nil }
    static var daliugeConfigured: Bool {
        database != nil && env["BEAMSYNC_TEST_TM_URL"] != nil && env["BEAMSYNC_TEST_DIM_HOST"] != nil && env["BEAMSYNC_TEST_DIM_PORT"] != nil
    }

    /// A conninfo for database `name` on the test server.
    static func conninfo(database name: String) throws -> String {
        let base = try #require(database, "BEAMSYNC_TEST_DATABASE_URL is not set")
        if base.hasPrefix("postgres://") || base.hasPrefix("postgresql://") {
            var c = try #require(URLComponents(string: base))
            c.path = "/" + name
            return c.string!
        }
        return base + " dbname=" + name
    }
}

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
        let base = try #require(RunnerServices.database, "BEAMSYNC_TEST_DATABASE_URL is not set")
        let name = "runner_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try await PGConnection.connect(conninfo: base)
        try await admin.execute("CREATE DATABASE \(name)")
        do {
            let conninfo = try RunnerServices.conninfo(database: name)
            let conn = try await PGConnection.connect(conninfo: conninfo)
            _ = try await Migrator().migrate(conn)
            let value = try await body(RunnerHarness(conninfo: conninfo, conn: conn))
            await conn.close()
            try await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            return value
        } catch {
            _ = try? await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            throw error
        }
    }

    /// A rest_remote profile: the TM of the test stack, the DIM as the TM sees it, and the DIM as
    /// beamsync reaches it (`deployPort`, usually a `DIMProxy`).
    @discardableResult
    func restProfile(_ name: String, isDefault: Bool = false, project: String? = nil, deployPort: Int? = nil) async throws -> UUID {
        let env = RunnerServices.env
        let tm = env["BEAMSYNC_TEST_TM_URL"] ?? "http://127.0.0.1:9"
        let dimHost = env["BEAMSYNC_TEST_DIM_HOST"] ?? "127.0.0.1"
        let dimPort = Int(env["BEAMSYNC_TEST_DIM_PORT"] ?? "") ?? 9
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

// MARK: - A DIM that can go away

/// An HTTP forwarder in front of the real DIM: counts the requests it passes on and can go down
/// (connections refused) and come back on the same port.
final class DIMProxy: @unchecked Sendable {
    let port: Int
    private let targetHost: String
    private let targetPort: Int
    private let lock = NSLock()
    private var listener: Int32 = -1
    private var log: [String] = []

    init(targetHost: String, targetPort: Int) throws {
        self.targetHost = targetHost
        self.targetPort = targetPort
        let (fd, port) = try Self.listen(port: 0)
        self.port = port
        listener = fd
        startAccepting(fd)
    }

    /// "METHOD /path" of every request forwarded, in order.
    var requests: [String] { lock.withLock { log } }

    func count(_ line: String) -> Int { requests.filter { $0 == line }.count }

    /// Stops listening: new connections are refused.
    func goDown() {
        lock.withLock {
            if listener >= 0 {
                shutdown(listener, Int32(SHUT_RDWR))
                close(listener)
                listener = -1
            }
        }
    }

    func comeBack() throws {
        let (fd, _) = try Self.listen(port: port)
        lock.withLock { listener = fd }
        startAccepting(fd)
    }

    func stop() { goDown() }

    private static func listen(port: Int) throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    private func startAccepting(_ fd: Int32) {
        let thread = Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                let worker = Thread { [self] in forward(client) }
                worker.start()
            }
        }
        thread.start()
    }

    private func forward(_ client: Int32) {
        defer { close(client) }
        guard let request = Self.readRequest(client) else { return }
        let head = String(decoding: request.prefix(512), as: UTF8.self)
        let words = head.split(separator: " ", maxSplits: 2)
        if words.count >= 2 { lock.withLock { log.append("\(words[0]) \(words[1])") } }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(upstream) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(targetPort).bigEndian)
        address.sin_addr.s_addr = inet_addr(targetHost)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return }
        Self.sendAll(upstream, request)
        // DALiuGE's managers answer HTTP/1.0-style and close: relay until end of stream.
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(upstream, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            Self.sendAll(client, Array(chunk[0..<n]))
        }
    }

    /// The whole request (head and Content-Length body), with `Connection: close` forced.
    private static func readRequest(_ fd: Int32) -> [UInt8]? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int? = nil
        while headEnd == nil {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
            headEnd = buffer.firstRange(of: separator)?.upperBound
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let length = lines.first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        while buffer.count - headEnd! < length {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
        lines.removeAll { $0.lowercased().hasPrefix("connection:") || $0.lowercased().hasPrefix("expect:") }
        lines.append("Connection: close")
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + buffer[headEnd!..<(headEnd! + length)]
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }
}

// MARK: - Tests that need only PostgreSQL

@Suite("Runner without DALiuGE", .serialized, .enabled(if: RunnerServices.databaseConfigured || RunnerServices.requireServices))
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
            #expect(done.status == .completed && done.backend == "simulated" && done.simulated)
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
            try await h.ledger.requestCancel(idOrName: "c", actor: "test")
            let a = try await h.drive(runner, cancelled.id)
            #expect(a.status == .cancelled && a.backend == "simulated")
            #expect(try await h.ledger.events(of: a.id).last?.message?.hasPrefix("simulated: ") == true)
            let noSubmit = try await h.create("HelloWorld", name: "n", doSubmit: false)
            let b = try await h.drive(runner, noSubmit.id)
            #expect(b.status == .notSubmitted && b.lastError == nil)
            #expect(try await h.ledger.events(of: b.id).last?.message?.hasPrefix("simulated: ") == true)
            await runner.close()
        }
    }

    @Test("slurm_remote fails clearly instead of pretending")
    func slurmNotAvailable() async throws {
        try await RunnerHarness.with { h in
            try await h.insertProfile("hpc", isDefault: true,
                                      translation: .object(["tm_url": .string("http://tm.example.org:8084")]),
                                      deployment: .object(["kind": .string("slurm_remote"), "login_node": .string("login.example.org"),
                                                           "account": .string("acc"), "home_dir": .string("/home/u"),
                                                           "log_dir": .string("/home/u/logs"), "dlg_root": .string("/scratch/dlg")]))
            let e = try await h.create("HelloWorld")
            let runner = h.runner()
            let done = try await h.drive(runner, e.id)
            await runner.close()
            #expect(done.status == .failed && done.backend == "slurm_remote")
            #expect(done.lastError?.hasPrefix("slurm_remote backend is not available in this build") == true)
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

@Suite("Runner loop", .serialized, .enabled(if: RunnerServices.databaseConfigured || RunnerServices.requireServices))
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
