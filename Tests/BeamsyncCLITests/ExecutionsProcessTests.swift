import BeamsyncModel
import BeamsyncPostgres
import BeamsyncTestSupport
import Foundation
import Testing

/// A fresh database holding one global default profile (applied through the CLI), and a graph
/// file to run; the environment runs every backend simulated.
private struct ExecutionsFixture {
    let db: FreshDatabase
    let dir: URL
    let graph: String
    var env: [String: String] { ["DATABASE_URL": db.url, "NO_COLOR": "1", "BEAMPIPE_USE_REAL_BACKENDS": "false"] }

    static func make(translation: String = "{}") async throws -> ExecutionsFixture {
        let db = try await FreshDatabase.create(prefix: "cli")
        let dir = try temporaryRepository([
            "profiles/dim.yaml": "name: dim\nis_default: true\ntranslation: \(translation)\n"
                + "deployment: {kind: rest_remote, deploy_host: 127.0.0.1, deploy_port: 1}\n",
            "hello.graph": #"{"nodeDataArray": [], "linkDataArray": []}"#,
        ])
        let fixture = ExecutionsFixture(db: db, dir: dir, graph: dir.appendingPathComponent("hello.graph").path)
        let apply = try runBeamsync(["apply", "--dir", dir.path, "--auto-approve"], environment: fixture.env)
        #expect(apply.status == 0, "\(apply.stdout)\(apply.stderr)")
        return fixture
    }

    func show(_ name: String) throws -> JSONValue {
        let r = try runBeamsync(["executions", "show", name, "--format", "json"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONValue.parse(r.stdout)
    }

    func remove() async {
        try? FileManager.default.removeItem(at: dir)
        try? await db.drop()
    }
}

@Suite("executions as processes: own work only, cancelling pending ones, runner presence", .serialized,
       .requires(.postgres))
struct ExecutionsProcessTests {
    @Test("a foreground `executions create` runs its own execution and leaves other pending executions alone")
    func foregroundRunsOnlyItsOwn() async throws {
        let f = try await ExecutionsFixture.make()
        let detached = try runBeamsync(["executions", "create", "--project", "w", "--graph", f.graph, "--name", "other", "--detach"],
                                       environment: f.env)
        #expect(detached.status == 0, "\(detached.stderr)")
        let mine = try runBeamsync(["executions", "create", "--project", "w", "--graph", f.graph, "--name", "mine"], environment: f.env)
        #expect(mine.status == 0, "\(mine.stdout)\(mine.stderr)")
        #expect(try f.show("mine")["execution"]?["status"] == .string("completed"))
        let other = try f.show("other")
        #expect(other["execution"]?["status"] == .string("pending"), "\(other)")
        #expect(other["events"]?.arrayValue?.count == 1, "only its creation is recorded: \(other)")
        await f.remove()
    }

    @Test("cancelling a pending execution ends it cancelled at once, without a runner")
    func cancelPending() async throws {
        let f = try await ExecutionsFixture.make()
        _ = try runBeamsync(["executions", "create", "--project", "w", "--graph", f.graph, "--name", "later", "--detach"], environment: f.env)
        let cancel = try runBeamsync(["executions", "cancel", "later"], environment: f.env)
        #expect(cancel.status == 0, "\(cancel.stderr)")
        #expect(cancel.stdout.contains("cancelled"), "\(cancel.stdout)")
        let shown = try f.show("later")
        #expect(shown["execution"]?["status"] == .string("cancelled"), "\(shown)")
        #expect(shown["execution"]?["completed_at"] != nil && shown["execution"]?["completed_at"] != .null)
        // Cancelling again is refused as for any ended execution.
        #expect(try runBeamsync(["executions", "cancel", "later"], environment: f.env).status == 1)
        await f.remove()
    }

    @Test("list and show say when no runner is active, and stop saying it while `beamsync run` runs")
    func runnerPresence() async throws {
        // The Translator Manager URL answers nothing, so a real runner keeps the execution retrying.
        let f = try await ExecutionsFixture.make(translation: #"{tm_url: "http://127.0.0.1:1"}"#)
        _ = try runBeamsync(["executions", "create", "--project", "w", "--graph", f.graph, "--name", "waiting", "--detach"],
                            environment: f.env)
        let list = try runBeamsync(["executions", "list"], environment: f.env)
        #expect(list.status == 0 && (list.stdout + list.stderr).contains("no runner is active"), "\(list.stdout)\(list.stderr)")
        let show = try runBeamsync(["executions", "show", "waiting"], environment: f.env)
        #expect((show.stdout + show.stderr).contains("no runner is active"), "\(show.stdout)\(show.stderr)")

        let repo = try TestRepository()
        defer { repo.remove() }
        try repo.commit(["profiles/dim.yaml": try String(contentsOf: f.dir.appendingPathComponent("profiles/dim.yaml"), encoding: .utf8)])
        let controller = try ControllerProcess(repo: repo.url, databaseURL: f.db.url, env: ["BEAMPIPE_USE_REAL_BACKENDS": "true"])
        defer { controller.terminate() }
        let watcher = try await PGConnection.connect(conninfo: f.db.url)
        let started = try await eventually(60) {
            try await watcher.query("SELECT count(*) AS n FROM executions WHERE name = 'waiting' AND step IS DISTINCT FROM 'created'")
                .single().int("n") == 1
        }
        #expect(started, "the controller's runner took the execution: \(controller.logText)")
        await watcher.close()
        let during = try runBeamsync(["executions", "show", "waiting"], environment: f.env)
        #expect(!(during.stdout + during.stderr).contains("no runner is active"), "\(during.stdout)\(during.stderr)")
        controller.terminate()
        await f.remove()
    }

    @Test("`beamsync run` logs each execution it starts and finishes")
    func runLogsExecutions() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let repo = try TestRepository()
        defer { repo.remove() }
        try repo.commit([
            "profiles/dim.yaml": "name: dim\nis_default: true\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h, deploy_port: 1}\n",
            "graphs/hello.graph": "{}",
            "executions/hello.yaml": """
                apiVersion: beampipe.dev/v1
                kind: Execution
                metadata: {name: hello-logged}
                spec: {project_module: w, graph: {path: graphs/hello.graph}}

                """,
        ])
        let controller = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "500ms")
        defer { controller.terminate() }
        let finished = try await eventually(60) { controller.logText.contains("finished") && controller.logText.contains("hello-logged") }
        controller.terminate()
        let log = controller.logText
        #expect(finished, "\(log)")
        let lines = log.split(separator: "\n").filter { $0.contains("hello-logged") }
        #expect(lines.contains { $0.contains("execution started") }, "\(log)")
        #expect(lines.contains { $0.contains("execution finished") && $0.contains("completed") }, "\(log)")
        try await db.drop()
    }
}
