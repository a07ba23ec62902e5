import BeamsyncModel
import BeamsyncOperations
import BeamsyncPostgres
import BeamsyncServer
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// The seed page's profile (its Slurm example as the deployment), for the verbatim curl calls.
let seedProfileJSON = """
    {
      "name": "slurm-remote",
      "description": "Setonix Slurm profile",
      "project_module": "wallaby_hires",
      "is_default": true,
      "translation": {"algo": "metis", "num_par": 1, "num_islands": 1, "tm_url": "http://dlg-tm.example"},
      "deployment": {
        "kind": "slurm_remote", "login_node": "login.hpc.example", "ssh_port": 22, "remote_user": "operator",
        "account": "project_account", "home_dir": "/scratch/project_account",
        "log_dir": "/scratch/project_account/operator/dlg/log", "dlg_root": "/scratch/project_account/operator/dlg",
        "modules": "module load python/3.11", "venv": "source /path/to/venv/bin/activate", "exec_prefix": "srun -l",
        "facility": "setonix", "job_duration_minutes": 30, "num_nodes": 1, "num_islands": 1, "verbose_level": 1,
        "max_threads": 0, "all_nics": false, "zerorun": false, "sleepncopy": false, "check_with_session": false
      }
    }
    """

@Suite("HTTP API v2: deployment profiles against PostgreSQL", .serialized, .enabled(if: apiTestsEnabled))
struct ProfileAPITests {
    @Test("the seed page's three curl calls work verbatim against a listening server")
    func seedCurlCalls() async throws {
        try await withAPIServer { server in
            let token = try await server.token("seed", .admin)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beamsync-seed-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            try seedProfileJSON.write(to: dir.appendingPathComponent("profile.json"), atomically: true, encoding: .utf8)
            let env = ["BASE": server.base, "AUTH": "Authorization: Bearer \(token)"]

            let post = """
                curl -s -X POST "$BASE/api/v2/deployment-profiles" \\
                -H "$AUTH" \\
                -H 'Content-Type: application/json' \\
                -d @profile.json | jq .
                """
            let (postCode, postOut, postErr) = try await Curl.shell(post, environment: env, directory: dir)
            #expect(postCode == 0, "\(postErr)")
            let created = try JSONValue.parse(postOut)
            #expect(created["name"] == .string("slurm-remote") && created["is_default"] == .bool(true), "\(postOut)")
            #expect(created["revision"] == .int(1))
            #expect(created["spec_sha256"]?.stringValue?.count == 64)
            #expect(created["git"] == .null, "created through the API: not managed by git")
            let firstID = try #require(created["uuid"]?.stringValue)

            // A second profile in the project, made the default by the seed's PATCH.
            let other = try await server.request("POST", "/api/v2/deployment-profiles", token: token,
                                                 body: restProfileJSON("dlg-dim", project: "wallaby_hires"))
            #expect(other.status == 201, "\(other.text)")
            let secondID = try #require(try other.json()["uuid"]?.stringValue)

            let list = """
                curl -s "$BASE/api/v2/deployment-profiles?project_module=wallaby_hires" \\
                -H "$AUTH" | jq .
                """
            let (listCode, listOut, _) = try await Curl.shell(list, environment: env, directory: dir)
            #expect(listCode == 0)
            let page = try JSONValue.parse(listOut)
            #expect(page["total"] == .int(2))
            #expect(Set(page["items"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []) == ["slurm-remote", "dlg-dim"])

            let patch = """
                curl -s -X PATCH "$BASE/api/v2/deployment-profiles/$PROFILE_ID" \\
                -H "$AUTH" \\
                -H 'Content-Type: application/json' \\
                -d '{"is_default":true}' | jq .
                """
            var patchEnv = env
            patchEnv["PROFILE_ID"] = secondID
            let (patchCode, patchOut, _) = try await Curl.shell(patch, environment: patchEnv, directory: dir)
            #expect(patchCode == 0)
            let patched = try JSONValue.parse(patchOut)
            #expect(patched["is_default"] == .bool(true) && patched["revision"] == .int(2), "\(patchOut)")
            #expect(patched["deployment"]?["deploy_port"] == .int(8001), "a partial patch keeps every other field")

            // Promoting demoted the project's previous default, in the same transaction.
            let first = try await server.request("GET", "/api/v2/deployment-profiles/\(firstID)", token: token)
            #expect(try first.json()["is_default"] == .bool(false))
            #expect(try first.json()["revision"] == .int(2))
            let audit = try await server.sql("SELECT actor, action, object_name FROM audit_events WHERE source = 'api' ORDER BY id")
            #expect(try audit.rows.map { "\(try $0.string("actor")) \(try $0.string("action")) \(try $0.string("object_name"))" } == [
                "token:seed create+promote slurm-remote", "token:seed create dlg-dim",
                "token:seed update+demote slurm-remote", "token:seed update+promote dlg-dim",
            ])
        }
    }

    @Test("a POST is validated exactly as a profile file: 422 lists every problem with its field path; nothing is written")
    func validation() async throws {
        try await withAPIServer { server in
            let token = try await server.token("admin", .admin)
            let body = """
                {"name": "bad name!", "translation": {"num_par": 0, "algo": "fast"},
                 "deployment": {"kind": "rest_remote", "deploy_port": 70000, "verify_sll": true}, "password": "hunter2"}
                """
            let r = try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: body)
            #expect(r.status == 422)
            let json = try r.json()
            #expect(json["code"] == .string("validation_failed"))
            let problems = json["diagnostics"]?.arrayValue ?? []
            let paths = Set(problems.compactMap { $0["path"]?.stringValue })
            #expect(paths == ["name", "translation.num_par", "translation.algo", "deployment.deploy_host", "deployment.deploy_port",
                              "deployment.verify_sll", "password"], "\(r.text)")
            for p in problems {
                #expect(p["message"]?.stringValue?.isEmpty == false && p["code"]?.stringValue?.isEmpty == false)
                #expect(p.objectValue?.keys.sorted() == ["code", "hint", "message", "path"])
            }
            #expect(problems.first { $0["path"] == .string("deployment.verify_sll") }?["hint"] == .string("did you mean 'verify_ssl'?"))
            #expect(!r.text.contains("hunter2"), "a secret is never echoed")
            // The same document as a file gets the same problems from the same decoder.
            let file = YAMLLoader.load(file: "f.json", bytes: Array(body.utf8))
            var sink = DiagnosticSink(file: "f.json")
            _ = ProfileDecoder.decode(file.documents[0].root, origin: DocumentOrigin(file: "f.json"), sink: &sink)
            #expect(Set(sink.diagnostics.errors.map(\.path)) == paths)

            #expect(try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: "{not json").status == 400)
            #expect(try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: "[1]").status == 422)
            let readOnly = try await server.request("POST", "/api/v2/deployment-profiles", token: token,
                                                    body: #"{"uuid": "x", "revision": 3, "name": "a", "translation": {}, "deployment": {"kind": "rest_remote", "deploy_host": "h"}}"#)
            #expect(try readOnly.status == 422 && (readOnly.json()["diagnostics"]?.arrayValue?.map { $0["code"] } ?? []).allSatisfy { $0 == .string("read_only_field") })
            let noType = try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: restProfileJSON("a"),
                                                  headers: ["Content-Type": "text/plain"])
            #expect(noType.status == 415)
            #expect(try await server.sql("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n") == 0)
        }
    }

    @Test("duplicate names are 409; lists filter, page in a stable order and refuse unknown parameters")
    func duplicatesAndListing() async throws {
        try await withAPIServer { server in
            let token = try await server.token("admin", .admin)
            for i in 0..<7 {
                let r = try await server.request("POST", "/api/v2/deployment-profiles", token: token,
                                                 body: restProfileJSON("p\(i)", project: i < 5 ? "alpha" : nil, isDefault: i == 1))
                #expect(r.status == 201, "\(r.text)")
                #expect(r.header("Location")?.hasPrefix("/api/v2/deployment-profiles/") == true)
                #expect(r.header("ETag")?.hasPrefix("\"1-") == true)
            }
            let dup = try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: restProfileJSON("p3", project: "beta"))
            #expect(try dup.status == 409 && (dup.json()["code"]) == .string("duplicate_name"))

            func names(_ query: String) async throws -> (names: [String], total: Int64?) {
                let r = try await server.request("GET", "/api/v2/deployment-profiles\(query)", token: token)
                #expect(r.status == 200, "\(r.text)")
                let j = try r.json()
                return (j["items"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [], j["total"]?.intValue)
            }
            #expect(try await names("?project_module=alpha").names == ["p4", "p3", "p2", "p1", "p0"], "newest first")
            #expect(try await names("?global_only=true").names == ["p6", "p5"])
            #expect(try await names("?is_default=true").names == ["p1"])
            #expect(try await names("?name=p2").names == ["p2"])
            let first = try await names("?project_module=alpha&items_per_page=2")
            let second = try await names("?project_module=alpha&items_per_page=2&page=2")
            let third = try await names("?project_module=alpha&items_per_page=2&page=3")
            #expect(first.names + second.names + third.names == ["p4", "p3", "p2", "p1", "p0"] && first.total == 5)
            #expect(try await names("?project_module=alpha&page=9").total == 5, "past the end: empty, with the total")
            for bad in ["?project=alpha", "?items_per_page=0", "?is_default=maybe", "?global_only=true&project_module=alpha"] {
                let r = try await server.request("GET", "/api/v2/deployment-profiles\(bad)", token: token)
                #expect(try r.status == 400 && (r.json()["code"]) == .string("invalid_query"), "\(bad): \(r.text)")
            }
            #expect(try await server.request("GET", "/api/v2/deployment-profiles/not-a-uuid", token: token).status == 400)
            let missing = try await server.request("GET", "/api/v2/deployment-profiles/\(UUID().uuidString)", token: token)
            #expect(try missing.status == 404 && (missing.json()["code"]) == .string("not_found"))
        }
    }

    @Test("PATCH is a JSON merge patch: nested fields merge, null removes, a new deployment kind replaces the deployment")
    func mergePatch() async throws {
        try await withAPIServer { server in
            let token = try await server.token("admin", .admin)
            let created = try await server.request("POST", "/api/v2/deployment-profiles", token: token,
                                                   body: #"{"name": "m", "description": "first", "max_concurrent_executions": 3, "translation": {"num_par": 4, "tm_url": "http://tm:8084"}, "deployment": {"kind": "rest_remote", "deploy_host": "dim", "dim_port_for_tm": null}}"#)
            #expect(created.status == 201, "\(created.text)")
            let id = try #require(try created.json()["uuid"]?.stringValue)
            #expect(try created.json()["deployment"]?["dim_port_for_tm"] == nil, "an explicit null port is stored as no port")

            let nested = try await server.request("PATCH", "/api/v2/deployment-profiles/\(id)", token: token,
                                                  body: #"{"translation": {"algo": "mysarkar"}, "description": null}"#)
            #expect(nested.status == 200, "\(nested.text)")
            var j = try nested.json()
            #expect(j["translation"]?["algo"] == .string("mysarkar") && j["translation"]?["num_par"] == .int(4))
            #expect(j["translation"]?["tm_url"] == .string("http://tm:8084"))
            #expect(j["description"] == .null && j["max_concurrent_executions"] == .int(3))
            #expect(j["deployment"]?["dim_port_for_tm"] == nil, "an untouched null port stays absent (it does not become 8001)")

            let kind = try await server.request("PATCH", "/api/v2/deployment-profiles/\(id)", token: token, body: """
                {"deployment": {"kind": "slurm_remote", "login_node": "login", "account": "acct", "home_dir": "/h", "log_dir": "/l", "dlg_root": "/d"}}
                """)
            #expect(kind.status == 200, "\(kind.text)")
            j = try kind.json()
            #expect(j["deployment"]?["kind"] == .string("slurm_remote") && j["deployment"]?["deploy_host"] == nil)
            #expect(j["deployment"]?["ssh_port"] == .int(22), "defaults of the new kind are filled in")

            let revision = j["revision"]
            let invalid = try await server.request("PATCH", "/api/v2/deployment-profiles/\(id)", token: token,
                                                   body: #"{"deployment": {"ssh_port": 0}, "max_concurrent_executions": 0}"#)
            #expect(invalid.status == 422)
            #expect(Set(try invalid.json()["diagnostics"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? [])
                    == ["deployment.ssh_port", "max_concurrent_executions"])
            let same = try await server.request("PATCH", "/api/v2/deployment-profiles/\(id)", token: token, body: "{}")
            #expect(try same.status == 200 && (same.json()["revision"]) == revision, "an empty patch changes nothing, not even the revision")
            let unknown = try await server.request("PATCH", "/api/v2/deployment-profiles/\(UUID().uuidString)", token: token, body: "{}")
            #expect(unknown.status == 404)
        }
    }

    @Test("If-Match: of two PATCHes sent with the same ETag one wins and the other gets 412; DELETE checks it too")
    func ifMatch() async throws {
        try await withAPIServer { server in
            let token = try await server.token("admin", .admin)
            let created = try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: restProfileJSON("e"))
            let id = try #require(try created.json()["uuid"]?.stringValue)
            let etag = try #require(created.header("ETag"))
            async let a = server.request("PATCH", "/api/v2/deployment-profiles/\(id)", token: token,
                                         body: #"{"description": "from a"}"#, headers: ["If-Match": etag])
            async let b = server.request("PATCH", "/api/v2/deployment-profiles/\(id)", token: token,
                                         body: #"{"description": "from b"}"#, headers: ["If-Match": etag])
            let (ra, rb) = try await (a, b)
            #expect([ra.status, rb.status].sorted() == [200, 412], "\(ra.text) \(rb.text)")
            let loser = ra.status == 412 ? ra : rb
            let winner = ra.status == 200 ? ra : rb
            #expect(try loser.json()["code"] == .string("precondition_failed"))
            #expect(loser.header("ETag") == winner.header("ETag"), "the 412 names the current version")
            let stored = try await server.request("GET", "/api/v2/deployment-profiles/\(id)", token: token)
            #expect(try stored.json()["description"] == (try winner.json()["description"]), "the loser changed nothing")

            // A change outside beamsync (psql, no revision bump) also moves the ETag.
            let current = try #require(stored.header("ETag"))
            _ = try await server.sql("UPDATE daliuge_deployment_profile SET description = 'psql' WHERE uuid = $1::uuid", [.text(id)])
            let afterPsql = try await server.request("PATCH", "/api/v2/deployment-profiles/\(id)", token: token,
                                                     body: #"{"description": "api"}"#, headers: ["If-Match": current])
            #expect(afterPsql.status == 412)
            let stale = try await server.request("DELETE", "/api/v2/deployment-profiles/\(id)", token: token, headers: ["If-Match": etag])
            #expect(stale.status == 412)
            let fresh = try #require(try await server.request("GET", "/api/v2/deployment-profiles/\(id)", token: token).header("ETag"))
            let deleted = try await server.request("DELETE", "/api/v2/deployment-profiles/\(id)", token: token, headers: ["If-Match": fresh])
            #expect(deleted.status == 204)
            #expect(try await server.request("GET", "/api/v2/deployment-profiles/\(id)", token: token).status == 404)
        }
    }

    @Test("DELETE of a profile that executions pin is 409 naming them")
    func deletePinned() async throws {
        try await withAPIServer { server in
            let admin = try await server.token("admin", .admin)
            let created = try await server.request("POST", "/api/v2/deployment-profiles", token: admin, body: restProfileJSON("pinned", project: "p"))
            let id = try #require(try created.json()["uuid"]?.stringValue)
            let graph = Data("[]".utf8).base64EncodedString()
            let run = try await server.request("POST", "/api/v2/executions", token: admin, body: """
                {"name": "run-1", "project_module": "p", "deployment_profile_name": "pinned", "graph": {"content_base64": "\(graph)"}}
                """)
            #expect(run.status == 201, "\(run.text)")
            let refused = try await server.request("DELETE", "/api/v2/deployment-profiles/\(id)", token: admin)
            #expect(refused.status == 409)
            let j = try refused.json()
            #expect(j["code"] == .string("profile_in_use") && j["executions"]?.arrayValue?.first?["name"] == .string("run-1"))
            #expect(j["error"]?.stringValue?.contains("run-1") == true)
        }
    }

    @Test("401 without, with a bad, an expired or a revoked token; 403 for a scope too low")
    func authMatrix() async throws {
        try await withAPIServer { server in
            let reader = try await server.token("reader", .read)
            let writer = try await server.token("writer", .write)
            let admin = try await server.token("admin", .admin)
            let expiring = try await server.token("brief", .admin, expiresIn: .seconds(2))
            let revoked = try await server.token("gone", .admin)
            let path = "/api/v2/deployment-profiles"
            func code(_ r: CurlResponse) throws -> String? { try r.json()["code"]?.stringValue }

            let none = try await server.request("GET", path, token: nil)
            #expect(try none.status == 401 && (code(none)) == "token_required" && none.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            let garbage = try await server.request("GET", path, token: "bst_aaaaaaaaaaaa_" + String(repeating: "x", count: 43))
            #expect(try garbage.status == 401 && (code(garbage)) == "token_invalid")
            let wrongSecret = String(admin.dropLast()) + (admin.last == "A" ? "B" : "A")
            #expect(try await server.request("GET", path, token: wrongSecret).status == 401, "right key id, wrong secret")
            let basic = try await server.request("GET", path, token: nil, headers: ["Authorization": "Basic Zm9vOmJhcg=="])
            #expect(try basic.status == 401 && (code(basic)) == "token_invalid")

            let conn = try await PGConnection.connect(conninfo: server.conninfo)
            try await TokenService(conn: conn).revoke(name: "gone")
            await conn.close()
            #expect(try await eventually(5) { try await server.request("GET", path, token: revoked).status == 401 })
            #expect(try code(try await server.request("GET", path, token: revoked)) == "token_revoked")
            try await Task.sleep(for: .milliseconds(2200))
            let expired = try await server.request("GET", path, token: expiring)
            #expect(try expired.status == 401 && (code(expired)) == "token_expired")

            let body = restProfileJSON("scoped")
            #expect(try await server.request("GET", path, token: reader).status == 200)
            for token in [reader, writer] {
                let r = try await server.request("POST", path, token: token, body: body)
                #expect(try r.status == 403 && (code(r)) == "insufficient_scope", "\(r.text)")
            }
            let execution = #"{"project_module": "p", "graph": {"content_base64": "W10="}}"#
            #expect(try await server.request("POST", "/api/v2/executions", token: reader, body: execution).status == 403)
            #expect(try await server.request("POST", path, token: admin, body: body).status == 201)
            #expect(try await server.request("POST", "/api/v2/executions", token: writer, body: execution).status == 422,
                    "a write token may create executions (this one names no usable profile)")

            // Open and protected endpoints around the API.
            #expect(try await server.request("GET", "/healthz", token: nil).status == 200)
            #expect(try await server.request("GET", "/readyz", token: nil).status == 200)
            #expect(try await server.request("GET", "/metrics", token: nil).status == 200)
            #expect(try await server.request("GET", "/api/v2/gitops/status", token: nil).status == 401)
            #expect(try await server.request("GET", "/api/v2/gitops/status", token: reader).status == 200)
            let page = try await server.request("GET", "/", token: reader)
            #expect(page.status == 200 && page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
            let unknown = try await server.request("GET", "/api/v2/nothing-here", token: reader)
            #expect(try unknown.status == 404 && (code(unknown)) == "not_found", "JSON error bodies everywhere")
            let tokens = try await server.sql("SELECT count(*) AS n FROM api_tokens WHERE token_sha256 = $1", [.text(SHA256Digest.hex(Array(admin.utf8)))])
            #expect(try tokens.single().int("n") == 1)
            let leaked = try await server.sql("SELECT count(*) AS n FROM api_tokens WHERE position($1 IN token_sha256 || key_id || name) > 0",
                                              [.text(String(admin.suffix(43)))])
            #expect(try leaked.single().int("n") == 0, "only the SHA-256 of a token is stored")
        }
        try await withAPIServer(access: AccessPolicy(publicStatus: true, metricsNeedToken: true)) { server in
            #expect(try await server.request("GET", "/api/v2/gitops/status", token: nil).status == 200)
            #expect(try await server.request("GET", "/", token: nil).status == 200)
            #expect(try await server.request("GET", "/metrics", token: nil).status == 401)
            let reader = try await server.token("reader", .read)
            #expect(try await server.request("GET", "/metrics", token: reader).status == 200)
        }
    }

    @Test("writes are rate-limited per token: 429 with Retry-After, other tokens unaffected")
    func rateLimit() async throws {
        try await withAPIServer(writesPerSecond: 1) { server in
            let a = try await server.token("a", .admin)
            let b = try await server.token("b", .admin)
            var statuses: [Int] = []
            var retryAfter: String?
            for i in 0..<4 {
                let r = try await server.request("POST", "/api/v2/deployment-profiles", token: a, body: restProfileJSON("a\(i)"))
                statuses.append(r.status)
                if r.status == 429 { retryAfter = r.header("Retry-After"); #expect(try r.json()["code"] == .string("rate_limited")) }
            }
            #expect(statuses.prefix(2) == [201, 201] && statuses.contains(429), "burst of 2 at 1 write/s: \(statuses)")
            #expect(retryAfter.flatMap(Int.init).map { $0 >= 1 } == true)
            #expect(try await server.request("POST", "/api/v2/deployment-profiles", token: b, body: restProfileJSON("b0")).status == 201)
            #expect(try await server.request("GET", "/api/v2/deployment-profiles", token: a).status == 200, "reads are not limited")
        }
    }

    @Test("a list answered from the cache sees every write at once: the server's own, and one made with psql")
    func listCacheStaysExact() async throws {
        try await withAPIServer { server in
            let token = try await server.token("admin", .admin)
            _ = try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: restProfileJSON("c1", project: "x"))
            func listed() async throws -> [String] {
                try await server.request("GET", "/api/v2/deployment-profiles?project_module=x", token: token).json()["items"]?
                    .arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            }
            #expect(try await listed() == ["c1"])
            #expect(try await listed() == ["c1"])
            _ = try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: restProfileJSON("c2", project: "x"))
            #expect(try await listed() == ["c2", "c1"], "the server's own write is seen by the next read")
            _ = try await server.sql("UPDATE daliuge_deployment_profile SET name = 'c3' WHERE name = 'c1'")
            #expect(try await eventually(2) { try await listed() == ["c2", "c3"] }, "a write by psql is seen once its NOTIFY arrives")
        }
    }

    @Test("a write through one replica reaches another replica's cached list by its announcement after commit")
    func otherReplicaHearsTheAnnouncement() async throws {
        try await withAPIServer { writer in
            // Without its live-version check, the other replica learns of writes only from notifications.
            try await withSecondReplica(of: writer, versionCheckInterval: .seconds(3600)) { reader in
                let token = try await writer.token("admin", .admin)
                _ = try await reader.token("admin2", .admin)
                #expect(try await reader.listedNames(project: "y", token: token) == [])
                #expect(try await reader.listedNames(project: "y", token: token) == [], "now cached")
                for name in ["r1", "r2", "r3"] {
                    let created = try await writer.request("POST", "/api/v2/deployment-profiles", token: token, body: restProfileJSON(name, project: "y"))
                    #expect(created.status == 201)
                }
                #expect(try await eventually(3) { try await reader.listedNames(project: "y", token: token).sorted() == ["r1", "r2", "r3"] })
            }
        }
    }

    @Test("a write whose announcement never came is seen at the next live-version check, and only then")
    func lostAnnouncementIsCaughtByTheVersionCheck() async throws {
        try await withAPIServer { checking in
            try await withSecondReplica(of: checking, versionCheckInterval: .seconds(3600)) { deaf in
                let token = try await checking.token("admin", .admin)
                _ = try await deaf.token("admin2", .admin)
                #expect(try await checking.listedNames(project: "z", token: token) == [])
                #expect(try await deaf.listedNames(project: "z", token: token) == [], "both cached empty")
                // An API session that died between its commit and its announcement.
                let session = try await PGConnection.connect(conninfo: checking.conninfo, overrides: ProfileChangeNotices.announcedAfterCommit)
                try await session.query("INSERT INTO daliuge_deployment_profile (name, project_module) VALUES ('lost', 'z')")
                await session.close()
                #expect(try await eventually(4) { try await checking.listedNames(project: "z", token: token) == ["lost"] },
                        "the checking replica reloads within its interval")
                #expect(try await deaf.listedNames(project: "z", token: token) == [], "a replica that does not check still answers from its cache")
            }
        }
    }
}
