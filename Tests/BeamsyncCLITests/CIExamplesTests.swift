import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// A pull request in a real git repository: `main` holds one profile, the head commit changes it
/// and adds another (or adds a broken one). The checkout is left detached at the head, as CI
/// runners leave it.
private struct PullRequestRepository {
    let repo: TestRepository
    let base: String
    let head: String

    init(validHead: Bool) throws {
        repo = try TestRepository()
        base = try repo.commit(["profiles/alpha.yaml": restProfile("alpha", port: 8001)], message: "base")
        try repo.git("checkout", "-q", "-b", "feature")
        let change: [String: String?] = validHead
            ? ["profiles/alpha.yaml": restProfile("alpha", port: 9001), "profiles/beta.yaml": restProfile("beta", port: 8002)]
            : ["profiles/beta.yaml": "name: beta\ntranslation: {num_par: 0}\ndeployment: {kind: rest_remote, deploy_host: h}\n"]
        head = try repo.commit(change, message: "head")
        try repo.git("checkout", "-q", "--detach", head)
    }
}

/// A fresh database with beamsync's schema and the read-only planning role exactly as
/// docs/operations.md creates it; returns the role's URL.
private func planningDatabase() async throws -> (url: String, drop: @Sendable () async -> Void) {
    let db = try await FreshDatabase.create()
    let migrate = try runBeamsync(["migrate"], environment: ["DATABASE_URL": db.url])
    #expect(migrate.status == 0, "\(migrate.stderr)")
    let components = try #require(URLComponents(string: db.url))
    let dbName = String(components.path.dropFirst())
    let role = "plan_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    let doc = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/operations.md"), encoding: .utf8)
    let start = try #require(doc.range(of: "```sql\nCREATE ROLE beamsync_plan"), "docs/operations.md lost its read-only role")
    let block = doc[doc.index(start.lowerBound, offsetBy: "```sql\n".count)...]
    let sql = String(block[..<(try #require(block.range(of: "```"))).lowerBound])
        .replacingOccurrences(of: "\\bbeamsync_plan\\b", with: role, options: .regularExpression)  // not beamsync_plan_serial
        .replacingOccurrences(of: "DATABASE beampipe", with: "DATABASE \(dbName)")
        .replacingOccurrences(of: "PASSWORD '...'", with: "")
    let admin = try await PGConnection.connect(conninfo: db.url)
    for statement in sql.components(separatedBy: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !statement.isEmpty {
        try await admin.execute(statement)
    }
    await admin.close()
    var roleURL = components
    roleURL.user = role
    let adminURL = try TestDatabase.serverURL()
    return (roleURL.string!, {
        try? await db.drop()
        if let c = try? await PGConnection.connect(conninfo: adminURL) {
            _ = try? await c.execute("DROP ROLE IF EXISTS \(role)")
            await c.close()
        }
    })
}

@Suite("The CI examples, run locally", .serialized, .requires(.postgres))
struct CIExamplesTests {
    /// Runs the GitHub workflow's steps after checkout, in order, stopping at the first failure
    /// as GitHub does; `if: steps.ID.outputs.NAME == 'V'` is evaluated, anything else is refused.
    private func runGitHubJob(_ runner: CIJobRunner, pr: PullRequestRepository, databaseURL: String) throws -> [CIJobRunner.StepResult] {
        let workflow = try CIExampleFile("examples/ci/github-actions.yml")
        let steps = try workflow.node("jobs", "plan", "steps").items
        #expect(try workflow.node("jobs", "plan", "container", "image").string?.hasSuffix("-ci") == true,
                "the job runs in the beamsync CI image (docker build --target ci)")
        let context = [
            "secrets.BEAMSYNC_PLAN_DATABASE_URL": databaseURL,
            "github.event.pull_request.base.sha": pr.base,
            "github.event.pull_request.head.sha": pr.head,
            "github.event.pull_request.number": "7",
            "github.token": "ghs_test_token",
        ]
        let outputFile = runner.home.appendingPathComponent("github-output")
        var outputs: [String: [String: String]] = [:]
        var results: [CIJobRunner.StepResult] = []
        for step in steps {
            guard let script = step["run"]?.string else { continue }  // `uses:` steps: the test made the checkout
            let name = step["name"]?.string ?? script
            if let condition = step["if"]?.string {
                let parts = condition.components(separatedBy: " == ")
                let path = parts[0].split(separator: ".").map(String.init)
                guard parts.count == 2, path.count == 4, path[0] == "steps", path[2] == "outputs" else {
                    throw CIExampleError("step '\(name)': the test does not model the condition '\(condition)'")
                }
                let expected = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "'"))
                if outputs[path[1]]?[path[3]] != expected { continue }
            }
            try Data().write(to: outputFile)
            var env = try (step["env"]?.stringMap ?? [:]).mapValues { try substituteGitHubExpressions($0, context) }
            env["GITHUB_OUTPUT"] = outputFile.path
            env["GITHUB_WORKSPACE"] = runner.checkout.path
            env["GITHUB_REPOSITORY"] = "astro/beampipe-config"
            env["CI"] = "true"
            // What the CI image sets (Dockerfile, stage ci).
            env["BEAMSYNC_HOME"] = runner.home.appendingPathComponent("beamsync").path
            env["NO_COLOR"] = "1"
            let result = try runner.run(try substituteGitHubExpressions(script, context), name: name, environment: env)
            results.append(result)
            if let id = step["id"]?.string {
                let lines = ((try? String(contentsOf: outputFile, encoding: .utf8)) ?? "").split(separator: "\n")
                outputs[id] = Dictionary(lines.compactMap { line in
                    line.firstIndex(of: "=").map { (String(line[..<$0]), String(line[line.index(after: $0)...])) }
                }, uniquingKeysWith: { $1 })
            }
            if result.status != 0 { break }
        }
        return results
    }

    @Test("GitHub Actions: a valid pull request gets its plan as a sticky comment, the old one is deleted, the check passes")
    func githubValidPullRequest() async throws {
        let db = try await planningDatabase()
        let pr = try PullRequestRepository(validHead: true)
        defer { pr.repo.remove() }
        let runner = try CIJobRunner(checkout: pr.repo.dir)
        defer { runner.remove() }
        try runner.setExistingComments([1111])
        let results = try runGitHubJob(runner, pr: pr, databaseURL: db.url)
        let log = results.map { "--- \($0.name): \($0.status)\n\($0.output)" }.joined(separator: "\n")
        #expect(results.map(\.status) == [0, 0], "\(log)")
        #expect(runner.ghCalls.contains { $0.hasPrefix("token=set api -X DELETE repos/astro/beampipe-config/issues/comments/1111") },
                "\(runner.ghCalls)")
        let comments = runner.postedComments
        #expect(!comments.isEmpty, "\(log)")
        let body = comments.joined()
        #expect(comments.allSatisfy { $0.hasPrefix("<!-- beamsync-plan -->") }, "\(body)")
        #expect(body.contains("beta") && body.contains("alpha") && body.contains("profiles/beta.yaml"), "\(body)")
        #expect(runner.ghCalls.filter { $0.contains("pr comment 7 --repo astro/beampipe-config --body-file") }.count == comments.count)
        await db.drop()
    }

    @Test("GitHub Actions: a pull request with an invalid profile gets a 'Validation failed' comment naming the error, and the check fails")
    func githubInvalidPullRequest() async throws {
        let db = try await planningDatabase()
        let pr = try PullRequestRepository(validHead: false)
        defer { pr.repo.remove() }
        let runner = try CIJobRunner(checkout: pr.repo.dir)
        defer { runner.remove() }
        let results = try runGitHubJob(runner, pr: pr, databaseURL: db.url)
        let log = results.map { "--- \($0.name): \($0.status)\n\($0.output)" }.joined(separator: "\n")
        #expect(results.first?.status == 0 && results.last?.status != 0, "the job fails: \(log)")
        #expect(results.first?.output.contains("profiles/beta.yaml") == true, "the plan step's log names the error: \(log)")
        let body = runner.postedComments.joined()
        #expect(body.hasPrefix("<!-- beamsync-plan -->") && body.contains("Validation failed")
                && body.contains("profiles/beta.yaml") && body.contains("num_par"), "\(log)\n\(body)")
        await db.drop()
    }

    /// Runs the GitLab job's script against `api` (a recorder standing in for GitLab's REST API).
    private func runGitLabJob(_ runner: CIJobRunner, pr: PullRequestRepository, databaseURL: String, api: LoopbackServer) throws -> CIJobRunner.StepResult {
        let job = try CIExampleFile("examples/ci/gitlab-ci.yml")
        #expect(try job.node("beamsync-plan", "image", "name").string?.hasSuffix("-ci") == true,
                "the job runs in the beamsync CI image (docker build --target ci)")
        let script = try job.node("beamsync-plan", "script").items.compactMap(\.string).joined(separator: "\n")
        var env = try job.node("beamsync-plan", "variables").stringMap
        env["CI"] = "true"
        env["CI_API_V4_URL"] = api.baseURL + "/api/v4"
        env["CI_PROJECT_ID"] = "42"
        env["CI_MERGE_REQUEST_IID"] = "7"
        env["CI_MERGE_REQUEST_DIFF_BASE_SHA"] = pr.base
        env["CI_COMMIT_SHA"] = pr.head
        env["BEAMSYNC_PLAN_DATABASE_URL"] = databaseURL
        env["BEAMSYNC_API_TOKEN"] = "glpat-test-token"
        env["BEAMSYNC_HOME"] = runner.home.appendingPathComponent("beamsync").path  // the CI image's ENV
        return try runner.run(script, name: "beamsync-plan", environment: env)
    }

    /// GitLab's notes API: one earlier beamsync note (id 5) and one from a person.
    private func gitLabAPI() throws -> LoopbackServer {
        try LoopbackServer { request in
            if request.method == "GET" {
                return .json(200, #"[{"id": 3, "body": "looks good"}, {"id": 5, "body": "<!-- beamsync-plan -->\nold plan"}]"#)
            }
            return .json(request.method == "POST" ? 201 : 200, #"{"id": 5}"#)
        }
    }

    private func noteBody(_ request: LoopbackServer.Request) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else { return "" }
        return object["body"] as? String ?? ""
    }

    @Test("GitLab CI: a valid merge request updates the earlier beamsync note with the plan, and the job passes")
    func gitlabValidMergeRequest() async throws {
        let db = try await planningDatabase()
        let pr = try PullRequestRepository(validHead: true)
        defer { pr.repo.remove() }
        let runner = try CIJobRunner(checkout: pr.repo.dir)
        defer { runner.remove() }
        let api = try gitLabAPI()
        defer { api.stop() }
        let result = try runGitLabJob(runner, pr: pr, databaseURL: db.url, api: api)
        #expect(result.status == 0, "\(result.output)")
        let requests = api.requests
        #expect(requests.map { "\($0.method) \($0.path)" } == ["GET /api/v4/projects/42/merge_requests/7/notes?per_page=100",
                                                                "PUT /api/v4/projects/42/merge_requests/7/notes/5"], "\(result.output)")
        #expect(requests.allSatisfy { $0.header("PRIVATE-TOKEN") == "glpat-test-token" })
        let body = requests.last.map(noteBody) ?? ""
        #expect(body.hasPrefix("<!-- beamsync-plan -->") && body.contains("beta") && body.contains("profiles/beta.yaml"), "\(body)")
        await db.drop()
    }

    @Test("GitLab CI: a merge request with an invalid profile gets a 'Validation failed' note naming the error, and the job fails")
    func gitlabInvalidMergeRequest() async throws {
        let db = try await planningDatabase()
        let pr = try PullRequestRepository(validHead: false)
        defer { pr.repo.remove() }
        let runner = try CIJobRunner(checkout: pr.repo.dir)
        defer { runner.remove() }
        let api = try gitLabAPI()
        defer { api.stop() }
        let result = try runGitLabJob(runner, pr: pr, databaseURL: db.url, api: api)
        #expect(result.status != 0 && result.output.contains("profiles/beta.yaml"), "the job fails and its log names the error: \(result.output)")
        let body = api.requests.last { $0.method != "GET" }.map(noteBody) ?? ""
        #expect(body.hasPrefix("<!-- beamsync-plan -->") && body.contains("Validation failed")
                && body.contains("profiles/beta.yaml") && body.contains("num_par"), "\(result.output)\n\(body)")
        await db.drop()
    }
}
