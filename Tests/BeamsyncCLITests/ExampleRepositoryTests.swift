import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// The example repository's files, relative to it.
private func exampleFiles() throws -> [String: String] {
    let root = repositoryRoot.appendingPathComponent("examples/gitops-repo")
    var files: [String: String] = [:]
    let walker = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]))
    for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
        let relative = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1))
        files[relative] = try String(contentsOf: url, encoding: .utf8)
    }
    return files
}

/// Replaces `old` with `new` in `text`, and fails the test when `old` is not there (the example
/// changed and this test would silently run something else).
private func rewrite(_ text: String, _ old: String, _ new: String, in file: String) -> String {
    #expect(text.contains(old), "\(file) no longer contains '\(old)'; update this test with the example")
    return text.replacingOccurrences(of: old, with: new)
}

@Suite("The example repository on the real stack", .requires(.postgres, .daliuge))
struct ExampleRepositoryTests {
    @Test("examples/gitops-repo applies as it is, and its execution runs the example graph to completed on the real DALiuGE")
    func exampleExecutionCompletes() async throws {
        let stack = try TestServices.requireDALiuGE()
        let (tm, dimHost, dimPort, work) = (stack.tmURL, stack.dimHost, stack.dimPort, stack.work)

        // Everything as shipped, except that the loopback profile's URLs point at this test's
        // DALiuGE (scripts/dlg.sh's ports can be moved with BEAMSYNC_DLG_*_PORT).
        var files = try exampleFiles()
        let profilePath = "profiles/global.yaml"
        var profile = try #require(files[profilePath], "the example has no \(profilePath)")
        profile = rewrite(profile, "tm_url: http://127.0.0.1:18084", "tm_url: \(tm)", in: profilePath)
        profile = rewrite(profile, "dim_host_for_tm: 127.0.0.1", "dim_host_for_tm: \(dimHost)", in: profilePath)
        profile = rewrite(profile, "dim_port_for_tm: 18001", "dim_port_for_tm: \(dimPort)", in: profilePath)
        profile = rewrite(profile, "deploy_host: 127.0.0.1", "deploy_host: \(dimHost)", in: profilePath)
        profile = rewrite(profile, "deploy_port: 18001", "deploy_port: \(dimPort)", in: profilePath)
        files[profilePath] = profile
        let executionPath = "executions/hello-2026-11-25.yaml"
        let executionText = try #require(files[executionPath], "the example has no \(executionPath)")
        #expect(executionText.contains("name: hello-2026-11-25") && executionText.contains("deployment_profile_name: local-dim"))

        try await TestDatabase.withFreshDatabase { db in
            let repo = try TestRepository()
            defer { repo.remove() }
            try repo.commit(files.mapValues { Optional($0) }, message: "the example repository")
            let controller = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "500ms",
                                                   env: ["BEAMPIPE_USE_REAL_BACKENDS": "true"])
            defer { controller.terminate() }
            let conn = try await PGConnection.connect(conninfo: db.url)
            func status() async -> String? {
                try? await conn.query("SELECT status FROM executions WHERE name = 'hello-2026-11-25'").first?.optionalString("status")
            }
            let terminal: Set<String> = ["completed", "failed", "cancelled", "not_submitted"]
            #expect(try await eventually(120) { terminal.contains(await status() ?? "") }, "\(controller.logText)")
            let row = try await conn.query("""
                SELECT e.status, e.daliuge_session_id, e.backend, e.simulated, e.last_error, p.name AS profile
                FROM executions e JOIN daliuge_deployment_profile p ON p.uuid = e.deployment_profile_id
                WHERE e.name = 'hello-2026-11-25'
                """).single()
            #expect(try row.optionalString("status") == "completed",
                    "the example's execution ended \(String(describing: try? row.optionalString("status"))): \(String(describing: try? row.optionalString("last_error")))")
            #expect(try row.optionalString("profile") == "local-dim" && row.optionalString("backend") == "rest_remote" && row.bool("simulated") == false)

            // The graph's one data drop is the file the HelloWorld app wrote.
            let session = try #require(try row.optionalString("daliuge_session_id"))
            let output = URL(fileURLWithPath: work).appendingPathComponent(session).appendingPathComponent("hello.txt")
            #expect((try? String(contentsOf: output, encoding: .utf8)) == "Hello beamsync", "no greeting in \(output.path)")

            // Every document of the example was applied: four profiles and the project.
            #expect(try await conn.query("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n") == 4)
            #expect(try await conn.query("SELECT count(*) AS n FROM project_configs WHERE project_id = 'wallaby_hires' AND active").single().int("n") == 1)
            await conn.close()
        }
    }
}
