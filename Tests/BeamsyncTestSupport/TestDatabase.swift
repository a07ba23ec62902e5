import BeamsyncPostgres
import Foundation

/// Databases for the integration tests, on the PostgreSQL server of `BEAMSYNC_TEST_DATABASE_URL`.
/// Each test gets a database of its own, so tests never see each other's tables.
public enum TestDatabase {
    public static var url: String? { TestServices.databaseURL }
    public static var isConfigured: Bool { url != nil }

    /// The server's URL, or an error naming the variable.
    public static func serverURL() throws -> String { try TestServices.requireDatabase() }

    /// A fresh database for `body`, dropped afterwards (also when `body` throws).
    public static func withFreshDatabase<T>(_ body: (FreshDatabase) async throws -> T) async throws -> T {
        let database = try await FreshDatabase.create()
        do {
            let value = try await body(database)
            try await database.drop()
            return value
        } catch {
            try? await database.drop()
            throw error
        }
    }

    /// A fresh database and one connection to it.
    public static func withConnection<T>(_ body: (PGConnection) async throws -> T) async throws -> T {
        try await withFreshDatabase { database in
            let conn = try await database.connect()
            do {
                let value = try await body(conn)
                await conn.close()
                return value
            } catch {
                await conn.close()
                throw error
            }
        }
    }
}

/// One database created for a test: its name, a URL for connections and child processes
/// (`DATABASE_URL`), and `drop()`.
public struct FreshDatabase: Sendable {
    public let name: String
    /// The server's URL or conninfo with this database in place of the server's.
    public let url: String
    private let serverURL: String

    /// Creates an empty database named `<prefix>_<random>`.
    public static func create(prefix: String = "test") async throws -> FreshDatabase {
        let server = try TestDatabase.serverURL()
        let name = prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await administer(server, "CREATE DATABASE \(name)")
        return FreshDatabase(name: name, url: try Self.url(of: name, on: server), serverURL: server)
    }

    public func connect(overrides: [String: String] = [:]) async throws -> PGConnection {
        try await PGConnection.connect(conninfo: url, overrides: overrides)
    }

    /// Drops the database, ending the sessions still connected to it.
    public func drop() async throws {
        try await Self.administer(serverURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    private static func administer(_ server: String, _ statement: String) async throws {
        let admin = try await PGConnection.connect(conninfo: server)
        do {
            try await admin.execute(statement)
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
    }

    /// `server` (a postgresql:// URL or a key=value conninfo) naming database `name` instead.
    static func url(of name: String, on server: String) throws -> String {
        guard server.hasPrefix("postgres://") || server.hasPrefix("postgresql://") else {
            return server + " dbname=" + name   // libpq: a repeated keyword's last value wins
        }
        guard var components = URLComponents(string: server) else {
            throw InvalidServerURL()
        }
        components.path = "/" + name
        guard let url = components.string else { throw InvalidServerURL() }
        return url
    }

    struct InvalidServerURL: Error, CustomStringConvertible {
        var description: String { "BEAMSYNC_TEST_DATABASE_URL is not a valid postgresql:// URL; give the URL scripts/postgres.sh prints" }
    }
}
