import ArgumentParser
import BeamsyncPostgres
import Foundation

/// Where the state lives: `DATABASE_URL` (a libpq conninfo string or URI; libpq's PG* variables
/// work as usual), or, when it is unset, a private PostgreSQL that beamsync starts under
/// `$BEAMSYNC_HOME` and stops again when this process exits.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "libpq conninfo or postgresql:// URI (default: $DATABASE_URL, else an embedded PostgreSQL).")
    var databaseURL: String?

    func connect() async throws -> DatabaseSession {
        let (conninfo, embedded) = try await resolve()
        return DatabaseSession(conn: try await PGConnection.connect(conninfo: conninfo), embedded: embedded)
    }

    /// The conninfo to use, starting the embedded server when DATABASE_URL is unset (the returned
    /// server is the one to stop afterwards, if this process started it).
    func resolve() async throws -> (conninfo: String, embedded: EmbeddedPostgres?) {
        let env = ProcessInfo.processInfo.environment
        if let url = databaseURL ?? env["DATABASE_URL"], !url.isEmpty { return (url, nil) }
        let embedded = EmbeddedPostgres(environment: env)
        let started = try await embedded.start()
        StandardError.write("beamsync: \(started.message)")
        return (started.conninfo, started.startedByThisProcess ? embedded : nil)
    }
}

/// An open connection, and the embedded server to stop when done (if this process started it).
struct DatabaseSession {
    let conn: PGConnection
    let embedded: EmbeddedPostgres?

    func close() async {
        await conn.close()
        if let embedded { try? await embedded.stop() }
    }

    /// Runs `body`, then closes the connection and stops an embedded server this process started.
    func run<T>(_ body: (PGConnection) async throws -> T) async throws -> T {
        do {
            let value = try await body(conn)
            await close()
            return value
        } catch {
            await close()
            throw error
        }
    }
}
