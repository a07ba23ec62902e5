import BeamsyncPostgres
import BeamsyncServer
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("The status page in a real browser", .serialized, .requires(.postgres))
struct StatusPageBrowserTests {
    @Test("headless Chromium shows a running controller's source, a drifted object, an execution, a sync run and a webhook delivery")
    func chromiumRendersThePage() async throws {
        guard let browser = HeadlessChromium.locate() else {
            if TestServices.required { Issue.record("chromium is not installed: scripts/test.sh installs it (apt-get install chromium)") }
            return
        }
        let db = try await FreshDatabase.create(prefix: "cli")
        let repo = try TestRepository()
        defer { repo.remove() }
        let execution = "page-run-\(UUID().uuidString.prefix(8).lowercased())"
        let revision = try repo.commit([
            "profiles/a.yaml": restProfile("alpha", port: 8001),
            "profiles/b.yaml": restProfile("bravo", port: 8002),
            "graphs/hello.graph": try String(contentsOf: repositoryRoot.appendingPathComponent("examples/gitops-repo/graphs/hello.graph"),
                                             encoding: .utf8),
            "executions/run.yaml": """
                apiVersion: beampipe.dev/v1
                kind: Execution
                metadata: {name: \(execution)}
                spec: {project_module: demo, deployment_profile_name: alpha, graph: {path: graphs/hello.graph}}

                """,
        ], message: "two profiles and a run")
        let secretFile = repo.dir.deletingLastPathComponent().appendingPathComponent("secret-\(UUID().uuidString)")
        try "hook-secret\n".write(to: secretFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: secretFile) }
        let controller = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "1s", extra: ["--github-secret-file", secretFile.path])
        defer { controller.terminate() }
        let conn = try await PGConnection.connect(conninfo: db.url)
        defer { Task { await conn.close() } }
        #expect(try await eventually(30) { try await sourceStatus(db.url)?.lastAppliedRevision == revision }, "\(controller.logText)")

        // An edit made with psql: the next pass sees the live version move, plans again and records drift.
        try await conn.query("UPDATE daliuge_deployment_profile SET deployment = jsonb_set(deployment, '{deploy_port}', '9999') WHERE name = 'bravo'")
        #expect(try await eventually(20) {
            try await conn.query("SELECT drift_count FROM gitops_sources").first?.optionalInt("drift_count") == 1
        }, "\(controller.logText)")
        let body = Array(#"{"ref":"refs/heads/main"}"#.utf8)
        let code = try await controller.post("/hooks/github", body: body, headers: [
            "X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-for-the-page",
            "X-Hub-Signature-256": WebhookAuthenticator.signature(body: body, secret: Array("hook-secret".utf8)),
        ])
        #expect(code == 202)

        // The page needs a read token; Chromium cannot send headers, so this proxy adds it.
        let created = try runBeamsync(["token", "create", "--name", "page", "--scope", "read"], environment: ["DATABASE_URL": db.url])
        #expect(created.status == 0, "\(created.stderr)")
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await eventually(10) { try await controller.get("/", headers: ["Authorization": "Bearer \(token)"]) == 200 },
                "the controller accepts the new token")
        #expect(try await controller.get("/") == 401, "without a token the page is refused")
        let proxy = try HeaderProxy(upstream: "http://127.0.0.1:\(controller.port)", headers: ["Authorization": "Bearer \(token)"])
        defer { proxy.stop() }
        let dom = try browser.dumpDOM(proxy.baseURL + "/")
        #expect(dom.contains("<h1>beamsync status</h1>"), "\(dom.prefix(500))")
        #expect(dom.contains(repo.url), "the source's URL")
        #expect(dom.contains(#"data-condition="Ready" data-status="True""#))
        #expect(dom.contains(#"data-condition="Drifted" data-status="True""#))
        #expect(dom.contains(#"data-kind="DeploymentProfile" data-name="bravo" data-drift="true""#), "the drifted object in the inventory")
        #expect(dom.contains(#"data-kind="DeploymentProfile" data-name="alpha" data-drift="false""#))
        #expect(dom.contains("profiles/b.yaml:1"), "file:line of the drifted object")
        #expect(dom.contains("deployment.deploy_port"))
        #expect(dom.contains(#"<tr data-execution="\#(execution)""#), "the execution")
        #expect(dom.contains("alpha (revision 1)"), "its pinned profile")
        #expect(dom.contains(#"<tr class="run" data-result="applied" data-trigger="start">"#), "the first sync run")
        #expect(dom.contains(#"data-trigger="poll""#), "the run that found the drift")
        #expect(dom.contains("two profiles and a run"), "the applied commit's subject")
        #expect(dom.contains("delivery-for-the-page"), "the webhook delivery")
        #expect(!dom.contains("<script"))
        #expect(proxy.forwarded.contains("GET /"))

        let artifacts = repositoryRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts.appendingPathComponent("status-page.png").path
        try browser.screenshot(proxy.baseURL + "/", to: screenshot, width: 1280, height: 2400)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000, "a real PNG of the page")
        // The image is 1280 px wide (the PNG header's width field).
        #expect(png.count > 24 && png[16..<20].reduce(0) { $0 << 8 | Int($1) } == 1280)
        print("status page screenshot: \(screenshot)")
        try await db.drop()
    }
}
