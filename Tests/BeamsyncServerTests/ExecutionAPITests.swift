import BeamsyncModel
import BeamsyncPostgres
import BeamsyncServer
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("HTTP API v2: executions against PostgreSQL", .serialized, .enabled(if: apiTestsEnabled))
struct ExecutionAPITests {
    static let graph = Data(#"[{"category": "PythonApp"}]"#.utf8).base64EncodedString()

    func body(name: String? = nil, project: String = "p", extra: String = "") -> String {
        let n = name.map { #""name": "\#($0)", "# } ?? ""
        return #"{\#(n)"project_module": "\#(project)", "deployment_profile_name": "dim"\#(extra), "graph": {"content_base64": "\#(Self.graph)"}}"#
    }

    func withProfile(_ body: (APITestServer, String) async throws -> Void) async throws {
        try await withAPIServer { server in
            let admin = try await server.token("admin", .admin)
            #expect(try await server.request("POST", "/api/v2/deployment-profiles", token: admin, body: restProfileJSON("dim", project: "p")).status == 201)
            try await body(server, try await server.token("ci", .write))
        }
    }

    @Test("Idempotency-Key: the same key and body give the first answer again; the same key with another body is 409")
    func idempotency() async throws {
        try await withProfile { server, token in
            let first = try await server.request("POST", "/api/v2/executions", token: token, body: body(), headers: ["Idempotency-Key": "deploy-42"])
            #expect(first.status == 201, "\(first.text)")
            #expect(first.header("Location")?.hasPrefix("/api/v2/executions/") == true)
            // Same request, other spacing and key order: the same request.
            let spaced = #"{ "graph": {"content_base64": "\#(Self.graph)"},  "deployment_profile_name": " dim ", "project_module": "p" }"#
            let again = try await server.request("POST", "/api/v2/executions", token: token, body: spaced, headers: ["Idempotency-Key": "deploy-42"])
            #expect(again.status == 201 && again.body == first.body, "the first answer, byte for byte")
            #expect(again.header("Idempotent-Replayed") == "true")
            let other = try await server.request("POST", "/api/v2/executions", token: token, body: body(extra: #", "do_submit": false"#),
                                                 headers: ["Idempotency-Key": "deploy-42"])
            #expect(try other.status == 409 && (other.json()["code"]) == .string("idempotency_key_reused"))
            #expect(try await server.sql("SELECT count(*) AS n FROM executions").single().int("n") == 1)

            // Concurrent retries of one request create one execution.
            async let a = server.request("POST", "/api/v2/executions", token: token, body: body(), headers: ["Idempotency-Key": "burst"])
            async let b = server.request("POST", "/api/v2/executions", token: token, body: body(), headers: ["Idempotency-Key": "burst"])
            let (ra, rb) = try await (a, b)
            #expect(ra.status == 201 && rb.status == 201 && ra.body == rb.body)
            #expect(try await server.sql("SELECT count(*) AS n FROM executions").single().int("n") == 2)

            let badKey = try await server.request("POST", "/api/v2/executions", token: token, body: body(), headers: ["Idempotency-Key": "has space"])
            #expect(try badKey.status == 400 && (badKey.json()["code"]) == .string("invalid_idempotency_key"))
            // Keys belong to their token.
            let other2 = try await server.token("other", .write)
            let theirs = try await server.request("POST", "/api/v2/executions", token: other2, body: body(), headers: ["Idempotency-Key": "deploy-42"])
            #expect(theirs.status == 201 && theirs.body != first.body)
            let createdBy = try await server.sql("SELECT created_by FROM executions ORDER BY created_at").rows.map { try $0.string("created_by") }
            #expect(createdBy == ["token:ci", "token:ci", "token:other"])
        }
    }

    @Test("requests are validated with field paths; list, read with events, and cancel go through the ledger")
    func lifecycle() async throws {
        try await withProfile { server, token in
            let bad = try await server.request("POST", "/api/v2/executions", token: token,
                                               body: #"{"project_module": "", "graph": {"url": "ftp://x", "sha256": "12"}, "colour": 1}"#)
            #expect(bad.status == 422)
            #expect(Set(try bad.json()["diagnostics"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? [])
                    == ["project_module", "graph.url", "colour"], "\(bad.text)")
            let missingProfile = try await server.request("POST", "/api/v2/executions", token: token,
                                                          body: #"{"project_module": "p", "deployment_profile_name": "nope", "graph": {"content_base64": "W10="}}"#)
            #expect(try missingProfile.status == 422 && (missingProfile.json()["code"]) == .string("profile_not_found"))

            for i in 0..<3 {
                #expect(try await server.request("POST", "/api/v2/executions", token: token, body: body(name: "run-\(i)")).status == 201)
            }
            let dup = try await server.request("POST", "/api/v2/executions", token: token, body: body(name: "run-1"))
            #expect(try dup.status == 409 && (dup.json()["code"]) == .string("duplicate_name"))

            let list = try await server.request("GET", "/api/v2/executions?project_module=p&status=pending&items_per_page=2", token: token)
            #expect(list.status == 200)
            #expect(try list.json()["items"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["run-2", "run-1"])
            #expect(try list.json()["total"] == .int(3))
            #expect(try await server.request("GET", "/api/v2/executions?status=done", token: token).status == 400)

            let show = try await server.request("GET", "/api/v2/executions/run-0", token: token)
            #expect(show.status == 200)
            let detail = try show.json()
            #expect(detail["execution"]?["status"] == .string("pending"))
            #expect(detail["events"]?.arrayValue?.first?["step"] == .string("created"))
            #expect(detail["execution"]?["deployment_profile_snapshot"]?["name"] == .string("dim"), "the profile is pinned")

            let wrong = try await server.request("PATCH", "/api/v2/executions/run-0", token: token, body: #"{"status": "completed"}"#)
            #expect(wrong.status == 422)
            // A pending execution nothing was sent for ends cancelled at once.
            let cancel = try await server.request("PATCH", "/api/v2/executions/run-0", token: token, body: #"{"status": "cancelled"}"#)
            #expect(cancel.status == 200, "\(cancel.text)")
            #expect(try cancel.json()["execution"]?["status"] == .string("cancelled"))
            #expect(try cancel.json()["events"]?.arrayValue?.last?["detail"]?["message"]?.stringValue?
                .hasPrefix("cancelled by token:ci before any runner started it") == true, "\(cancel.text)")

            // A running one is cancelled at its backend by the runner: accepted, and the request recorded.
            let conn = try await PGConnection.connect(conninfo: server.conninfo)
            let running = try #require(try await ExecutionLedger(conn: conn).get(idOrName: "run-1"))
            _ = try await ExecutionLedger(conn: conn).transition(running.id, ExecutionTransition(status: .running, step: "deploying", message: "test"))
            await conn.close()
            let accepted = try await server.request("PATCH", "/api/v2/executions/run-1", token: token, body: #"{"status": "cancelled"}"#)
            #expect(accepted.status == 202, "\(accepted.text)")
            #expect(try accepted.json()["execution"]?["cancel_requested_at"]?.stringValue != nil)
            #expect(try accepted.json()["events"]?.arrayValue?.last?["detail"]?["message"] == .string("cancel requested by token:ci"))

            let finished = try await server.request("PATCH", "/api/v2/executions/run-0", token: token, body: #"{"status": "cancelled"}"#)
            #expect(try finished.status == 409 && (finished.json()["code"]) == .string("already_finished"))
            #expect(try await server.request("GET", "/api/v2/executions/\(UUID().uuidString)", token: token).status == 404)
        }
    }
}
