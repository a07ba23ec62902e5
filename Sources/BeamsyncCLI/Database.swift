import ArgumentParser
import BeamsyncPostgres
import Foundation

/// Where the state lives: `DATABASE_URL` (a libpq conninfo string or URI; libpq's PG* variables
/// work as usual), or, when it is unset, a private PostgreSQL under `$BEAMSYNC_HOME` that beamsync
/// starts (or joins) and stops when this process exits (`EmbeddedServers`).
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "libpq conninfo or postgresql:// URI (default: $DATABASE_URL, else an embedded PostgreSQL).")
    var databaseURL: String?

    func connect() async throws -> DatabaseSession {
        let (conninfo, embedded) = try await resolve()
        return DatabaseSession(conn: try await PGConnection.connect(conninfo: conninfo), embedded: embedded)
    }

    /// The conninfo to use, starting or joining the embedded server when DATABASE_URL is unset
    /// (the returned server is the one to give up afterwards).
    func resolve() async throws -> (conninfo: String, embedded: EmbeddedPostgres?) {
        let env = ProcessInfo.processInfo.environment
        if let url = databaseURL ?? env["DATABASE_URL"], !url.isEmpty { return (url, nil) }
        let embedded = EmbeddedPostgres(environment: env)
        EmbeddedServers.register(embedded)
        let started = try await embedded.start()
        Notes.info(started.message)
        return (started.conninfo, embedded)
    }
}

/// An open connection, and the embedded server to give up when done.
struct DatabaseSession {
    let conn: PGConnection
    let embedded: EmbeddedPostgres?

    func close() async {
        await conn.close()
        if let embedded { try? await embedded.stop() }
    }

    /// Runs `body`, then closes the connection and gives up the embedded server.
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
