import BeamsyncModel
import BeamsyncPostgres
import BeamsyncServer
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// One `beamsync run` process.
final class ControllerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let log: URL

    init(repo: String, databaseURL: String, interval: String = "60s", extra: [String] = [], env extraEnv: [String: String] = [:]) throws {
        port = try closedPort()  // a port the kernel just had free, not one of its ephemeral ones in use
        log = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-controller-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = repositoryRoot.appendingPathComponent(".build/debug/beamsync")
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-cache-\(UUID().uuidString)").path
        process.arguments = ["run", "--repo", repo, "--interval", interval, "--listen", "127.0.0.1:\(port)", "--cache-dir", cache,
                             "--fetch-timeout", "5s"] + extra
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = databaseURL
        for (k, v) in extraEnv { env[k] = v }
        process.environment = env
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    func terminate() { process.terminate(); process.waitUntilExit() }
    func kill9() { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// GETs with the curl CLI; the HTTP status (0 when nothing answered).
    func get(_ path: String, headers: [String: String] = [:]) async throws -> Int {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5"] + headers.flatMap { ["-H", "\($0.key): \($0.value)"] }
            + ["http://127.0.0.1:\(port)\(path)"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return Int(code) ?? 0
    }

    /// POSTs with the curl CLI (FoundationNetworking's URLSession can stall under a busy test run).
    func post(_ path: String, body: [UInt8], headers: [String: String]) async throws -> Int {
        let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-body-\(UUID().uuidString)")
        try Data(body).write(to: bodyFile)
        defer { try? FileManager.default.removeItem(at: bodyFile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", "-X", "POST", "--data-binary", "@\(bodyFile.path)"]
            + headers.flatMap { ["-H", "\($0.key): \($0.value)"] } + ["http://127.0.0.1:\(port)\(path)"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return Int(code) ?? 0
    }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// The source's status, or nil while the controller has not created (or is still migrating) the schema.
func sourceStatus(_ url: String) async throws -> SourceStatus? {
    let conn = try await PGConnection.connect(conninfo: url)
    defer { Task { await conn.close() } }
    return try? await SourceStatusStore(conn: conn).all().first
}

func profilePort(_ url: String, _ name: String) async throws -> Int64? {
    let conn = try await PGConnection.connect(conninfo: url)
    defer { Task { await conn.close() } }
    guard try await conn.query("SELECT to_regclass('daliuge_deployment_profile') IS NOT NULL AS ok").single().bool("ok") else { return nil }
    return try await conn.query("SELECT (deployment->>'deploy_port')::bigint AS p FROM daliuge_deployment_profile WHERE name = $1", [.text(name)])
        .first?.optionalInt64("p")
}

func restProfile(_ name: String, port: Int) -> String {
    "name: \(name)\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: \(port)}\n"
}

@Suite("The controller as a process", .serialized, .requires(.postgres))
struct ControllerProcessTests {
    @Test("a commit is applied by polling, and faster by a signed webhook; a bad signature triggers nothing")
    func pollingAndWebhook() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            let secretFile = repo.dir.deletingLastPathComponent().appendingPathComponent("secret-\(UUID().uuidString)")
            try "hook-secret\n".write(to: secretFile, atomically: true, encoding: .utf8)
            let controller = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "60s",
                                                   extra: ["--github-secret-file", secretFile.path])
            defer { controller.terminate() }
            #expect(try await eventually(15) { try await profilePort(db.url, "a") == 8001 }, "first reconcile at start-up")

            let second = try repo.commit(["profiles/a.yaml": restProfile("a", port: 8002)])
            let body = Array(#"{"ref":"refs/heads/main"}"#.utf8)
            let bad = try await controller.post("/hooks/github", body: body,
                                                headers: ["X-Hub-Signature-256": WebhookAuthenticator.signature(body: body, secret: Array("nope".utf8))])
            #expect(bad == 401)
            try await Task.sleep(for: .seconds(1))
            #expect(try await profilePort(db.url, "a") == 8001, "a rejected webhook changes nothing (the poll interval is 60 s)")
            let good = try await controller.post("/hooks/github", body: body,
                                                 headers: ["X-Hub-Signature-256": WebhookAuthenticator.signature(body: body, secret: Array("hook-secret".utf8))])
            #expect(good == 202)
            #expect(try await eventually(5) { try await profilePort(db.url, "a") == 8002 }, "\(controller.logText)")
            #expect(try await sourceStatus(db.url)?.lastAppliedRevision == second)
        }
    }

    @Test("a broken commit leaves the last good state applied and the source Stalled; the next good commit recovers")
    func brokenCommitThenRecovery() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            let good = try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            let controller = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "500ms")
            defer { controller.terminate() }
            #expect(try await eventually(15) { try await sourceStatus(db.url)?.lastAppliedRevision == good })
            let broken = try repo.commit(["profiles/a.yaml": restProfile("a", port: 9001), "profiles/b.yaml": "name: b\ntranslation: {num_par: 0}\n"])
            #expect(try await eventually(10) { try await sourceStatus(db.url)?.status == .stalled })
            let status = try #require(try await sourceStatus(db.url))
            #expect(status.reason == .validationFailed && status.lastAttemptedRevision == broken && status.lastAppliedRevision == good)
            #expect(status.message?.contains("profiles/b.yaml:2:") == true, "the error names file and line: \(status.message ?? "")")
            #expect(try await profilePort(db.url, "a") == 8001, "nothing of the broken commit is applied")
            let fixed = try repo.commit(["profiles/b.yaml": nil])
            #expect(try await eventually(40) { try await sourceStatus(db.url)?.lastAppliedRevision == fixed }, "\(controller.logText)")
            #expect(try await sourceStatus(db.url)?.status == .ready)
            #expect(try await profilePort(db.url, "a") == 9001)
        }
    }

    @Test("the remote disappears: Stalled, state kept; it returns: recovered")
    func remoteGoneAndBack() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            let controller = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "500ms")
            defer { controller.terminate() }
            #expect(try await eventually(15) { try await sourceStatus(db.url)?.status == .ready })
            let moved = repo.dir.appendingPathExtension("away")
            try FileManager.default.moveItem(at: repo.dir, to: moved)
            #expect(try await eventually(10) { try await sourceStatus(db.url)?.reason == .fetchFailed })
            #expect(try await profilePort(db.url, "a") == 8001)
            try FileManager.default.moveItem(at: moved, to: repo.dir)
            let next = try repo.commit(["profiles/a.yaml": restProfile("a", port: 8003)])
            #expect(try await eventually(40) { try await sourceStatus(db.url)?.lastAppliedRevision == next }, "\(controller.logText)")
        }
    }

    @Test("two controllers on one database: exactly one applies; SIGKILL the leader and the other takes over")
    func leaderElection() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            let first = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "500ms")
            #expect(try await eventually(15) { try await sourceStatus(db.url)?.status == .ready })
            let second = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "500ms")
            defer { second.terminate() }
            try await Task.sleep(for: .seconds(2))
            #expect(first.logText.contains("became leader"))
            #expect(!second.logText.contains("became leader"), "only one replica leads")
            first.kill9()
            let next = try repo.commit(["profiles/a.yaml": restProfile("a", port: 8004)])
            #expect(try await eventually(20) { try await profilePort(db.url, "a") == 8004 }, "\(second.logText)")
            #expect(second.logText.contains("became leader"))
            #expect(try await sourceStatus(db.url)?.lastAppliedRevision == next)
            let conn = try await PGConnection.connect(conninfo: db.url)
            #expect(try await conn.query("SELECT count(*) AS n FROM audit_events WHERE action LIKE 'update%'").single().int("n") == 1,
                    "the change was applied exactly once")
            await conn.close()
        }
    }

    @Test("a webhook sent to the follower replica reaches the leader through the database and is applied at once")
    func webhookToFollower() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let repo = try TestRepository()
        defer { repo.remove() }
        try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
        let secretFile = repo.dir.deletingLastPathComponent().appendingPathComponent("secret-\(UUID().uuidString)")
        try "hook-secret\n".write(to: secretFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: secretFile) }
        // A long poll interval: only the webhook can explain a prompt apply.
        let leader = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "120s", extra: ["--github-secret-file", secretFile.path])
        defer { leader.terminate() }
        #expect(try await eventually(15) { try await profilePort(db.url, "a") == 8001 })
        let follower = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "120s", extra: ["--github-secret-file", secretFile.path])
        defer { follower.terminate() }
        #expect(try await eventually(10) { try await follower.get("/readyz") == 200 }, "both replicas are ready")
        let (followerReady, leaderReady) = (try await follower.get("/readyz"), try await leader.get("/readyz"))
        #expect(followerReady == 200 && leaderReady == 200)
        #expect(leader.logText.contains("became leader") && !follower.logText.contains("became leader"))

        let next = try repo.commit(["profiles/a.yaml": restProfile("a", port: 8005)])
        let body = Array(#"{"ref":"refs/heads/main"}"#.utf8)
        let status = try await follower.post("/hooks/github", body: body,
                                             headers: ["X-Hub-Signature-256": WebhookAuthenticator.signature(body: body, secret: Array("hook-secret".utf8))])
        #expect(status == 202)
        #expect(try await eventually(10) { try await profilePort(db.url, "a") == 8005 }, "\(leader.logText)")
        #expect(try await sourceStatus(db.url)?.lastAppliedRevision == next)
        try await db.drop()
    }

    @Test("SIGKILL during a controller's apply leaves no partial state; the restarted controller applies it")
    func killedDuringApply() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            var files: [String: String?] = [:]
            for i in 0..<30 { files["profiles/p\(i).yaml"] = restProfile("p\(i)", port: 8001) }
            try repo.commit(files)
            let slow = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "60s",
                                             env: ["BEAMSYNC_FAULT_PAUSE_BEFORE_COMMIT_MS": "60000"])
            let watcher = try await PGConnection.connect(conninfo: db.url)
            #expect(try await eventually(20) {
                try await watcher.query("""
                    SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON l.relation = c.oid
                    WHERE c.relname = 'beamsync_plan_serial' AND l.mode = 'RowExclusiveLock'
                    """).single().int("n") > 0
            }, "the apply reached its last write")
            slow.kill9()
            #expect(try await eventually(5) { try await watcher.query("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n") == 0 })
            #expect(try await watcher.query("SELECT count(*) AS n FROM gitops_objects").single().int("n") == 0)
            await watcher.close()
            let restarted = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "60s")
            defer { restarted.terminate() }
            #expect(try await eventually(20) { try await profilePort(db.url, "p29") == 8001 })
        }
    }

    @Test("a symbolic link in the repository is refused and the source is Stalled with the path named")
    func symlinkRefused() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            try repo.commit(["profiles/a.yaml": restProfile("a", port: 8001)])
            try FileManager.default.createSymbolicLink(atPath: repo.dir.appendingPathComponent("profiles/link.yaml").path, withDestinationPath: "/etc/passwd")
            try repo.commit([:], message: "add a link")
            let controller = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "60s")
            defer { controller.terminate() }
            #expect(try await eventually(15) { try await sourceStatus(db.url)?.status == .stalled })
            let message = try await sourceStatus(db.url)?.message ?? ""
            #expect(message.contains("profiles/link.yaml"), "\(message)")
            #expect(try await profilePort(db.url, "a") == nil, "nothing applied from a refused tree")
        }
    }
}
