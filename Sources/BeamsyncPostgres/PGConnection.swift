import CPostgres
import Foundation

/// One PostgreSQL session over libpq.
///
/// Every libpq call runs on the connection's own `BlockingThread`, never on the cooperative pool.
/// A connection serves one task at a time (a transaction spans several calls, so interleaving
/// two tasks on one session would mix their statements); share connections through `PGPool`.
public final class PGConnection: @unchecked Sendable {
    let thread: BlockingThread
    let handle: PGHandle

    private init(thread: BlockingThread, handle: PGHandle) {
        self.thread = thread
        self.handle = handle
    }

    deinit {
        let handle = self.handle
        thread.submit { handle.close() }
        thread.stop()
    }

    /// Connects with a libpq conninfo string (`host=... dbname=...`) or a `postgresql://` URI,
    /// passed to libpq unchanged, so `PG*` environment variables and service files work as
    /// usual; an empty string means "everything from the environment". `overrides` (libpq
    /// keywords) win over the string, e.g. `["dbname": "other"]`. `application_name` defaults to
    /// `beamsync` unless the string or `PGAPPNAME` sets one.
    public static func connect(conninfo: String, overrides: [String: String] = [:]) async throws -> PGConnection {
        let thread = BlockingThread(name: "beamsync-postgres")
        let handle = PGHandle()
        do {
            try await thread.run { try handle.open(conninfo: conninfo, overrides: overrides) }
        } catch {
            thread.submit { handle.close() }
            thread.stop()
            throw error
        }
        return PGConnection(thread: thread, handle: handle)
    }

    /// Closes the session now (otherwise it closes when the last reference goes away).
    public func close() async {
        _ = try? await thread.run { [handle] in handle.close() }
    }

    /// True once the session is closed or libpq reports it broken; such a connection is useless.
    public var isBroken: Bool { handle.state.isBroken }

    /// True while a transaction block is open (or failed and not yet rolled back).
    public var isInTransaction: Bool { handle.state.isInTransaction }

    /// Server-side process id of this session (for `pg_terminate_backend` in tests and ops).
    public var backendPID: Int32 { handle.state.backendPID }

    // MARK: - Statements

    /// Runs one parameterised statement (`$1`, `$2`, ... placeholders; values sent separately,
    /// never spliced into SQL). `name` labels the statement in errors; default: its SQL text.
    @discardableResult
    public func query(_ sql: String, _ params: [PGValue?] = [], name: String? = nil) async throws -> PGResult {
        let label = name ?? PostgresError.label(forSQL: sql)
        return try await onThread { conn in
            let result = PGParams.with(params) { count, types, values in
                PQexecParams(conn, sql, count, types, values, nil, nil, 0)
            }
            return try PGHandle.consume(result, conn: conn, statement: label)
        }
    }

    /// Runs SQL text that may hold several statements (DDL, migrations) without parameters.
    /// Returns the last statement's result.
    @discardableResult
    public func execute(_ sql: String, name: String? = nil) async throws -> PGResult {
        let label = name ?? PostgresError.label(forSQL: sql)
        return try await onThread { conn in
            try PGHandle.consume(PQexec(conn, sql), conn: conn, statement: label)
        }
    }

    /// Quotes an identifier (table, column, channel) for splicing into SQL text.
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: - Thread plumbing

    /// Runs `body` with the raw `PGconn*` on this connection's thread. A cancelled task asks the
    /// server to cancel the running statement (PQcancel is safe to call from another thread).
    func onThread<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        let handle = self.handle
        PGCallCounter.shared.increment()
        return try await withTaskCancellationHandler {
            try await thread.run {
                guard let conn = handle.conn else { throw PostgresError.usage("the connection is closed") }
                defer { handle.refreshState() }
                return try body(conn)
            }
        } onCancel: {
            handle.cancelRunningStatement()
        }
    }
}
