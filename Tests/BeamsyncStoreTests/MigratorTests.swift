import BeamsyncModel
import BeamsyncPostgres
import BeamsyncStore
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("Database migrations", .requires(.postgres))
struct MigratorTests {
    @Test("applies every migration once and records version, name and checksum")
    func appliesOnce() async throws {
        try await TestDatabase.withConnection { conn in
            let migrator = Migrator.beamsync
            #expect(try await migrator.pending(conn).map(\.version) == BeamsyncMigrations.all.map(\.version))
            let applied = try await migrator.migrate(conn)
            #expect(applied.map(\.version) == BeamsyncMigrations.all.map(\.version))

            let recorded = try await Migrator.applied(conn)
            #expect(recorded.map(\.version) == BeamsyncMigrations.all.map(\.version))
            #expect(recorded.first?.checksum == SHA256Digest.hex(Array(BeamsyncMigrations.all[0].sql.utf8)))
            #expect(recorded.first?.name == "core_schema")
            #expect(try await migrator.pending(conn).isEmpty)
        }
    }

    @Test("running again is a no-op")
    func idempotent() async throws {
        try await TestDatabase.withConnection { conn in
            try await Migrator.beamsync.migrate(conn)
            #expect(try await Migrator.beamsync.migrate(conn).isEmpty)
            #expect(try await conn.query("SELECT count(*) AS n FROM beamsync_schema_migrations").single().int("n")
                == BeamsyncMigrations.all.count)
        }
    }

    @Test("later migrations apply on top of earlier ones, each in its own transaction")
    func incremental() async throws {
        try await TestDatabase.withConnection { conn in
            let one = Migration(version: 1, name: "one", sql: "CREATE TABLE m1 (x INT)")
            let two = Migration(version: 2, name: "two", sql: "CREATE TABLE m2 (x INT)")
            let broken = Migration(version: 3, name: "broken", sql: "CREATE TABLE m3 (x INT); SELECT no_such_function()")
            try await Migrator(migrations: [one]).migrate(conn)
            #expect(try await Migrator(migrations: [one, two]).migrate(conn).map(\.version) == [2])
            await #expect(throws: PostgresError.self) { try await Migrator(migrations: [one, two, broken]).migrate(conn) }
            // The failed migration left nothing behind and is still pending.
            #expect(try await conn.query("SELECT to_regclass('m3') IS NULL AS gone").single().bool("gone"))
            #expect(try await Migrator(migrations: [one, two, broken]).pending(conn).map(\.version) == [3])
        }
    }

    @Test("refuses to run when an applied migration's SQL was edited")
    func tamperedChecksum() async throws {
        try await TestDatabase.withConnection { conn in
            try await Migrator(migrations: [Migration(version: 1, name: "one", sql: "CREATE TABLE m1 (x INT)")]).migrate(conn)
            let edited = Migrator(migrations: [
                Migration(version: 1, name: "one", sql: "CREATE TABLE m1 (x BIGINT)"),
                Migration(version: 2, name: "two", sql: "CREATE TABLE m2 (x INT)"),
            ])
            let error = try await #require(throws: MigrationError.self) { try await edited.migrate(conn) }
            guard case .checksumMismatch(let version, _, _, _) = error else {
                Issue.record("expected a checksum mismatch, got \(error)")
                return
            }
            #expect(version == 1)
            #expect(error.description.contains("forward-only"))
            // Nothing after the mismatch ran.
            #expect(try await conn.query("SELECT to_regclass('m2') IS NULL AS gone").single().bool("gone"))
        }
    }

    @Test("refuses a database migrated by a newer binary")
    func newerDatabase() async throws {
        try await TestDatabase.withConnection { conn in
            let one = Migration(version: 1, name: "one", sql: "SELECT 1")
            try await Migrator(migrations: [one, Migration(version: 2, name: "two", sql: "SELECT 2")]).migrate(conn)
            let error = try await #require(throws: MigrationError.self) { try await Migrator(migrations: [one]).migrate(conn) }
            #expect(error == .databaseNewer(version: 2, name: "two", latestKnown: 1))
            #expect(error.description.contains("upgrade beamsync"))
        }
    }

    @Test("two migrators racing on the same database both succeed and apply each migration once")
    func concurrentMigrators() async throws {
        try await TestDatabase.withFreshDatabase { db in
            let a = try await db.connect()
            let b = try await db.connect()
            async let first = Migrator.beamsync.migrate(a)
            async let second = Migrator.beamsync.migrate(b)
            let (ranA, ranB) = try await (first, second)
            #expect(ranA.count + ranB.count == BeamsyncMigrations.all.count)
            #expect(ranA.isEmpty || ranB.isEmpty)
            #expect(try await a.query("SELECT count(*) AS n FROM beamsync_schema_migrations").single().int("n")
                == BeamsyncMigrations.all.count)
        }
    }
}
