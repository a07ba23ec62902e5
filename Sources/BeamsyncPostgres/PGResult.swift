import Foundation

/// The rows of one statement, copied out of libpq's `PGresult` on the connection thread so the
/// value is plain Sendable data. Values are the server's text output (NULL is nil).
public struct PGResult: Sendable {
    public let columns: [String]
    /// Column type OIDs, in column order.
    public let columnTypes: [UInt32]
    public let rows: [PGRow]
    /// The command tag, e.g. `INSERT 0 1` or `UPDATE 3`.
    public let commandTag: String
    /// Rows affected by INSERT/UPDATE/DELETE/COPY etc., 0 when not applicable.
    public let affectedRows: Int

    init(columns: [String], columnTypes: [UInt32], values: [[String?]], commandTag: String, affectedRows: Int) {
        self.columns = columns
        self.columnTypes = columnTypes
        var index: [String: Int] = [:]
        for (i, name) in columns.enumerated() where index[name] == nil { index[name] = i }
        let shared = PGRow.Columns(names: columns, index: index)
        self.rows = values.map { PGRow(columns: shared, values: $0) }
        self.commandTag = commandTag
        self.affectedRows = affectedRows
    }

    public var isEmpty: Bool { rows.isEmpty }
    public var count: Int { rows.count }
    public var first: PGRow? { rows.first }

    /// The only row; throws when there is none or more than one.
    public func single() throws -> PGRow {
        guard rows.count == 1 else {
            throw PostgresError.decoding("expected exactly one row, got \(rows.count)")
        }
        return rows[0]
    }
}

/// One result row. Typed accessors look columns up by name and throw a `.decoding` error that
/// names the column when it is missing, NULL (for non-optional accessors) or malformed.
public struct PGRow: Sendable {
    final class Columns: Sendable {
        let names: [String]
        let index: [String: Int]
        init(names: [String], index: [String: Int]) { self.names = names; self.index = index }
    }

    let columns: Columns
    public let values: [String?]

    /// The raw text of a column, nil for SQL NULL.
    public func raw(_ name: String) throws -> String? {
        guard let i = columns.index[name] else {
            throw PostgresError.decoding("result has no column \"\(name)\" (columns: \(columns.names.joined(separator: ", ")))")
        }
        return values[i]
    }

    private func required(_ name: String) throws -> String {
        guard let value = try raw(name) else { throw PostgresError.decoding("column \"\(name)\" is NULL") }
        return value
    }

    private func convert<T>(_ name: String, _ type: String, _ parse: (String) -> T?) throws -> T? {
        guard let text = try raw(name) else { return nil }
        guard let value = parse(text) else {
            // The value itself is left out: it may be data we must not log.
            throw PostgresError.decoding("column \"\(name)\" is not a valid \(type)")
        }
        return value
    }

    private func nonNull<T>(_ name: String, _ value: T?) throws -> T {
        guard let value else { throw PostgresError.decoding("column \"\(name)\" is NULL") }
        return value
    }

    public func string(_ name: String) throws -> String { try required(name) }
    public func optionalString(_ name: String) throws -> String? { try raw(name) }

    public func int(_ name: String) throws -> Int { try nonNull(name, optionalInt(name)) }
    public func optionalInt(_ name: String) throws -> Int? { try convert(name, "integer") { Int($0) } }
    public func int64(_ name: String) throws -> Int64 { try nonNull(name, optionalInt64(name)) }
    public func optionalInt64(_ name: String) throws -> Int64? { try convert(name, "bigint") { Int64($0) } }

    public func bool(_ name: String) throws -> Bool { try nonNull(name, optionalBool(name)) }
    public func optionalBool(_ name: String) throws -> Bool? {
        try convert(name, "boolean") { $0 == "t" ? true : $0 == "f" ? false : nil }
    }

    public func double(_ name: String) throws -> Double { try nonNull(name, optionalDouble(name)) }
    public func optionalDouble(_ name: String) throws -> Double? {
        try convert(name, "double") { text in
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default: return Double(text)
            }
        }
    }

    public func uuid(_ name: String) throws -> UUID { try nonNull(name, optionalUUID(name)) }
    public func optionalUUID(_ name: String) throws -> UUID? { try convert(name, "uuid") { UUID(uuidString: $0) } }

    /// `timestamptz` column (connections use DateStyle=ISO).
    public func date(_ name: String) throws -> Date { try nonNull(name, optionalDate(name)) }
    public func optionalDate(_ name: String) throws -> Date? { try convert(name, "timestamp") { PGTimestamp.parse($0) } }

    /// json/jsonb column as its text. jsonb text is normalised by the server (key order, spacing).
    public func json(_ name: String) throws -> String { try required(name) }
    public func optionalJSON(_ name: String) throws -> String? { try raw(name) }

    /// The column decoded with Foundation's JSONDecoder.
    public func decodeJSON<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let text = try required(name)
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw PostgresError.decoding("column \"\(name)\" does not decode as \(T.self)")
        }
    }

    public func isNull(_ name: String) throws -> Bool { try raw(name) == nil }
}
