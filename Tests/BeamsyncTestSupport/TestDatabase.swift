import BeamsyncPostgres
import Foundation

/// The PostgreSQL server the integration tests use. The project's test script starts one with
/// scripts/postgres.sh and exports BEAMSYNC_TEST_DATABASE_URL; without it the suites are skipped.
public enum TestDatabase {
    public static let url = ProcessInfo.processInfo.environment["BEAMSYNC_TEST_DATABASE_URL"]
    public static var isConfigured: Bool { url != nil }

    /// Creates a fresh database, hands its name to `body`, then drops it (also on failure), so
    /// tests running in parallel never see each other's tables.
    public static func withFreshDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try await PGConnection.connect(conninfo: url!)
        try await admin.execute("CREATE DATABASE \(name)")
        do {
            let value = try await body(name)
            try await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
            return value
        } catch {
            _ = try? await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
    }

    /// A conninfo for `database` on the test server (for code that opens its own connections).
    public static func conninfo(_ database: String) -> String {
        if url!.contains("://"), var components = URLComponents(string: url!) {
            components.path = "/" + database
            return components.string!
        }
        return url! + " dbname=\(database)"
    }

    public static func connect(_ database: String) async throws -> PGConnection {
        try await PGConnection.connect(conninfo: url!, overrides: ["dbname": database])
    }

    /// A fresh database and one connection to it.
    public static func withConnection<T>(_ body: (PGConnection) async throws -> T) async throws -> T {
        try await withFreshDatabase { name in
            let conn = try await connect(name)
            let value = try await body(conn)
            await conn.close()
            return value
        }
    }
}

/// Whether the run requires the real services: `scripts/test.sh` sets BEAMSYNC_REQUIRE_SERVICES=1, and
/// then a missing service fails its tests instead of skipping them.
public enum TestServices {
    public static let required = ProcessInfo.processInfo.environment["BEAMSYNC_REQUIRE_SERVICES"] == "1"
}
