import CPostgres
import Foundation

/// Owner of the raw `PGconn*`. `conn` is read and written only on the connection's thread; the
/// snapshot in `state` and the cancel object are lock-protected for other threads.
final class PGHandle: @unchecked Sendable {
    struct State {
        var isBroken = true
        var isInTransaction = false
        var backendPID: Int32 = 0
    }

    private(set) var conn: OpaquePointer?
    private let lock = NSLock()
    private var _state = State()
    private var cancelObject: OpaquePointer?  // PGcancel*, guarded by `lock`
    /// Set by a cancelled task; long waits (notifications) poll it between slices.
    private var _cancelRequested = false

    var state: State { lock.withLock { _state } }

    func open(conninfo: String, overrides: [String: String]) throws {
        // Keyword order matters: libpq lets later entries override earlier ones, and the
        // `dbname` entry is expanded into the whole conninfo/URI (expand_dbname = 1). So the
        // fallback name comes first, the caller's string next, then our forced settings.
        var pairs: [(String, String)] = [("fallback_application_name", "beamsync"), ("dbname", conninfo)]
        pairs.append(("client_encoding", "UTF8"))  // results are decoded as UTF-8
        for key in overrides.keys.sorted() { pairs.append((key, overrides[key]!)) }
        let keys = pairs.map { strdup($0.0) } + [nil]
        let values = pairs.map { strdup($0.1) } + [nil]
        defer { (keys + values).forEach { free($0) } }
        let raw = keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 1)
            }
        }
        guard let raw else { throw PostgresError(kind: .connectionFailed, message: "out of memory creating a libpq connection") }
        guard PQstatus(raw) == CONNECTION_OK else {
            let message = Self.errorMessage(raw) ?? "connection failed"
            PQfinish(raw)
            throw PostgresError(kind: .connectionFailed, message: message,
                                hint: "check DATABASE_URL (a libpq conninfo string or postgresql:// URI) and the PG* environment")
        }
        conn = raw
        cpg_silence_notices(raw)
        // Timestamps are decoded from ISO text, so insist on it (it is the server default).
        if let style = PQparameterStatus(raw, "DateStyle"), !String(cString: style).hasPrefix("ISO") {
            _ = try PGHandle.consume(PQexec(raw, "SET DateStyle TO ISO"), conn: raw, statement: "SET DateStyle")
        }
        lock.withLock { cancelObject = PQgetCancel(raw) }
        refreshState()
    }

    func close() {
        lock.withLock {
            if let cancelObject { PQfreeCancel(cancelObject) }
            cancelObject = nil
            _state.isBroken = true
        }
        if let conn { PQfinish(conn) }
        conn = nil
    }

    func refreshState() {
        guard let conn else { return }
        let status = PQstatus(conn)
        let tx = PQtransactionStatus(conn)
        let pid = PQbackendPID(conn)
        lock.withLock {
            _state.isBroken = status != CONNECTION_OK
            _state.isInTransaction = tx == PQTRANS_INTRANS || tx == PQTRANS_INERROR || tx == PQTRANS_ACTIVE
            _state.backendPID = pid
            _cancelRequested = false
        }
    }

    /// Called from any thread when the task waiting on this connection is cancelled.
    func cancelRunningStatement() {
        lock.withLock {
            _cancelRequested = true
            guard let cancelObject else { return }
            var buffer = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancelObject, &buffer, Int32(buffer.count))
        }
    }

    var cancelRequested: Bool { lock.withLock { _cancelRequested } }

    // MARK: - Results and errors

    /// Turns a `PGresult*` into a `PGResult` or throws its error; always clears it.
    static func consume(_ result: OpaquePointer?, conn: OpaquePointer, statement: String, pipelineIndex: Int? = nil) throws -> PGResult {
        guard let result else { throw connectionError(conn, statement: statement) }
        defer { PQclear(result) }
        return try decode(result, conn: conn, statement: statement, pipelineIndex: pipelineIndex)
    }

    /// Like `consume` but leaves clearing to the caller.
    static func decode(_ result: OpaquePointer, conn: OpaquePointer, statement: String, pipelineIndex: Int? = nil) throws -> PGResult {
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return rows(of: result)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw serverError(result, conn: conn, statement: statement, pipelineIndex: pipelineIndex)
        default:
            let status = String(cString: PQresStatus(PQresultStatus(result)))
            throw PostgresError(kind: .client, message: "unexpected result status \(status)",
                                statement: statement, pipelineIndex: pipelineIndex)
        }
    }

    static func rows(of result: OpaquePointer) -> PGResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var names: [String] = []
        var types: [UInt32] = []
        for c in 0..<columnCount {
            names.append(String(cString: PQfname(result, Int32(c))))
            types.append(PQftype(result, Int32(c)))
        }
        var values: [[String?]] = []
        values.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            var row: [String?] = []
            row.reserveCapacity(columnCount)
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    row.append(nil)
                } else {
                    row.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                }
            }
            values.append(row)
        }
        let tag = String(cString: PQcmdStatus(result))
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PGResult(columns: names, columnTypes: types, values: values, commandTag: tag, affectedRows: affected)
    }

    static func serverError(_ result: OpaquePointer, conn: OpaquePointer, statement: String, pipelineIndex: Int?) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(cpg_diag_sqlstate())
        let lost = PQstatus(conn) != CONNECTION_OK
        let message = field(cpg_diag_message_primary())
            ?? trimmed(String(cString: PQresultErrorMessage(result)))
            ?? errorMessage(conn) ?? "unknown error"
        return PostgresError(kind: lost ? .connectionLost : (sqlState == nil ? .client : .server),
                             sqlState: sqlState, message: message,
                             detail: field(cpg_diag_message_detail()), hint: field(cpg_diag_message_hint()),
                             constraint: field(cpg_diag_constraint_name()), statement: statement,
                             pipelineIndex: pipelineIndex)
    }

    static func connectionError(_ conn: OpaquePointer, statement: String?) -> PostgresError {
        let lost = PQstatus(conn) != CONNECTION_OK
        return PostgresError(kind: lost ? .connectionLost : .client,
                             message: errorMessage(conn) ?? "libpq returned no result", statement: statement)
    }

    static func errorMessage(_ conn: OpaquePointer) -> String? {
        guard let text = PQerrorMessage(conn) else { return nil }
        return trimmed(String(cString: text))
    }

    private static func trimmed(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }
}

/// Parameter arrays in the shape PQexecParams / PQsendQueryParams want.
enum PGParams {
    static func with<R>(_ params: [PGValue?], _ body: (Int32, UnsafePointer<UInt32>?, UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let types = params.map { $0?.typeOID ?? 0 }
        let values: [UnsafeMutablePointer<CChar>?] = params.map { $0.map { strdup($0.textValue) } ?? nil }
        defer { values.forEach { free($0) } }
        let constValues = values.map { UnsafePointer($0) }
        return types.withUnsafeBufferPointer { t in
            constValues.withUnsafeBufferPointer { v in
                body(Int32(params.count), t.baseAddress, v.baseAddress)
            }
        }
    }
}
