import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

func profiles(count: Int, port: Int) -> [String: String] {
    var files: [String: String] = [:]
    for i in 0..<count {
        files["profiles/p\(i).yaml"] = "name: p\(i)\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h\(i), deploy_port: \(port)}\n"
    }
    return files
}

@Suite("apply as a process", .serialized, .requires(.postgres))
struct ApplyProcessTests {
    @Test("plan and apply through the CLI: exit codes follow Terraform, a second apply plans nothing")
    func planApplyExitCodes() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let dir = try temporaryRepository(profiles(count: 3, port: 8001))
            defer { try? FileManager.default.removeItem(at: dir) }
            let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
            var r = try runBeamsync(["plan", "--dir", dir.path, "--detailed-exitcode"], environment: env)
            #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("Plan: 3 to create, 0 to change, 0 to delete"))
            r = try runBeamsync(["apply", "--dir", dir.path], environment: env)
            #expect(r.status != 0 && r.stderr.contains("not a terminal"), "apply without a TTY and without --auto-approve refuses")
            r = try runBeamsync(["apply", "--dir", dir.path, "--auto-approve"], environment: env)
            #expect(r.status == 0 && r.stdout.contains("Apply complete! 3 created"), "\(r.stdout)\(r.stderr)")
            r = try runBeamsync(["plan", "--dir", dir.path, "--detailed-exitcode", "--format", "json"], environment: env)
            #expect(r.status == 0)
            let json = try JSONValue.parse(r.stdout)
            #expect(json["format_version"] == .int(1) && json["changes"]?.arrayValue?.count == 3)
            let planFile = dir.appendingPathComponent("plan.json").path
            try "name: p0\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h0, deploy_port: 9000}\n"
                .write(toFile: dir.appendingPathComponent("profiles/p0.yaml").path, atomically: true, encoding: .utf8)
            r = try runBeamsync(["plan", "--dir", dir.path, "--out", planFile, "--format", "markdown"], environment: env)
            #expect(r.status == 0 && r.stdout.contains("| create | change | delete |"))
            r = try runBeamsync(["apply", "--plan", planFile, "--auto-approve"], environment: env)
            #expect(r.status == 0 && r.stdout.contains("1 changed"), "\(r.stdout)\(r.stderr)")
            r = try runBeamsync(["apply", "--plan", planFile, "--auto-approve"], environment: env)
            #expect(r.status == 1 && r.stderr.contains("stale"), "a plan cannot be applied twice")
        }
    }

    @Test("plan --detailed-exitcode exits 2 when a row was changed outside git, even with nothing to apply")
    func driftExitCode() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let dir = try temporaryRepository(profiles(count: 2, port: 8001))
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        #expect(try runBeamsync(["apply", "--dir", dir.path, "--auto-approve"], environment: env).status == 0)
        #expect(try runBeamsync(["plan", "--dir", dir.path, "--detailed-exitcode"], environment: env).status == 0)
        let conn = try await PGConnection.connect(conninfo: db.url)
        try await conn.query("""
            UPDATE daliuge_deployment_profile SET deployment = jsonb_set(deployment, '{deploy_port}', '9999') WHERE name = 'p1'
            """)
        await conn.close()
        let r = try runBeamsync(["plan", "--dir", dir.path, "--detailed-exitcode"], environment: env)
        #expect(r.status == 2, "drift alone makes the exit code 2: \(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("p1") && r.stdout.contains("deployment.deploy_port"), "\(r.stdout)")
        let json = try runBeamsync(["plan", "--dir", dir.path, "--format", "json"], environment: env)
        let drifted = try JSONValue.parse(json.stdout)["changes"]?.arrayValue?.filter { $0["drifted_fields"] != nil } ?? []
        #expect(drifted.map { $0["name"] } == [.string("p1")])
        #expect(drifted.first?["drifted_fields"] == .array([.string("deployment.deploy_port")]))
        try await db.drop()
    }

    @Test("two applies at once are serialised and the final state is correct")
    func concurrentApplies() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let dir = try temporaryRepository(profiles(count: 200, port: 8001))
            defer { try? FileManager.default.removeItem(at: dir) }
            let env = ["DATABASE_URL": db.url]
            async let a = Task.detached { try runBeamsync(["apply", "--dir", dir.path, "--auto-approve"], environment: env) }.value
            async let b = Task.detached { try runBeamsync(["apply", "--dir", dir.path, "--auto-approve"], environment: env) }.value
            let (ra, rb) = try await (a, b)
            #expect(ra.status == 0 && rb.status == 0, "\(ra.stderr)\(rb.stderr)")
            let conn = try await PGConnection.connect(conninfo: db.url)
            #expect(try await conn.query("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n") == 200)
            #expect(try await conn.query("SELECT count(*) AS n FROM audit_events WHERE action = 'create'").single().int("n") == 200)
            #expect(try await conn.query("SELECT serial FROM beamsync_plan_serial").single().int("serial") == 1)
            await conn.close()
        }
    }

    @Test("SIGKILL during an apply leaves the previous state intact")
    func killedApply() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let dir = try temporaryRepository(profiles(count: 50, port: 8001))
            defer { try? FileManager.default.removeItem(at: dir) }
            #expect(try runBeamsync(["apply", "--dir", dir.path, "--auto-approve"], environment: ["DATABASE_URL": db.url]).status == 0)
            for (path, text) in profiles(count: 60, port: 9001) {
                try text.write(toFile: dir.appendingPathComponent(path).path, atomically: true, encoding: .utf8)
            }
            let p = Process()
            p.executableURL = repositoryRoot.appendingPathComponent(".build/debug/beamsync")
            p.arguments = ["apply", "--dir", dir.path, "--auto-approve"]
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = db.url
            env["BEAMSYNC_FAULT_PAUSE_BEFORE_COMMIT_MS"] = "60000"
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let watcher = try await PGConnection.connect(conninfo: db.url)
            // Wait until the apply has written everything and holds the serial row: it is about to commit.
            var writing = false
            for _ in 0..<300 where !writing {
                try await Task.sleep(for: .milliseconds(50))
                writing = try await watcher.query("""
                    SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON l.relation = c.oid
                    WHERE c.relname = 'beamsync_plan_serial' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()
                    """).single().int("n") > 0
            }
            #expect(writing, "the apply reached its last write")
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            #expect(p.terminationReason == .uncaughtSignal)
            // The server rolls the transaction back when the client's socket closes.
            var count = -1
            for _ in 0..<100 {
                count = try await watcher.query("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n")
                let ports = try await watcher.query("SELECT count(*) AS n FROM daliuge_deployment_profile WHERE (deployment->>'deploy_port')::int = 8001").single().int("n")
                if count == 50 && ports == 50 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(count == 50)
            #expect(try await watcher.query("SELECT serial FROM beamsync_plan_serial").single().int("serial") == 1)
            #expect(try await watcher.query("SELECT count(*) AS n FROM audit_events").single().int("n") == 50)
            await watcher.close()
            // And the next apply goes through.
            #expect(try runBeamsync(["apply", "--dir", dir.path, "--auto-approve"], environment: ["DATABASE_URL": db.url]).status == 0)
        }
    }
}

@Suite("embedded PostgreSQL")
struct EmbeddedDatabaseTests {
    @Test("with DATABASE_URL unset, plan starts a private PostgreSQL, says so, and stops it on exit")
    func embeddedPlan() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        // The server runs as the postgres user when tests run as root; let it into the directory.
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: home.path)
        defer { try? FileManager.default.removeItem(at: home) }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "DATABASE_URL")
        env["BEAMSYNC_HOME"] = home.path
        let p = Process()
        p.executableURL = repositoryRoot.appendingPathComponent(".build/debug/beamsync")
        p.arguments = ["plan", "--dir", repositoryRoot.appendingPathComponent("examples/gitops-repo").path, "--detailed-exitcode"]
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 2, "\(stdout)\(stderr)")
        #expect(stderr.contains("using embedded PostgreSQL at \(home.path)/postgres"))
        #expect(stdout.contains("Plan: 5 to create"))
        // Stopped again: no postmaster.pid left behind.
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("postgres/data/postmaster.pid").path))
    }
}
