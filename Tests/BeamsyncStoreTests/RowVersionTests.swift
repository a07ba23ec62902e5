import BeamsyncModel
import BeamsyncPlan
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// The inventory remembers the version of each profile row beamsync wrote, so a plan can take an
/// untouched row's hash from the inventory instead of rebuilding it. These cases pin down when the
/// recorded version is trusted and that every outside write loses that trust.
@Suite("Row versions in the inventory", .serialized, .requires(.postgres))
struct RowVersionTests {
    private func versions(_ live: LiveState) -> (rows: [String: String?], recorded: [String: String?]) {
        var rows: [String: String?] = [:], recorded: [String: String?] = [:]
        for p in live.profiles { rows[p.name] = p.rowVersion }
        for e in live.inventory where e.kind == .deploymentProfile { recorded[e.name] = e.rowVersion }
        return (rows, recorded)
    }

    @Test("rows written by an apply are recorded at the version they were written at")
    func recordedAfterApply() async throws {
        try await withStore { r, _ in
            try await r.applyRepo(["profiles/a.yaml": profileYAML("a"), "profiles/b.yaml": profileYAML("b", port: 8002)])
            let (rows, recorded) = versions(try await r.readLive())
            #expect(rows.count == 2)
            for name in ["a", "b"] {
                let row = try #require(rows[name] ?? nil)
                #expect(recorded[name] == row)
            }
        }
    }

    @Test("any outside write, even one that changes nothing, gives the row a new version; the plan still sees no drift")
    func outsideWritesChangeTheVersion() async throws {
        try await withStore { r, conn in
            let files = ["profiles/a.yaml": profileYAML("a"), "profiles/b.yaml": profileYAML("b", port: 8002)]
            try await r.applyRepo(files)
            try await conn.query("UPDATE daliuge_deployment_profile SET description = description WHERE name = 'a'")
            let live = try await r.readLive()
            let (rows, recorded) = versions(live)
            #expect(rows["a"] != recorded["a"])
            #expect(rows["b"] == recorded["b"])
            // The row is hashed in full and matches: an identical rewrite is not drift.
            let plan = Planner().plan(desired: try repo(files), live: live, source: "test")
            #expect(!plan.summary.hasChanges)
            #expect(!plan.diagnostics.contains { $0.code == .drift })
        }
    }

    @Test("a row deleted and re-created outside git under the same name is not taken for beamsync's")
    func recreatedRow() async throws {
        try await withStore { r, conn in
            let files = ["profiles/a.yaml": profileYAML("a")]
            try await r.applyRepo(files)
            try await conn.query("""
                WITH gone AS (DELETE FROM daliuge_deployment_profile WHERE name = 'a' RETURNING *)
                INSERT INTO daliuge_deployment_profile (uuid, name, description, project_module, is_default, max_concurrent_executions,
                                                        translation, deployment, revision, spec_sha256)
                SELECT uuid, name, description, project_module, is_default, max_concurrent_executions, translation,
                       jsonb_set(deployment, '{deploy_port}', '7000'), revision, spec_sha256 FROM gone
                """)
            let plan = try await r.plan(try repo(files), options: .init(), source: "test")
            #expect(plan.diagnostics.contains { $0.code == .drift && $0.message.contains("deploy_port") })
        }
    }

    @Test("a row adopted without being rewritten is not recorded, so it is always hashed in full")
    func adoptedIdenticalIsNotTrusted() async throws {
        try await withStore { r, conn in
            try await r.applyRepo(["profiles/a.yaml": profileYAML("a")])
            // Made unmanaged: beamsync adopts it back without writing the (identical) row.
            try await conn.query("DELETE FROM gitops_objects")
            try await r.applyRepo(["profiles/a.yaml": profileYAML("a")], PlanOptions(adopt: true))
            let (rows, recorded) = versions(try await r.readLive())
            #expect(rows["a"] != nil)
            #expect(recorded["a"] == .some(nil))
        }
    }

    @Test("the recorded version is not trusted once 2^31 transactions could have passed")
    func oldRecordsAreNotTrusted() async throws {
        try await withStore { r, conn in
            try await r.applyRepo(["profiles/a.yaml": profileYAML("a")])
            // As if the apply had happened more than 2^31 transactions ago.
            try await conn.query("UPDATE gitops_objects SET written_xid = written_xid - 2147483648")
            let (_, recorded) = versions(try await r.readLive())
            #expect(recorded["a"] == .some(nil))
        }
    }
}

@Suite("Bulk updates", .serialized, .requires(.postgres))
struct BulkUpdateTests {
    private func files(count: Int, port: Int) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (0..<count).map { ("profiles/p\($0).yaml", profileYAML("p\($0)", port: port)) })
    }

    @Test("100 updates are written in one statement and each row gets its next revision")
    func manyUpdates() async throws {
        try await withStore { r, conn in
            try await r.applyRepo(files(count: 100, port: 8001))
            let (_, result) = try await r.applyRepo(files(count: 100, port: 9001))
            #expect(result.updated == 100)
            let rows = try await profileRows(conn)
            #expect(rows.count == 100 && rows.values.allSatisfy { $0.port == 9001 && $0.revision == 2 })
        }
    }

    @Test("one row changed after planning fails the bulk update by name, and nothing is written")
    func staleRowInBulk() async throws {
        try await withStore { r, conn in
            try await r.applyRepo(files(count: 100, port: 8001))
            let plan = try await r.plan(try repo(files(count: 100, port: 9001)), options: .init(), source: "test")
            #expect(plan.summary.update == 100)
            try await conn.query("UPDATE daliuge_deployment_profile SET revision = revision + 1 WHERE name = 'p42'")
            do {
                _ = try await conn.transaction { c in try await PlanApplier(actor: "test", revision: nil).apply(plan, on: c) }
                Issue.record("the apply should have been refused")
            } catch let conflict as ApplyConflict {
                #expect(conflict.message.contains("'p42'"))
            }
            let rows = try await profileRows(conn)
            #expect(rows.values.allSatisfy { $0.port == 8001 })
        }
    }
}
