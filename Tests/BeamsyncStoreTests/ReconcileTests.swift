import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

func repo(_ files: [String: String], external: [ExternalProfile] = []) throws -> DesiredState {
    var options = LoadOptions()
    options.externalProfiles = external
    let r = DesiredStateLoader.load(files: files.sorted { $0.key < $1.key }.map { SourceFile(path: $0.key, bytes: Array($0.value.utf8)) }, options: options)
    return try #require(r.state, "\(r.diagnostics)")
}

func profileYAML(_ name: String, project: String? = nil, isDefault: Bool = false, port: Int = 8001, description: String? = nil) -> String {
    var text = "name: \(name)\n"
    if let project { text += "project_module: \(project)\n" }
    if let description { text += "description: \(description)\n" }
    text += "is_default: \(isDefault)\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: dim.example.org, deploy_port: \(port)}\n"
    return text
}

/// A fresh, migrated database per test.
func withStore<T>(_ body: (ApplyTransaction, PGConnection) async throws -> T) async throws -> T {
    try await TestDatabase.withConnection { conn in
        let r = ApplyTransaction(conn: conn)
        try await Migrator.beamsync.migrateIfPending(conn)
        return try await body(r, conn)
    }
}

extension ApplyTransaction {
    /// What applying `desired` would change, read-only.
    func plan(_ desired: DesiredState, options: PlanOptions, source: String) async throws -> Plan {
        Planner(options: options).plan(desired: desired, live: try await readLive(), source: source)
    }

    @discardableResult
    func applyRepo(_ files: [String: String], _ options: PlanOptions = .init()) async throws -> (Plan, ApplyResult) {
        let live = try await readLive()
        return try await apply(try repo(files, external: live.externalProfiles), options: options, source: "test", actor: "test", revision: "r1")
    }
}

func profileRows(_ conn: PGConnection) async throws -> [String: (isDefault: Bool, revision: Int, port: Int64?)] {
    var out: [String: (Bool, Int, Int64?)] = [:]
    for row in try await conn.query("SELECT name, is_default, revision, deployment::text AS d FROM daliuge_deployment_profile").rows {
        out[try row.string("name")] = (try row.bool("is_default"), try row.int("revision"), try JSONValue.parse(try row.json("d"))["deploy_port"]?.intValue)
    }
    return out
}

@Suite("Reconcile against PostgreSQL", .serialized, .requires(.postgres))
struct ReconcileTests {
    @Test("create, then a one-field update bumps the revision; formatting-only edits are no-ops")
    func createUpdateNoOp() async throws {
        try await withStore { r, conn in
            try await r.applyRepo(["profiles/a.yaml": profileYAML("a")])
            #expect(try await profileRows(conn)["a"]?.revision == 1)
            let (plan, _) = try await r.applyRepo(["profiles/a.yaml": profileYAML("a", port: 9001)])
            #expect(plan.effectiveChanges.first?.fieldChanges.map(\.path) == ["deployment.deploy_port"])
            let row = try #require(try await profileRows(conn)["a"])
            #expect(row.revision == 2 && row.port == 9001)
            let reformatted = "deployment:\n    deploy_port: 9001\n    kind: rest_remote\n    deploy_host: dim.example.org\ntranslation: {}\nname: a\nis_default: false\n"
            let (again, result) = try await r.applyRepo(["profiles/x.yml": reformatted])
            #expect(!again.summary.hasChanges && result.updated == 0)
            #expect(try await profileRows(conn)["a"]?.revision == 2)
        }
    }

    @Test("moving the default inside a scope in one commit works in either file order")
    func moveDefault() async throws {
        for (fileA, fileB) in [("a", "b"), ("z", "a")] {
            try await withStore { r, conn in
                try await r.applyRepo(["profiles/\(fileA).yaml": profileYAML("a", project: "w", isDefault: true), "profiles/\(fileB).yaml": profileYAML("b", project: "w")])
                try await r.applyRepo(["profiles/\(fileA).yaml": profileYAML("a", project: "w"), "profiles/\(fileB).yaml": profileYAML("b", project: "w", isDefault: true)])
                let rows = try await profileRows(conn)
                #expect(rows["a"]?.isDefault == false && rows["b"]?.isDefault == true)
            }
        }
    }

