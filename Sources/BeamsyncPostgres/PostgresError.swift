/// Every failure this module reports. Descriptions carry the server's diagnostics and the
/// statement's name but never the bound parameter values, which may hold user data or secrets.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case connectionFailed   // could not connect at all
        case connectionLost     // the session died mid-use; the connection is unusable
        case server             // the server answered with an error (see `sqlState`)
        case client             // libpq refused or failed locally (protocol, COPY, pipeline)
        case decoding           // a result column was missing, NULL or of an unexpected shape
        case usage              // the API was used wrongly (e.g. a closed connection)
    }

    public var kind: Kind
    /// Five-character SQLSTATE, e.g. `23505`; nil for errors raised before reaching the server.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    /// The failing statement's name: a caller-given label, else the start of its SQL text
    /// (SQL is always parameterised, so the text itself holds no values).
    public var statement: String?
    /// For `pipeline`: the index of the statement that failed.
    public var pipelineIndex: Int?

    public init(kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil,
                hint: String? = nil, constraint: String? = nil, statement: String? = nil,
                pipelineIndex: Int? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.statement = statement
        self.pipelineIndex = pipelineIndex
    }

    /// 23505: a UNIQUE constraint or unique index rejected the row (`constraint` names it).
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// 23503: a foreign key blocked the write (e.g. deleting a profile an execution references).
    public var isForeignKeyViolation: Bool { sqlState == "23503" }
    /// 40001 / 40P01: the transaction may succeed if retried from the start.
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }
    /// True when the session is gone and the connection must be replaced rather than reused.
    public var isConnectionLost: Bool {
        if kind == .connectionLost || kind == .connectionFailed { return true }
        guard let state = sqlState else { return false }
        // Class 08 is connection exceptions; 57P01-57P03 are admin/crash shutdowns.
        return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
    }

    public var description: String {
        var text = "PostgreSQL"
        if let sqlState { text += " error \(sqlState)" } else { text += " \(kind.rawValue) error" }
        if let statement { text += " in \(pipelineIndex.map { "pipeline statement #\($0) " } ?? "")\"\(statement)\"" }
        text += ": \(message)"
        if let detail { text += " (detail: \(detail))" }
        if let hint { text += " (hint: \(hint))" }
        return text
    }
}

extension PostgresError {
    static func usage(_ message: String) -> PostgresError { PostgresError(kind: .usage, message: message) }
    public static func decoding(_ message: String) -> PostgresError { PostgresError(kind: .decoding, message: message) }

    /// A short, value-free label for SQL text: whitespace collapsed, at most 80 characters.
    static func label(forSQL sql: String) -> String {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" })
        let joined = words.joined(separator: " ")
        return joined.count <= 80 ? joined : String(joined.prefix(77)) + "..."
    }
}
