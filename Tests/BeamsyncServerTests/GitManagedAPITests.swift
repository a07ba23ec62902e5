import BeamsyncModel
import BeamsyncOperations
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncServer
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

extension TestRepository {
    /// The repository followed through a real `GitSource` (its mirror inside `.git`, removed with it).
    func source() -> GitSource { GitSource(url: url, ref: "main", cacheDirectory: dir.appendingPathComponent(".git/beamsync-cache").path) }
}

@Suite("HTTP API v2: git owns what git manages", .serialized, .enabled(if: apiTestsEnabled))
struct GitManagedAPITests {
    @Test("writes to a git-managed profile are 409 naming repository, branch and file:line; API profiles are listed as unmanaged and --adopt takes them over")
    func gitManaged() async throws {
        try await withAPIServer { server in
            let repo = try TestRepository()
            defer { repo.remove() }
            try repo.commit(["profiles/managed.yaml": """
                # comment lines first, so the document does not start on line 1
                ---
                name: git-default
                project_module: x
                is_default: true
                translation: {}
                deployment: {kind: rest_remote, deploy_host: dim.example.org}
                """])
            let conn = try await PGConnection.connect(conninfo: server.conninfo)
            defer { Task { await conn.close() } }
            let reconciliation = Reconciliation(conn: conn)
            _ = try await reconciliation.apply(try await ParsedSource.read(.git(repo.source())), overrides: PolicyOverrides(),
                                               actor: AuditActor(name: "test"))
            let token = try await server.token("admin", .admin)
            let listed = try await server.request("GET", "/api/v2/deployment-profiles?name=git-default", token: token)
            let item = try #require(try listed.json()["items"]?.arrayValue?.first)
            let id = try #require(item["uuid"]?.stringValue)
            #expect(item["git"]?["path"] == .string("profiles/managed.yaml") && item["git"]?["line"] == .int(3), "\(listed.text)")
            #expect(item["git"]?["branch"] == .string("main") && item["git"]?["repository"] == .string("file://" + repo.dir.path))

            for (method, body) in [("PATCH", #"{"description": "x"}"#), ("DELETE", nil)] {
                let r = try await server.request(method, "/api/v2/deployment-profiles/\(id)", token: token, body: body)
                #expect(r.status == 409, "\(method): \(r.text)")
                let j = try r.json()
                #expect(j["code"] == .string("managed_by_git"))
                let message = j["error"]?.stringValue ?? ""
                #expect(message.contains("file://" + repo.dir.path) && message.contains("branch main") && message.contains("profiles/managed.yaml:3"),
                        "\(message)")
            }
            let sameName = try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: restProfileJSON("git-default"))
            #expect(try sameName.status == 409 && (sameName.json()["code"]) == .string("managed_by_git"))
            let newDefault = try await server.request("POST", "/api/v2/deployment-profiles", token: token,
                                                      body: restProfileJSON("api-default", project: "x", isDefault: true))
            #expect(try newDefault.status == 409 && (newDefault.json()["code"]) == .string("default_managed_by_git"), "\(newDefault.text)")
            #expect(try newDefault.json()["error"]?.stringValue?.contains("profiles/managed.yaml:3") == true)

            // An unmanaged profile made through the API: promoting it would demote git's default too.
            let plain = try await server.request("POST", "/api/v2/deployment-profiles", token: token, body: restProfileJSON("api-made", project: "x"))
            #expect(plain.status == 201)
            let plainID = try #require(try plain.json()["uuid"]?.stringValue)
            let promote = try await server.request("PATCH", "/api/v2/deployment-profiles/\(plainID)", token: token, body: #"{"is_default": true}"#)
            #expect(try promote.status == 409 && (promote.json()["code"]) == .string("default_managed_by_git"))
            #expect(try await server.sql("SELECT count(*) AS n FROM daliuge_deployment_profile WHERE is_default").single().int("n") == 1)

            // plan lists it as unmanaged; a document of the same name needs --adopt.
            let plan = try await reconciliation.plan(.git(repo.source()), overrides: PolicyOverrides())
            #expect(plan.unmanaged == [UnmanagedObject(kind: .deploymentProfile, name: "api-made")])
            #expect(TextRenderer().render(plan).contains("1 DeploymentProfile: api-made"))
            try repo.commit(["profiles/api-made.yaml": "name: api-made\nproject_module: x\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h}\n"])
            let refused = try await reconciliation.plan(.git(repo.source()), overrides: PolicyOverrides())
            #expect(refused.diagnostics.errors.contains { $0.code == .unmanagedConflict })
            let (adoptPlan, _) = try await reconciliation.apply(try await ParsedSource.read(.git(repo.source())),
                                                                overrides: PolicyOverrides(adopt: true), actor: AuditActor(name: "test"))
            #expect(adoptPlan.changes.contains { $0.name == "api-made" && $0.reason == .adopted })
            let adopted = try await server.request("PATCH", "/api/v2/deployment-profiles/\(plainID)", token: token, body: #"{"description": "x"}"#)
            #expect(try adopted.status == 409 && (adopted.json()["error"]?.stringValue?.contains("profiles/api-made.yaml:1")) == true,
                    "after --adopt, git owns it")
        }
    }
}