    @Test("two defaults in git are an error and nothing is written")
    func twoDefaultsInGit() async throws {
        try await withStore { r, conn in
            let result = DesiredStateLoader.load(files: [
                SourceFile(path: "profiles/a.yaml", bytes: Array(profileYAML("a", isDefault: true).utf8)),
                SourceFile(path: "profiles/b.yaml", bytes: Array(profileYAML("b", isDefault: true).utf8)),
            ])
            let refused = result.state == nil && result.diagnostics.errors.contains { $0.code == .multipleDefaults }
            #expect(refused)
            let count = try await conn.query("SELECT count(*) AS n FROM daliuge_deployment_profile").single().int("n")
            #expect(count == 0)
            _ = r
        }
    }

    @Test("a profile created outside git is refused unless adopted")
    func adoption() async throws {
        try await withStore { r, conn in
            try await conn.query("""
                INSERT INTO daliuge_deployment_profile (name, translation, deployment)
                VALUES ('a', '{"algo":"metis","num_par":1,"num_islands":0}', '{"kind":"rest_remote","deploy_host":"old","deploy_port":8001,"dim_port_for_tm":8001,"use_https":false,"verify_ssl":true}')
                """)
            await #expect(throws: PlanRejected.self) { try await r.applyRepo(["profiles/a.yaml": profileYAML("a")]) }
            #expect(try await conn.query("SELECT count(*) AS n FROM gitops_objects").single().int("n") == 0)
            let (plan, _) = try await r.applyRepo(["profiles/a.yaml": profileYAML("a")], PlanOptions(adopt: true))
            #expect(plan.effectiveChanges.first?.reason == .adopted)
            #expect(try await conn.query("SELECT deployment->>'deploy_host' AS h FROM daliuge_deployment_profile").single().string("h") == "dim.example.org")
            #expect(try await conn.query("SELECT count(*) AS n FROM gitops_objects").single().int("n") == 1)
        }
    }

    @Test("adopting a row identical to its document takes ownership without bumping its revision")
    func adoptIdentical() async throws {
        try await withStore { r, conn in
            try await r.applyRepo(["profiles/a.yaml": profileYAML("a")])
            try await conn.query("DELETE FROM gitops_objects")
            let (plan, result) = try await r.applyRepo(["profiles/a.yaml": profileYAML("a")], PlanOptions(adopt: true))
            #expect(plan.effectiveChanges.first?.reason == .adopted && result.updated == 1)
            #expect(try await profileRows(conn)["a"]?.revision == 1)
            #expect(try await conn.query("SELECT count(*) AS n FROM gitops_objects").single().int("n") == 1)
            let (again, _) = try await r.applyRepo(["profiles/a.yaml": profileYAML("a")])
            #expect(!again.summary.hasChanges)
        }
    }

