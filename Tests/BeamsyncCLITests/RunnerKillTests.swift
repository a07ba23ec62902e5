import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// GET with the curl CLI (URLSession can stall under a busy test run); the body as text.
func curlGET(_ url: String) throws -> String {
    try ProgramOutput.run("/usr/bin/curl", ["-s", "-m", "30", url]).stdout
}

/// The Sleep fixture with its one application sleeping `seconds` instead of 120.
func sleepGraph(seconds: Int) throws -> String {
    let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/BeamsyncEngineTests/Fixtures/Sleep.graph"), encoding: .utf8)
    let shorter = text.replacingOccurrences(of: "\"value\": 120,", with: "\"value\": \(seconds),")
        .replacingOccurrences(of: "\"defaultValue\": 120,", with: "\"defaultValue\": \(seconds),")
    precondition(shorter != text, "the Sleep fixture no longer says 120")
    return shorter
}

@Suite("beamsync run killed mid-execution", .serialized, .requires(.postgres, .daliuge))
struct RunnerKillTests {
    @Test("SIGKILL while the execution is deployed and its session runs: the restarted process finishes it without a second deploy")
    func killedWhileDeployed() async throws {
        let stack = try TestServices.requireDALiuGE()
        let (tm, dimHost, dimPort, dim) = (stack.tmURL, stack.dimHost, stack.dimPort, stack.dimURL)
        // beamsync reaches the DIM through a proxy that counts every call; the TM maps onto the real DIM.
        let proxy = try DIMProxy(targetHost: dimHost, targetPort: dimPort)
        defer { proxy.stop() }
        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            let name = "nap-\(UUID().uuidString.prefix(8).lowercased())"
            try repo.commit([
                "profiles/dim.yaml": """
                    name: dim
                    project_module: demo
                    is_default: true
                    translation: {algo: metis, num_par: 1, num_islands: 1, tm_url: "\(tm)"}
                    deployment: {kind: rest_remote, dim_host_for_tm: "\(dimHost)", dim_port_for_tm: \(dimPort), deploy_host: 127.0.0.1, deploy_port: \(proxy.port)}

                    """,
                "graphs/nap.graph": try sleepGraph(seconds: 10),
                "executions/\(name).yaml": """
                    apiVersion: beampipe.dev/v1
                    kind: Execution
                    metadata: {name: \(name)}
                    spec:
                      project_module: demo
                      graph: {path: graphs/nap.graph}

                    """,
            ])
            let runEnv = ["BEAMPIPE_USE_REAL_BACKENDS": "true"]
            let first = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "60s", env: runEnv)
            let conn = try await PGConnection.connect(conninfo: db.url)
            defer { Task { await conn.close() } }

            // Kill between two polls: at step deployed, not leased, and the next poll at least 150 ms
            // away, so no step of this execution is in flight when the signal lands.
            #expect(try await eventually(90) {
                guard let row = try? await conn.query("""
                    SELECT step, next_poll_at > now() + interval '150 milliseconds'
                                 AND next_poll_at < now() + interval '60 seconds' AS between_polls
                    FROM executions WHERE name = $1
                    """, [.text(name)]).first else { return false }
                return try row.optionalString("step") == "deployed" && row.bool("between_polls")
            }, "\(first.logText)")
            first.kill9()
            #expect(first.process.terminationReason == .uncaughtSignal && first.process.terminationStatus == SIGKILL)
            let killedAt = try await conn.query("SELECT now() AS t").single().date("t")

            let atKill = try await conn.query("SELECT uuid, status, step, daliuge_session_id FROM executions WHERE name = $1", [.text(name)]).single()
            #expect(try atKill.string("status") == "running" && atKill.optionalString("step") == "deployed")
            let sid = try #require(try atKill.optionalString("daliuge_session_id"))
            #expect(sid.hasPrefix("BeampipeExecution-\(try atKill.uuid("uuid").uuidString.lowercased())-"), "derived from the execution id")
            let runningStatus = try JSONValue.parse(try curlGET("\(dim)/api/sessions/\(sid)/status"))
            #expect(runningStatus.objectValue?.values.allSatisfy { $0 == .int(3) } == true,
                    "the session was RUNNING on the DIM when the process died: \(runningStatus.canonicalString)")

            let second = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "60s", env: runEnv)
            defer { second.terminate() }
            #expect(try await eventually(120) {
                (try? await conn.query("SELECT status FROM executions WHERE name = $1", [.text(name)]).single().string("status")) == "completed"
            }, "\(second.logText)")

            // The DIM saw one create, one append and one deploy of this session, all by the first process.
            #expect(proxy.count("POST /api/sessions") == 1)
            #expect(proxy.count("POST /api/sessions/\(sid)/graph/append") == 1)
            #expect(proxy.count("POST /api/sessions/\(sid)/deploy") == 1, "\(proxy.requests)")
            let sessions = try JSONValue.parse(try curlGET("\(dim)/api/sessions")).arrayValue ?? []
            let ours = sessions.filter { $0["sessionId"]?.stringValue == sid }
            #expect(ours.count == 1)
            #expect(ours.first?["status"]?.objectValue?.values.allSatisfy { $0 == .int(4) } == true, "FINISHED: \(ours)")

            let id = try atKill.uuid("uuid")
            let events = try await conn.query("SELECT step, occurred_at FROM execution_events WHERE execution_id = $1 ORDER BY id", [.uuid(id)])
            let steps = try events.rows.map { try $0.string("step") }.filter { $0 != "poll" && $0 != "retry" }
            #expect(steps == ["created", "translating", "session_creating", "graph_appending", "deploying", "deployed", "completed"])
            let completedAt = try #require(try events.rows.last { try $0.string("step") == "completed" }?.date("occurred_at"))
            #expect(completedAt > killedAt, "completed was recorded by the restarted process")
            #expect(try await conn.query("SELECT count(*) AS n FROM executions").single().int("n") == 1,
                    "re-applying the same commit after the restart did not create it again")
        }
    }
}
