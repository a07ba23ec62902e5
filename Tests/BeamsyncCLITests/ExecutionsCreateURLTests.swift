import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

private let helloWorld: [UInt8] = {
    let url = repositoryRoot.appendingPathComponent("Tests/BeamsyncEngineTests/Fixtures/HelloWorld.graph")
    return Array((try? Data(contentsOf: url)) ?? Data())
}()

/// A repository with one global rest_remote profile, `dim`, pointing at the test stack.
private func dimProfileRepository() throws -> URL {
    let stack = try TestServices.requireDALiuGE()
    return try temporaryRepository(["profiles/dim.yaml": """
        name: dim
        is_default: true
        translation: {algo: metis, num_par: 1, num_islands: 1, tm_url: "\(stack.tmURL)"}
        deployment: {kind: rest_remote, dim_host_for_tm: "\(stack.dimHost)", dim_port_for_tm: \(stack.dimPort), deploy_host: "\(stack.dimHost)", deploy_port: \(stack.dimPort)}

        """])
}

@Suite("executions create --graph-url: refusals")
struct ExecutionsCreateURLOptionTests {
    /// Runs `executions create` with a database nobody listens on: a refusal must come from the
    /// options, before any connection (and before an embedded server could be started).
    private func create(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runBeamsync(["executions", "create", "--project", "demo"] + arguments,
                        environment: ["DATABASE_URL": "postgresql://beamsync@127.0.0.1:1/none", "NO_COLOR": "1"])
    }

    @Test("the graph must be given exactly once, and a URL needs a valid SHA-256 pin; each refusal names the option and the fix")
    func refusals() throws {
        let pin = String(repeating: "ab", count: 32)
        let cases: [([String], String)] = [
            ([], "give the graph: --graph FILE, or --graph-url URL with --graph-sha256 HEX"),
            (["--graph", "g.graph", "--graph-url", "http://127.0.0.1:9/g.graph", "--graph-sha256", pin],
             "--graph and --graph-url are alternatives; give only one of them"),
            (["--graph-url", "http://127.0.0.1:9/g.graph"], "--graph-url needs --graph-sha256 HEX"),
            (["--graph-url", "http://127.0.0.1:9/g.graph", "--graph-sha256", "abc123"],
             "--graph-sha256 'abc123' is not 64 hexadecimal digits"),
            (["--graph-url", "http://127.0.0.1:9/g.graph", "--graph-sha256", String(repeating: "g", count: 64)],
             "is not 64 hexadecimal digits"),
            (["--graph", "g.graph", "--graph-sha256", pin], "--graph-sha256 goes with --graph-url"),
            (["--graph-url", "ftp://example.org/g.graph", "--graph-sha256", pin],
             "--graph-url 'ftp://example.org/g.graph' is not an absolute http(s) URL"),
            (["--graph-url", "graphs/g.graph", "--graph-sha256", pin], "is not an absolute http(s) URL"),
            (["--graph-url", "https://user:secret@example.org/g.graph", "--graph-sha256", pin],
             "--graph-url must not carry credentials"),
        ]
        for (arguments, message) in cases {
            let r = try create(arguments)
            #expect(r.status == 64, "\(arguments): exit \(r.status)\n\(r.stderr)")
            #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)")
            if arguments.joined().contains("secret") { #expect(!r.stderr.contains("secret"), "the password is not echoed") }
            #expect(!r.stderr.contains("127.0.0.1:1"), "no database was contacted: \(r.stderr)")
        }
    }
}

@Suite("Runner concurrency settings on the command line")
struct RunConcurrencyOptionTests {
    @Test("--runner-concurrency and BEAMSYNC_RUNNER_CONCURRENCY outside 1...256 are refused before anything starts")
    func refusals() throws {
        let noDatabase = ["DATABASE_URL": "postgresql://beamsync@127.0.0.1:1/none", "NO_COLOR": "1"]
        var r = try runBeamsync(["run", "--repo", "file:///nonexistent", "--runner-concurrency", "0"], environment: noDatabase)
        #expect(r.status == 64 && r.stderr.contains("--runner-concurrency 0 is out of range; give a whole number from 1 to 256"), "\(r.stderr)")
        var env = noDatabase
        env["BEAMSYNC_RUNNER_CONCURRENCY"] = "lots"
        r = try runBeamsync(["run", "--repo", "file:///nonexistent"], environment: env)
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("BEAMSYNC_RUNNER_CONCURRENCY: 'lots' is not a whole number from 1 to 256 (default 8); "
                                  + "unset it or use --runner-concurrency"), "\(r.stderr)")
        #expect(!r.stderr.contains("127.0.0.1:1"), "no database was contacted")
        // `executions create` runs the same runner in its own process, and refuses it the same way.
        r = try runBeamsync(["executions", "create", "--project", "p", "--graph", "/nonexistent.graph"], environment: env)
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("BEAMSYNC_RUNNER_CONCURRENCY: 'lots' is not a whole number from 1 to 256 (default 8); unset it"), "\(r.stderr)")
        #expect(!r.stderr.contains("127.0.0.1:1"), "no database was contacted")
    }
}

