import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// Refusals must come from the arguments, before any database is contacted.
private let unreachable = ["DATABASE_URL": "postgresql://beamsync@127.0.0.1:1/none", "NO_COLOR": "1"]

@Suite("One command-line grammar: formats, exit codes, help")
struct CLIGrammarTests {
    @Test("--format offers exactly what each command renders; anything else is a usage error (exit 64)")
    func formatsPerCommand() throws {
        let cases: [(command: [String], offered: [String], refused: [String])] = [
            (["plan"], ["text", "json", "markdown"], ["yaml"]),
            (["validate"], ["text", "json"], ["markdown"]),
            (["apply"], ["text", "json"], ["markdown"]),
            (["status"], ["text", "json"], ["markdown"]),
            (["suspend"], ["text", "json"], ["markdown"]),
            (["resume"], ["text", "json"], ["markdown"]),
            (["reconcile"], ["text", "json"], ["markdown"]),
            (["migrate"], ["text", "json"], ["markdown"]),
            (["executions", "list"], ["text", "json"], ["markdown"]),
            (["executions", "show", "x"], ["text", "json"], ["markdown"]),
            (["executions", "cancel", "x"], ["text", "json"], ["markdown"]),
            (["sources", "list"], ["text", "json"], ["markdown"]),
        ]
        for c in cases {
            let help = try runBeamsync(c.command.filter { $0 != "x" } + ["--help"], environment: unreachable)
            #expect(help.status == 0, "\(c.command): \(help.stderr)")
            // Help text is wrapped at 80 columns: compare with the line breaks taken out.
            let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(flat.contains("values: " + c.offered.joined(separator: ", ") + ";"), "\(c.command) --help: \(help.stdout)")
            for format in c.refused {
                let r = try runBeamsync(c.command + ["--format", format], environment: unreachable)
                #expect(r.status == 64, "\(c.command) --format \(format): exit \(r.status) \(r.stdout)\(r.stderr)")
                #expect(!r.stderr.contains("127.0.0.1:1"), "refused before connecting: \(r.stderr)")
            }
        }
    }

    @Test("beamsync --help documents the exit codes 0, 1, 2 and 64")
    func exitCodesDocumented() throws {
        let help = try runBeamsync(["--help"])
        for code in ["0 ", "1 ", "2 ", "64 "] { #expect(help.stdout.contains("  " + code), "exit code \(code): \(help.stdout)") }
        #expect(help.stdout.contains("usage error"), "\(help.stdout)")
    }

    @Test("--log-level is accepted by the commands that talk to the database, and checked")
    func logLevel() throws {
        for command in [["plan"], ["apply"], ["status"], ["migrate"], ["executions", "list"], ["sources", "list"], ["suspend"]] {
            let help = try runBeamsync(command + ["--help"], environment: unreachable)
            #expect(help.stdout.contains("--log-level"), "\(command): \(help.stdout)")
        }
        let r = try runBeamsync(["status", "--log-level", "chatty"], environment: unreachable)
        #expect(r.status == 64 && r.stderr.contains("--log-level"), "\(r.stderr)")
    }

    @Test("a malformed plan file is one line and exit 1, not a decoder dump and the usage text")
    func malformedPlanFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-plan-\(UUID().uuidString).json")
        try #"{"format_version": 1, "changes": "nope"}"#.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try runBeamsync(["apply", "--plan", file.path], environment: unreachable)
        #expect(r.status == 1, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains(file.path) && r.stderr.contains("the saved plan was refused at "), "\(r.stderr)")
        #expect(!r.stderr.contains("USAGE") && !r.stderr.contains("CodingKeys"), "\(r.stderr)")
    }
}

@Suite("One command-line grammar against a database", .serialized, .requires(.postgres))
struct CLIGrammarDatabaseTests {
    @Test("migrate, suspend, resume and reconcile print JSON with --format json")
    func jsonEverywhere() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        let migrate = try runBeamsync(["migrate", "--format", "json"], environment: env)
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let applied = try JSONValue.parse(migrate.stdout)["applied"]?.arrayValue
        #expect(applied?.count == BeamsyncMigrations.all.count && applied?.first?["version"] == .int(1), "\(migrate.stdout)")
        #expect(try JSONValue.parse(try runBeamsync(["migrate", "--format", "json"], environment: env).stdout)["applied"] == .array([]))

