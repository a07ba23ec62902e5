import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("Executions from git, end to end", .requires(.postgres, .daliuge))
struct ExecutionFromGitTests {
    @Test("committing an Execution document runs the graph on the real DIM once; re-applying and editing never re-run it")
    func commitRunsOnce() async throws {
        let stack = try TestServices.requireDALiuGE()
        let (tm, dimHost, dimPort, work) = (stack.tmURL, stack.dimHost, stack.dimPort, stack.work)
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            let graph = try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/BeamsyncEngineTests/Fixtures/HelloWorld.graph"), encoding: .utf8)
            let name = "hello-\(UUID().uuidString.prefix(8).lowercased())"
            let execution = """
                apiVersion: beampipe.dev/v1
                kind: Execution
                metadata: {name: \(name)}
                spec:
                  project_module: demo
                  graph: {path: graphs/hello.graph}

                """
            try repo.commit([
                "profiles/dim.yaml": """
                    name: loopback-dim
                    project_module: demo
                    is_default: true
                    translation: {algo: metis, num_par: 1, num_islands: 0, tm_url: "\(tm)"}
                    deployment: {kind: rest_remote, dim_host_for_tm: "\(dimHost)", dim_port_for_tm: \(dimPort), deploy_host: "\(dimHost)", deploy_port: \(dimPort)}

                    """,
                "graphs/hello.graph": graph,
                "executions/\(name).yaml": execution,
            ])
            let controller = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "500ms",
                                                   env: ["BEAMPIPE_USE_REAL_BACKENDS": "true"])
            defer { controller.terminate() }
            let conn = try await PGConnection.connect(conninfo: db.url)
            func status() async -> String? {
                try? await conn.query("SELECT status FROM executions WHERE name = $1", [.text(name)]).first?.optionalString("status")
            }
            #expect(try await eventually(120) { await status() == "completed" }, "\(controller.logText)")
            let row = try await conn.query("SELECT daliuge_session_id, backend, simulated FROM executions WHERE name = $1", [.text(name)]).single()
            #expect(try row.optionalString("backend") == "rest_remote" && row.bool("simulated") == false)
            let session = try #require(try row.optionalString("daliuge_session_id"))
            let outputs = (try? FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: work).appendingPathComponent(session).path)) ?? []
            #expect(!outputs.isEmpty, "the graph wrote its output under \(work)/\(session)")

            // Editing the document (and any later commit) never re-runs it.
            try repo.commit(["executions/\(name).yaml": execution.replacingOccurrences(of: "project_module: demo", with: "project_module: demo\n  do_submit: true")])
            try await Task.sleep(for: .seconds(3))
            #expect(try await conn.query("SELECT count(*) AS n FROM executions").single().int("n") == 1)
            #expect(try await conn.query("SELECT count(*) AS n FROM audit_events WHERE action = 'trigger'").single().int("n") == 1)
            await conn.close()
        }
    }
}
