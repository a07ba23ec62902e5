import BeamsyncModel
import BeamsyncPostgres
import BeamsyncTestSupport
import Foundation
import Testing

/// A slurm_remote profile document for the test cluster.
private func slurmProfileYAML(_ cluster: SlurmTestCluster, name: String = "hpc", account: String? = nil) -> String {
    """
    name: \(name)
    project_module: demo
    is_default: \(name == "hpc")
    translation: {algo: metis, num_par: 1, num_islands: 1, tm_url: "\(cluster.tmURL ?? "http://127.0.0.1:9")"}
    deployment:
      kind: slurm_remote
      login_node: "\(cluster.host)"
      ssh_port: \(cluster.port)
      remote_user: \(cluster.user)
      account: \(account ?? cluster.account)
      home_dir: \(cluster.homeDir)
      log_dir: \(cluster.logDir)
      dlg_root: \(cluster.dlgRoot)
      venv: "\(cluster.venvCommand)"
      job_duration_minutes: 5
      resources: {partition: \(cluster.partition)}

    """
}

@Suite("beamsync with a slurm_remote profile, as a process", .serialized, .requires(.postgres, .daliuge, .slurm))
struct SlurmProcessTests {
    @Test("beamsync run killed between sbatch and recording the job: the restarted process finds the job by name, submits nothing, and completes HelloWorld")
    func killedAfterSbatch() async throws {
        let cluster = try SlurmTestCluster.required(translator: true)
        let db = try await FreshDatabase.create(prefix: "cli")
        let repo = try TestRepository()
        defer { repo.remove() }
        let name = "hello-\(UUID().uuidString.prefix(8).lowercased())"
        try repo.commit([
            "profiles/hpc.yaml": slurmProfileYAML(cluster),
            "graphs/hello.graph": try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/BeamsyncEngineTests/Fixtures/HelloWorld.graph"),
                                             encoding: .utf8),
            "executions/\(name).yaml": """
                apiVersion: beampipe.dev/v1
                kind: Execution
                metadata: {name: \(name)}
                spec:
                  project_module: demo
                  graph: {path: graphs/hello.graph}

                """,
        ])
        var environment = cluster.productionEnvironment
        environment["BEAMSYNC_FAULT_PAUSE_AFTER_SBATCH_MS"] = "120000"
        let first = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "60s", env: environment)
        let conn = try await PGConnection.connect(conninfo: db.url)
        defer { Task { await conn.close() } }
        func row() async -> PGRow? {
            try? await conn.query("SELECT step, status, daliuge_session_id, slurm_job_id, remote_session_dir FROM executions WHERE name = $1",
                                  [.text(name)]).first
        }
        // sbatch has run (squeue lists the job) while the process still pauses before recording it.
        var queued: [String] = []
        #expect(try await eventually(120) {
            guard let r = await row(), try r.optionalString("step") == "submitting", let sid = try r.optionalString("daliuge_session_id") else { return false }
            queued = (try? cluster.slurm("squeue", ["-h", "-t", "all", "--name=\(sid)", "-o", "%i"]))?
                .split(separator: "\n").map(String.init) ?? []
            return !queued.isEmpty
        }, "\(first.logText)")
        first.kill9()
        let atKill = try #require(await row())
        #expect(try atKill.optionalString("step") == "submitting" && atKill.optionalString("slurm_job_id") == nil, "the job was never recorded")
        let sid = try #require(try atKill.optionalString("daliuge_session_id"))
        #expect(queued.count == 1)
        // The killed process held the execution's lease (300 s); let it run out now rather than wait.
        _ = try await conn.query("UPDATE executions SET next_poll_at = now() WHERE name = $1", [.text(name)])

        let second = try ControllerProcess(repo: repo.url, databaseURL: db.url, interval: "60s", env: cluster.productionEnvironment)
        defer { second.terminate() }
        #expect(try await eventually(180) {
            (try? await row()?.string("status")) == "completed"
        }, "\(second.logText)")
        let done = try #require(await row())
        #expect(try done.optionalString("slurm_job_id") == queued.first, "the restarted process followed the job the first one submitted")
        #expect(try cluster.accountedJobs(named: sid, settlingOn: queued) == queued, "exactly one job: nothing was submitted again")
        let id = try await conn.query("SELECT uuid FROM executions WHERE name = $1", [.text(name)]).single().uuid("uuid")
        let messages = try await conn.query("SELECT detail->>'message' AS m FROM execution_events WHERE execution_id = $1 AND step = 'submitted' ORDER BY id",
                                            [.uuid(id)]).rows.map { try $0.optionalString("m") ?? "" }
        #expect(messages.first?.hasPrefix("job \(queued[0]) named '\(sid)' already exists (an earlier attempt submitted it); not submitting again") == true,
                "\(messages)")
        let dir = try #require(try done.optionalString("remote_session_dir"))
        #expect(try String(contentsOfFile: dir + "/beamsync-hello.txt", encoding: .utf8) == "Hello beamsync", "the output is in its session directory")
        try await db.drop()
    }

    @Test("slurm ping (--dir or the database): exit 0 and every step in JSON when the target is right; exit 1 and what to check when it is not")
    func pingCommand() async throws {
        let cluster = try SlurmTestCluster.required()
        let dir = try temporaryRepository([
            "profiles/hpc.yaml": slurmProfileYAML(cluster),
            "profiles/hpc-foreign.yaml": slurmProfileYAML(cluster, name: "hpc-foreign", account: cluster.foreignAccount),
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let environment = cluster.productionEnvironment.merging(["NO_COLOR": "1"]) { a, _ in a }
        let good = try runBeamsync(["slurm", "ping", "--dir", dir.path, "--profile", "hpc", "--format", "json"], environment: environment)
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        let report = try JSONValue.parse(good.stdout)
        #expect(report["passed"] == .bool(true) && report["kind"]?.stringValue == "slurm")
        #expect(report["steps"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [
            "credentials", "tcp", "host_key", "auth", "squeue", "sacct", "account", "directories", "create_dlg_job"])

        let bad = try runBeamsync(["slurm", "ping", "--dir", dir.path, "--profile", "hpc-foreign"], environment: environment)
        #expect(bad.status == 1, "\(bad.stdout)\(bad.stderr)")
        #expect(bad.stdout.contains("✗ account"), "\(bad.stdout)")
        #expect(bad.stdout.contains("check: fix deployment.account, or ask the cluster's administrators to add \(cluster.user) to account '\(cluster.foreignAccount)'"))
        #expect(bad.stdout.contains("- directories") && bad.stdout.contains("✗ failed at step account"))
        #expect(!bad.stdout.contains("\u{1B}["), "no colour without a terminal")

        let missing = try runBeamsync(["slurm", "ping", "--dir", dir.path, "--profile", "nope"], environment: environment)
        #expect(missing.status == 1 && missing.stderr.contains("no deployment profile named 'nope' in \(dir.path)/profiles (it has: hpc, hpc-foreign)"),
                "\(missing.stderr)")

        // The same profile from the database, once applied.
        let db = try await FreshDatabase.create(prefix: "cli")
        let withDatabase = environment.merging(["DATABASE_URL": db.url]) { _, new in new }
        #expect(try runBeamsync(["apply", "--dir", dir.path, "--auto-approve"], environment: withDatabase).status == 0)
        let fromDatabase = try runBeamsync(["slurm", "ping", "--profile", "hpc"], environment: withDatabase)
        #expect(fromDatabase.status == 0 && fromDatabase.stdout.contains("✓ passed: 9 steps"), "\(fromDatabase.stdout)\(fromDatabase.stderr)")
        let unknown = try runBeamsync(["slurm", "ping", "--profile", "nope"], environment: withDatabase)
        #expect(unknown.status == 1 && unknown.stderr.contains("no deployment profile named 'nope' in the database"), "\(unknown.stderr)")
        try await db.drop()
    }
}
