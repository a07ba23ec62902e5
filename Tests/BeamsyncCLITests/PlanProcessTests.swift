import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing


/// Tables in the database's public schema.
private func tableCount(_ url: String) async throws -> Int {
    let conn = try await PGConnection.connect(conninfo: url)
    let n = try await conn.query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'").single().int("n")
    await conn.close()
    return n
}

/// A role that may connect to the database and nothing else (no CREATE on any schema); its URL.
private func connectOnlyRole(_ db: FreshDatabase) async throws -> (url: String, drop: @Sendable () async -> Void) {
    var components = try #require(URLComponents(string: db.url))
    let role = "ro_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    let admin = try await PGConnection.connect(conninfo: db.url)
    try await admin.execute("CREATE ROLE \(role) LOGIN")
    try await admin.execute("GRANT CONNECT ON DATABASE \(components.path.dropFirst()) TO \(role)")
    try await admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    await admin.close()
    components.user = role
    let adminURL = try TestDatabase.serverURL()
    return (components.string!, {
        try? await db.drop()
        if let c = try? await PGConnection.connect(conninfo: adminURL) {
            _ = try? await c.execute("DROP ROLE IF EXISTS \(role)")
            await c.close()
        }
    })
}

@Suite("plan as a process: invalid input, a fresh database, read-only roles", .serialized,
       .requires(.postgres))
struct PlanProcessTests {
    @Test("an invalid repository still gets a Markdown 'Validation failed' comment and JSON diagnostics, and exit 1")
    func invalidRepositoryIsRendered() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let dir = try temporaryRepository([
            "profiles/a.yaml": "name: a\ntranslation: {num_par: 0}\ndeployment: {kind: rest_remote, deploy_host: h, deploy_port: 0}\n",
            "profiles/b.yaml": "name: b\ntranslation: {}\ndeployment: {kind: rest_remote, deploy_host: h}\n",
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        let md = try runBeamsync(["plan", "--dir", dir.path, "--format", "markdown"], environment: env)
        #expect(md.status == 1, "\(md.stderr)")
        #expect(md.stdout.hasPrefix("<!-- beamsync-plan -->"), "\(md.stdout)")
        #expect(md.stdout.contains("Validation failed"), "\(md.stdout)")
        #expect(md.stdout.contains("profiles/a.yaml:2:24"), "every error names file:line:column: \(md.stdout)")
        #expect(md.stdout.contains("profiles/a.yaml:3:62"), "\(md.stdout)")
        #expect(md.stdout.contains("use a positive number"), "with its hint: \(md.stdout)")
        #expect(md.stderr.contains("profiles/a.yaml:2:24"), "the log still names the errors: \(md.stderr)")

        let json = try runBeamsync(["plan", "--dir", dir.path, "--format", "json"], environment: env)
        #expect(json.status == 1, "\(json.stderr)")
        let document = try JSONValue.parse(json.stdout)
        let diagnostics = try #require(document["diagnostics"]?.arrayValue, "\(json.stdout)")
        let errors = diagnostics.filter { $0["severity"] == .string("error") }
        #expect(errors.count == 2, "\(json.stdout)")
        #expect(errors.contains { $0["location"]?["line"] == .int(2) && $0["location"]?["column"] == .int(24)
                                  && $0["code"] == .string("out_of_range") && $0["hint"]?.stringValue != nil })
        #expect(document["changes"]?.arrayValue?.isEmpty == true)
        #expect(try await tableCount(db.url) == 0, "plan created no tables")
        try await db.drop()
    }

    @Test("plan on a fresh database plans against an empty state, says the schema is not created yet, and creates nothing")
    func freshDatabaseIsNotWritten() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let dir = try temporaryRepository(profiles(count: 3, port: 8001))
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["DATABASE_URL": db.url, "NO_COLOR": "1"]
        let planFile = dir.appendingPathComponent("plan.json").path
        let r = try runBeamsync(["plan", "--dir", dir.path, "--detailed-exitcode", "--out", planFile], environment: env)
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("Plan: 3 to create"), "\(r.stdout)")
        #expect((r.stdout + r.stderr).contains("the schema is not created yet; apply or migrate will create it"), "\(r.stdout)\(r.stderr)")
        #expect(try await tableCount(db.url) == 0, "plan created no tables")
        for command in [["status"], ["executions", "list"], ["executions", "show", "nothing"]] {
            let other = try runBeamsync(command, environment: env)
            #expect(other.status == (command.last == "nothing" ? 1 : 0), "\(command): \(other.stdout)\(other.stderr)")
            #expect(try await tableCount(db.url) == 0, "\(command.joined(separator: " ")) created no tables")
        }
        // The saved plan applies once apply has created the schema.
        let apply = try runBeamsync(["apply", "--plan", planFile, "--auto-approve"], environment: env)
        #expect(apply.status == 0 && apply.stdout.contains("3 created"), "\(apply.stdout)\(apply.stderr)")
        try await db.drop()
    }

    @Test("a role that may only connect can plan against a database without beamsync's schema")
    func readOnlyRolePlansFreshDatabase() async throws {
        let role = try await connectOnlyRole(try await FreshDatabase.create(prefix: "cli"))
        let dir = try temporaryRepository(profiles(count: 2, port: 8001))
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runBeamsync(["plan", "--dir", dir.path, "--format", "json"], environment: ["DATABASE_URL": role.url])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try JSONValue.parse(r.stdout)["changes"]?.arrayValue?.count == 2, "\(r.stdout)")
        await role.drop()
    }

    @Test("plan against an older schema says so and does not migrate it")
    func olderSchemaIsReported() async throws {
        let db = try await FreshDatabase.create(prefix: "cli")
        let conn = try await PGConnection.connect(conninfo: db.url)
        try await Migrator(migrations: Array(BeamsyncMigrations.all.prefix(3))).migrate(conn)
        let dir = try temporaryRepository(profiles(count: 1, port: 8001))
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runBeamsync(["plan", "--dir", dir.path], environment: ["DATABASE_URL": db.url, "NO_COLOR": "1"])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("version 3") && r.stderr.contains("beamsync migrate"), "\(r.stderr)")
        #expect(!r.stderr.contains("USAGE"), "a runtime error, not a usage error: \(r.stderr)")
        let versions = try await conn.query("SELECT max(version) AS v FROM beamsync_schema_migrations").single().int("v")
        #expect(versions == 3, "plan left the schema as it was")
        await conn.close()
        try await db.drop()
    }
}
