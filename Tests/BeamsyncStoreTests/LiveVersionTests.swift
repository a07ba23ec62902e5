import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

/// The live version tells the controller whether anything outside git wrote profiles or project
/// configs since its last plan. Every committed write must move it, and counting must not make
/// concurrent writers (API requests, beampipe, psql) wait for each other.
@Suite("The live version", .serialized, .requires(.postgres))
struct LiveVersionTests {
    private func version(_ conn: PGConnection) async throws -> Int64 {
        try await SourceStatusStore(conn: conn).liveVersion()
    }

    private func insertProfile(_ name: String, on conn: PGConnection) async throws {
        try await conn.query("INSERT INTO daliuge_deployment_profile (name) VALUES ($1)", [.text(name)])
    }

    @Test("every committed write by anyone moves it; a rolled-back one does not")
    func committedWritesCount() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let conn = try await db.connect()
            try await Migrator.beamsync.migrate(conn)
            let start = try await version(conn)
            try await insertProfile("a", on: conn)
            try await conn.query("UPDATE daliuge_deployment_profile SET description = 'x' WHERE name = 'a'")
            try await conn.query("INSERT INTO project_configs (project_id, version, spec) VALUES ('p', 1, '{}')")
            try await conn.query("DELETE FROM daliuge_deployment_profile WHERE name = 'a'")
            #expect(try await version(conn) == start + 4)
            try await conn.execute("BEGIN")
            try await insertProfile("b", on: conn)
            try await conn.execute("ROLLBACK")
            #expect(try await version(conn) == start + 4)
        }
    }

    @Test("two writers in open transactions do not wait for each other, and both writes count once committed")
    func concurrentWritersDoNotQueue() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let reader = try await db.connect()
            try await Migrator.beamsync.migrate(reader)
            let start = try await version(reader)
            // Writers on one server process share a counter slot (1 + pid % 64); find two that do not.
            func slot(_ conn: PGConnection) async throws -> Int {
                try await conn.query("SELECT 1 + pg_backend_pid() % 64 AS slot").single().int("slot")
            }
            let first = try await db.connect()
            var second = try await db.connect()
            while try await slot(second) == slot(first) { second = try await db.connect() }

            try await first.execute("BEGIN")
            try await insertProfile("first", on: first)
            // The first transaction is still open. A second writer that had to wait for it would
            // run into the lock timeout instead of inserting.
            try await second.execute("SET lock_timeout = '2s'")
            try await second.execute("BEGIN")
            try await insertProfile("second", on: second)
            try await second.execute("COMMIT")
            #expect(try await version(reader) == start + 1, "the second write is committed, the first not yet")
            try await first.execute("COMMIT")
            #expect(try await version(reader) == start + 2)
        }
    }
}