    @Test("prune: off keeps a removed document's row, on deletes it, and refuses an empty directory")
    func prune() async throws {
        try await withStore { r, conn in
            try await r.applyRepo(["profiles/a.yaml": profileYAML("a"), "profiles/b.yaml": profileYAML("b")])
            try await r.applyRepo(["profiles/a.yaml": profileYAML("a")])
            #expect(try await profileRows(conn).keys.sorted() == ["a", "b"])
            await #expect(throws: PlanRejected.self) {
                try await r.apply(DesiredState(), options: PlanOptions(prune: true), source: "empty", actor: "test", revision: nil)
            }
            try await r.applyRepo(["profiles/a.yaml": profileYAML("a")], PlanOptions(prune: true))
            #expect(try await profileRows(conn).keys.sorted() == ["a"])
            #expect(try await conn.query("SELECT count(*) AS n FROM gitops_objects WHERE name = 'b'").single().int("n") == 0)
            #expect(try await conn.query("SELECT count(*) AS n FROM audit_events WHERE action = 'delete' AND object_name = 'b'").single().int("n") == 1)
        }
    }

    @Test("drift is reported, then healed")
    func drift() async throws {
        try await withStore { r, conn in
            let files = ["profiles/a.yaml": profileYAML("a", port: 8001)]
            try await r.applyRepo(files)
            try await conn.query("UPDATE daliuge_deployment_profile SET deployment = jsonb_set(deployment, '{deploy_port}', '7000') WHERE name = 'a'")
            let plan = try await r.plan(try repo(files), options: .init(), source: "test")
            #expect(plan.diagnostics.warnings.contains { $0.code == .drift })
            #expect(!plan.summary.hasChanges)
            try await r.applyRepo(files, PlanOptions(heal: true))
            #expect(try await profileRows(conn)["a"]?.port == 8001)
        }
    }

    @Test("a saved plan applies exactly; a stale one is refused and writes nothing")
    func savedPlans() async throws {
        try await withStore { r, conn in
            let saved = try await r.plan(try repo(["profiles/a.yaml": profileYAML("a")]), options: .init(), source: "test")
            let data = try JSONEncoder().encode(saved)
            let decoded = try JSONDecoder().decode(Plan.self, from: data)
            let result = try await r.apply(saved: decoded, actor: "test", revision: nil)
            #expect(result.created == 1)
            let stale = try await r.plan(try repo(["profiles/a.yaml": profileYAML("a", port: 9000)]), options: .init(), source: "test")
            try await conn.query("UPDATE daliuge_deployment_profile SET description = 'edited in psql'")
            await #expect(throws: StalePlan.self) { try await r.apply(saved: stale, actor: "test", revision: nil) }
            #expect(try await profileRows(conn)["a"]?.port == 8001)
        }
    }

    @Test("quotes, semicolons, comment markers and unicode are stored verbatim")
    func hostileText() async throws {
        try await withStore { r, conn in
            let description = #"'); DROP TABLE daliuge_deployment_profile; -- "quoted" \ ünïcødé ✓ 🚀"#
            // Host fields refuse shell and SQL syntax; a shell snippet keeps it, so it carries the hostile text into JSONB.
            let yaml = "name: weird.name_-1\ndescription: '\(description.replacingOccurrences(of: "'", with: "''"))'\nproject_module: \"proj;--x\"\ntranslation: {}\n"
                + "deployment: {kind: slurm_remote, login_node: l, account: a, home_dir: /h, log_dir: /l, dlg_root: /d, environment_setup: \"h'\\\"; --\"}\n"
            try await r.applyRepo(["profiles/w.yaml": yaml])
            let row = try await conn.query("SELECT description, project_module, deployment->>'environment_setup' AS h, spec_sha256 FROM daliuge_deployment_profile").single()
            #expect(try row.string("description") == description)
            #expect(try row.string("project_module") == "proj;--x")
            #expect(try row.string("h") == "h'\"; --")
            let profile = try #require(try repo(["profiles/w.yaml": yaml]).profiles.first?.value)
            #expect(try row.string("spec_sha256") == profile.specSHA256)
        }
    }

    @Test("a triggered execution pins the profile snapshot and runs only once")
    func executionTrigger() async throws {
        try await withStore { r, conn in
            let files = ["profiles/a.yaml": profileYAML("a", project: "w", isDefault: true), "graphs/g.graph": "{}",
                         "executions/e.yaml": "apiVersion: beampipe.dev/v1\nkind: Execution\nmetadata: {name: e1}\nspec: {project_module: w, graph: {path: graphs/g.graph}}\n"]
            let (_, first) = try await r.applyRepo(files)
            #expect(first.triggered == 1)
            let (again, second) = try await r.applyRepo(files.merging(["profiles/a.yaml": profileYAML("a", project: "w", isDefault: true, port: 9100)]) { $1 })
            #expect(second.triggered == 0 && again.summary.update == 1)
            let row = try await conn.query("SELECT deployment_profile_snapshot->'deployment'->>'deploy_port' AS port, deployment_profile_revision AS rev, graph_sha256 FROM executions").single()
            #expect(try row.string("port") == "8001" && row.int("rev") == 1)
            #expect(try row.string("graph_sha256") == SHA256Digest.hex(Array("{}".utf8)))
            // Its history starts like a CLI-created execution's: one `created` step, naming the revision.
            let id = try #require(UUID(uuidString: first.executionIDs["e1"] ?? ""))
            let events = try await ExecutionLedger(conn: conn).events(of: id)
            #expect(events.map(\.step) == ["created"])
            #expect(events.first?.detail?["message"]?.stringValue?.contains("from r1 with profile 'a' (revision 1)") == true)
        }
    }
}
