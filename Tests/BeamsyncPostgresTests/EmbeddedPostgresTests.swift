import BeamsyncPostgres
import BeamsyncTestSupport
import Foundation
import Testing

@Suite("The embedded PostgreSQL server")
struct EmbeddedPostgresTests {
    @Test("starts a private cluster in BEAMSYNC_HOME, reuses it on a second start, and stops it",
          .enabled(if: TestDatabase.isConfigured && TestServices.postgresServerProgramsInstalled), .timeLimit(.minutes(2)))
    func lifecycle() async throws {
        let home = "/tmp/beamsync-embedded-\(UUID().uuidString.prefix(8))"
        var environment = ProcessInfo.processInfo.environment
        environment["BEAMSYNC_HOME"] = home
        environment["DATABASE_URL"] = nil
        defer { try? FileManager.default.removeItem(atPath: home) }

        let first = EmbeddedPostgres(environment: environment)
        #expect(first.directory == home + "/postgres")
        let started = try await first.start()
        do {
            #expect(started.startedByThisProcess)
            #expect(started.message == "using embedded PostgreSQL at \(home)/postgres (DATABASE_URL is unset)")
            #expect(started.conninfo.contains("dbname='beamsync'"))

            let conn = try await PGConnection.connect(conninfo: started.conninfo)
            let row = try await conn.query(
                "SELECT current_database() AS db, current_setting('listen_addresses') AS listen, inet_server_addr() IS NULL AS unix"
            ).single()
            #expect(try row.string("db") == "beamsync")
            #expect(try row.string("listen") == "")
            #expect(try row.bool("unix"))
            try await conn.execute("CREATE TABLE kept (v INT); INSERT INTO kept VALUES (7)")
            await conn.close()

            // A second start (another beamsync process) reuses the running cluster and its data.
            let second = EmbeddedPostgres(environment: environment)
            let reused = try await second.start()
            #expect(!reused.startedByThisProcess)
            #expect(reused.conninfo == started.conninfo)
            try await second.stop()  // not its cluster: a no-op
            let again = try await PGConnection.connect(conninfo: reused.conninfo)
            #expect(try await again.query("SELECT v FROM kept").single().int("v") == 7)
            await again.close()
        } catch {
            try? await first.stop()
            throw error
        }

        try await first.stop()
        let error = try await #require(throws: PostgresError.self) {
            try await PGConnection.connect(conninfo: started.conninfo)
        }
        #expect(error.kind == .connectionFailed)
    }

    @Test("missing server programs produce an error that says how to install them or use DATABASE_URL")
    func missingBinaries() async throws {
        let home = "/tmp/beamsync-embedded-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: home) }
        let embedded = EmbeddedPostgres(environment: ["BEAMSYNC_HOME": home, "PATH": "/nonexistent"],
                                        binarySearchDirectories: ["/nonexistent/bin"])
        let error = try await #require(throws: EmbeddedPostgresError.self) { try await embedded.start() }
        #expect(error.description.contains("apt-get install postgresql"))
        #expect(error.description.contains("DATABASE_URL"))
    }

    @Test("BEAMSYNC_HOME, then /var/lib/beamsync for root, then XDG_DATA_HOME/beamsync, then ~/.local/share/beamsync")
    func homeResolution() {
        #expect(EmbeddedPostgres.defaultHome(environment: ["BEAMSYNC_HOME": "/b", "XDG_DATA_HOME": "/x", "HOME": "/h"]) == "/b")
        #expect(EmbeddedPostgres.defaultHome(environment: ["XDG_DATA_HOME": "/x", "HOME": "/h"], isRoot: false) == "/x/beamsync")
        #expect(EmbeddedPostgres.defaultHome(environment: ["HOME": "/h"], isRoot: false) == "/h/.local/share/beamsync")
        #expect(EmbeddedPostgres.defaultHome(environment: ["HOME": "/root"], isRoot: true) == "/var/lib/beamsync")
        #expect(EmbeddedPostgres(home: "/b").directory == "/b/postgres")
    }
}