@Suite("executions create --graph-url against a real DALiuGE stack", .serialized, .requires(.postgres, .daliuge))
struct ExecutionsCreateURLTests {
    @Test("a graph by URL is fetched once, checked against its pin, stored, and runs to completed on the DIM")
    func runsGraphFromURL() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try dimProfileRepository()
            defer { try? FileManager.default.removeItem(at: repo) }
            let runEnv = ["DATABASE_URL": db.url, "NO_COLOR": "1", "BEAMPIPE_USE_REAL_BACKENDS": "true"]
            let applied = try runBeamsync(["apply", "--dir", repo.path, "--auto-approve"], environment: runEnv)
            #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
            let body = helloWorld
            #expect(!body.isEmpty)
            let server = try LoopbackServer { request in
                request.path == "/graphs/hello.graph" ? .init(status: 200, headers: [("Content-Type", "application/json")], body: body)
                                                      : .text(404, "not here")
            }
            defer { server.stop() }
            let url = server.baseURL + "/graphs/hello.graph"
            let sha = SHA256Digest.hex(body)

            let r = try runBeamsync(["executions", "create", "--project", "demo", "--profile", "dim", "--name", "by-url",
                                     "--graph-url", url, "--graph-sha256", sha.uppercased(), "--format", "json"], environment: runEnv)
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            let json = try JSONValue.parse(r.stdout)
            let execution = try #require(json["execution"])
            #expect(execution["status"]?.stringValue == "completed", "\(r.stdout)")
            #expect(execution["graph_url"]?.stringValue == url)
            #expect(execution["graph_sha256"]?.stringValue == sha, "the pin is stored in lowercase")
            #expect(execution["graph_path"] == nil || execution["graph_path"] == .null)
            #expect(execution["daliuge_state"]?.stringValue == "FINISHED")
            #expect(server.requests.map { "\($0.method) \($0.path)" } == ["GET /graphs/hello.graph"], "fetched exactly once")

            let conn = try await PGConnection.connect(conninfo: db.url)
            let stored = try await conn.query("SELECT length(content) AS n FROM graph_blobs WHERE sha256 = $1", [.text(sha)]).first?.int("n")
            #expect(stored == body.count, "the fetched graph is kept, content-addressed")
            await conn.close()
            let work = try TestServices.requireDALiuGE().work
            let session = try #require(execution["daliuge_session_id"]?.stringValue)
            let outputs = (try? FileManager.default.contentsOfDirectory(atPath: work + "/" + session)) ?? []
            #expect(!outputs.isEmpty, "HelloWorld wrote its output under \(work)/\(session)")
        }
    }

    @Test("content at the URL that does not match the pin fails the execution before anything reaches the DIM")
    func refusesChangedContent() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let repo = try dimProfileRepository()
            defer { try? FileManager.default.removeItem(at: repo) }
            let runEnv = ["DATABASE_URL": db.url, "NO_COLOR": "1", "BEAMPIPE_USE_REAL_BACKENDS": "true"]
            #expect(try runBeamsync(["apply", "--dir", repo.path, "--auto-approve"], environment: runEnv).status == 0)
            let changed = helloWorld + Array("\n".utf8)
            let server = try LoopbackServer { _ in .init(status: 200, body: changed) }
            defer { server.stop() }
            let pin = SHA256Digest.hex(helloWorld)
            let r = try runBeamsync(["executions", "create", "--project", "demo", "--name", "changed",
                                     "--graph-url", server.baseURL + "/hello.graph", "--graph-sha256", pin], environment: runEnv)
            #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
            let expected = "the graph at \(server.baseURL)/hello.graph has sha256 \(SHA256Digest.hex(changed)), but the execution pins \(pin); "
                + "refusing to run content that changed"
            #expect(r.stdout.contains(expected), "\(r.stdout)")
            let conn = try await PGConnection.connect(conninfo: db.url)
            let row = try await conn.query("SELECT status, daliuge_session_id, last_error FROM executions WHERE name = 'changed'").single()
            #expect(try row.string("status") == "failed" && row.optionalString("daliuge_session_id") == nil)
            #expect(try row.optionalString("last_error") == expected)
            #expect(try await conn.query("SELECT count(*) AS n FROM graph_blobs").single().int("n") == 0, "changed content is not stored")
            await conn.close()
        }
    }
}