        let conn = try await PGConnection.connect(conninfo: db.url)
        _ = try await SourceStatusStore(conn: conn).register(url: "file:///srv/a", branch: "main", path: "")
        for (verb, key) in [("suspend", "suspended"), ("resume", "resumed"), ("reconcile", "reconcile_requested")] {
            let r = try runBeamsync([verb, "--format", "json"], environment: env)
            #expect(r.status == 0, "\(verb): \(r.stderr)")
            let json = try JSONValue.parse(r.stdout)
            #expect(json[key] == .int(1), "\(verb): \(r.stdout)")
            #expect(json["sources"]?.arrayValue?.first?["url"] == .string("file:///srv/a"), "\(verb): \(r.stdout)")
        }
        await conn.close()
        try await db.drop()
    }

    @Test("reconcile on a suspended source says so and exits 1")
    func reconcileSuspended() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        #expect(try runBeamsync(["migrate"], environment: env).status == 0)
        let conn = try await PGConnection.connect(conninfo: db.url)
        _ = try await SourceStatusStore(conn: conn).register(url: "file:///srv/a", branch: "main", path: "")
        await conn.close()
        #expect(try runBeamsync(["suspend"], environment: env).status == 0)
        let r = try runBeamsync(["reconcile"], environment: env)
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("suspended") && r.stderr.contains("beamsync resume"), "\(r.stderr)")
        try await db.drop()
    }

    @Test("apply --plan FILE applies without a prompt, as Terraform does")
    func savedPlanNeedsNoPrompt() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let dir = try temporaryRepository(profiles(count: 2, port: 8001))
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        let planFile = dir.appendingPathComponent("plan.json").path
        #expect(try runBeamsync(["plan", "--dir", dir.path, "--out", planFile], environment: env).status == 0)
        let r = try runBeamsync(["apply", "--plan", planFile], environment: env)
        #expect(r.status == 0 && r.stdout.contains("Apply complete! 2 created"), "\(r.stdout)\(r.stderr)")
        try await db.drop()
    }

    @Test("answering anything but yes cancels the apply with exit 1")
    func cancelledApplyFails() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let dir = try temporaryRepository(profiles(count: 1, port: 8001))
        defer { try? FileManager.default.removeItem(at: dir) }
        // `script` gives the command a terminal, so apply asks.
        let binary = repositoryRoot.appendingPathComponent(".build/debug/beamsync").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-q", "-e", "-c", "\(binary) apply --dir \(dir.path)", "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = db.url
        env["NO_COLOR"] = "1"
        p.environment = env
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = output
        try p.run()
        try await Task.sleep(for: .seconds(3))
        input.fileHandleForWriting.write(Data("no\n".utf8))
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text.contains("Do you want to apply these changes?"), "\(text)")
        #expect(text.contains("Apply cancelled."), "\(text)")
        #expect(p.terminationStatus == 1, "exit \(p.terminationStatus): \(text)")
        let conn = try await PGConnection.connect(conninfo: db.url)
        #expect(try await conn.query("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n") == 0)
        await conn.close()
        try await db.drop()
    }

    @Test("sources list shows followed repositories and sources remove deletes a stale one with its history")
    func removeStaleSource() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        #expect(try runBeamsync(["migrate"], environment: env).status == 0)
        let conn = try await PGConnection.connect(conninfo: db.url)
        let store = SourceStatusStore(conn: conn)
        let stale = try await store.register(url: "file:///srv/old", branch: "main", path: "")
        _ = try await store.register(url: "file:///srv/new", branch: "main", path: "")
        try await store.recordRun(sourceID: stale.id, SyncRun(revision: "abc", startedAt: Date(), finishedAt: Date(), result: .applied, summary: nil, error: nil))
        var list = try runBeamsync(["sources", "list", "--format", "json"], environment: env)
        #expect(try JSONValue.parse(list.stdout)["sources"]?.arrayValue?.count == 2, "\(list.stdout)\(list.stderr)")
        let removed = try runBeamsync(["sources", "remove", "file:///srv/old"], environment: env)
        #expect(removed.status == 0 && removed.stdout.contains("removed 1 source"), "\(removed.stdout)\(removed.stderr)")
        list = try runBeamsync(["sources", "list", "--format", "json"], environment: env)
        let remaining = try JSONValue.parse(list.stdout)["sources"]?.arrayValue ?? []
        #expect(remaining.map { $0["url"] } == [.string("file:///srv/new")], "\(list.stdout)")
        #expect(try await conn.query("SELECT count(*) AS n FROM gitops_sync_runs").single().int("n") == 0)
        let unknown = try runBeamsync(["sources", "remove", "file:///srv/nowhere"], environment: env)
        #expect(unknown.status == 1 && unknown.stderr.contains("file:///srv/nowhere"), "\(unknown.stdout)\(unknown.stderr)")
        await conn.close()
        try await db.drop()
    }
}
