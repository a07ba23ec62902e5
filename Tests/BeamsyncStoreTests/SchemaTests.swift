import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// The rules migration 1 puts in the database itself, checked with plain SQL.
@Suite("Schema rules", .requires(.postgres))
struct SchemaTests {
    private func migrated<T>(_ body: (PGConnection) async throws -> T) async throws -> T {
        try await TestDatabase.withConnection { conn in
            try await Migrator.beamsync.migrate(conn)
            return try await body(conn)
        }
    }

    private func insertProfile(_ conn: PGConnection, _ name: String, project: String?, isDefault: Bool) async throws {
        try await conn.query(
            "INSERT INTO daliuge_deployment_profile (name, project_module, is_default) VALUES ($1, $2, $3)",
            [.text(name), project.map(PGValue.text), .bool(isDefault)], name: "insert profile")
    }

    @Test("one default per scope: a second global default and a second project default are rejected")
    func singleDefaultPerScope() async throws {
        try await migrated { conn in
            try await insertProfile(conn, "global-a", project: nil, isDefault: true)
            try await insertProfile(conn, "proj-a", project: "wallaby", isDefault: true)
            try await insertProfile(conn, "other-a", project: "askap", isDefault: true)
            try await insertProfile(conn, "empty-name-scope", project: "", isDefault: true)  // '' is not global
            try await insertProfile(conn, "global-b", project: nil, isDefault: false)
            try await insertProfile(conn, "proj-b", project: "wallaby", isDefault: false)

            let global = try await #require(throws: PostgresError.self) {
                try await insertProfile(conn, "global-c", project: nil, isDefault: true)
            }
            #expect(global.isUniqueViolation)
            #expect(global.constraint == "uq_daliuge_profile_single_default")
            let project = try await #require(throws: PostgresError.self) {
                try await insertProfile(conn, "proj-c", project: "wallaby", isDefault: true)
            }
            #expect(project.isUniqueViolation)

            // Moving a default: demote first, then promote (what apply's ordering relies on).
            try await conn.transaction { tx in
                try await tx.query("UPDATE daliuge_deployment_profile SET is_default = false WHERE name = 'proj-a'")
                try await tx.query("UPDATE daliuge_deployment_profile SET is_default = true WHERE name = 'proj-b'")
            }
            let defaults = try await conn.query(
                "SELECT name FROM daliuge_deployment_profile WHERE is_default ORDER BY name").rows.map { try $0.string("name") }
            #expect(defaults == ["empty-name-scope", "global-a", "other-a", "proj-b"])
        }
    }

    @Test("profile names are unique across scopes and max_concurrent_executions must be positive")
    func profileConstraints() async throws {
        try await migrated { conn in
            try await insertProfile(conn, "dup", project: nil, isDefault: false)
            await #expect(throws: PostgresError.self) { try await insertProfile(conn, "dup", project: "wallaby", isDefault: false) }
            let check = try await #require(throws: PostgresError.self) {
                try await conn.query("INSERT INTO daliuge_deployment_profile (name, max_concurrent_executions) VALUES ('z', 0)")
            }
            #expect(check.sqlState == "23514")
        }
    }

    @Test("a profile pinned by an execution cannot be deleted (foreign key, no ON DELETE)")
    func pinnedProfile() async throws {
        try await migrated { conn in
            let id = try await conn.query(
                "INSERT INTO daliuge_deployment_profile (name) VALUES ('pinned') RETURNING uuid").single().uuid("uuid")
            try await conn.query(
                "INSERT INTO executions (name, project_module, deployment_profile_id) VALUES ('run-1', 'wallaby', $1)",
                [.uuid(id)])
            let error = try await #require(throws: PostgresError.self) {
                try await conn.query("DELETE FROM daliuge_deployment_profile WHERE uuid = $1", [.uuid(id)])
            }
            #expect(error.isForeignKeyViolation)
            let status = try await conn.query("SELECT status, submission_state, simulated FROM executions").single()
            #expect(try status.string("status") == "pending")
            #expect(try status.string("submission_state") == "not_started")
            #expect(try status.bool("simulated") == false)
        }
    }

    @Test("only one active project config per project")
    func activeProjectConfig() async throws {
        try await migrated { conn in
            try await conn.query("INSERT INTO project_configs (project_id, version, spec) VALUES ('p', 1, '{}')")
            await #expect(throws: PostgresError.self) {
                try await conn.query("INSERT INTO project_configs (project_id, version, spec) VALUES ('p', 2, '{}')")
            }
            try await conn.transaction { tx in
                try await tx.query("UPDATE project_configs SET active = false WHERE project_id = 'p'")
                try await tx.query("INSERT INTO project_configs (project_id, version, spec) VALUES ('p', 2, '{}')")
            }
        }
    }

    @Test("audit_events is append-only: UPDATE, DELETE and TRUNCATE raise")
    func auditAppendOnly() async throws {
        try await migrated { conn in
            try await conn.query(
                "INSERT INTO audit_events (actor, action, object_kind, object_name) VALUES ($1, $2, $3, $4)",
                ["git:main", "create", "DeploymentProfile", "dlg-dim"])
            for sql in ["UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events", "TRUNCATE audit_events"] {
                let error = try await #require(throws: PostgresError.self) { try await conn.execute(sql) }
                #expect(error.message.contains("append-only"))
            }
            #expect(try await conn.query("SELECT actor FROM audit_events").single().string("actor") == "git:main")
        }
    }

    @Test("the plan serial row exists once and can be bumped")
    func planSerial() async throws {
        try await migrated { conn in
            let bumped = try await conn.query(
                "UPDATE beamsync_plan_serial SET serial = serial + 1 WHERE id = 1 RETURNING serial").single()
            #expect(try bumped.int64("serial") == 1)
            await #expect(throws: PostgresError.self) {
                try await conn.query("INSERT INTO beamsync_plan_serial (id, serial) VALUES (2, 0)")
            }
        }
    }

    @Test("status and inventory kinds are constrained to their known values")
    func checkConstraints() async throws {
        try await migrated { conn in
            await #expect(throws: PostgresError.self) {
                try await conn.query("INSERT INTO executions (name, project_module, status) VALUES ('x', 'p', 'exploded')")
            }
            await #expect(throws: PostgresError.self) {
                try await conn.query("INSERT INTO gitops_objects (kind, name, spec_sha256) VALUES ('Secret', 'x', 'h')")
            }
            await #expect(throws: PostgresError.self) {
                try await conn.query("INSERT INTO gitops_sync_runs (result) VALUES ('maybe')")
            }
        }
    }
}
