import CPostgres

extension PGConnection {
    /// Bulk-inserts `rows` with `COPY table (columns) FROM STDIN` in text format. Much faster than
    /// INSERTs for thousands of rows. `table` may be schema-qualified (`schema.table`); each part
    /// and every column is quoted. Returns the number of rows copied.
    @discardableResult
    public func copyIn(table: String, columns: [String], rows: [[PGValue?]]) async throws -> Int {
        for (i, row) in rows.enumerated() where row.count != columns.count {
            throw PostgresError.usage("copyIn row \(i) has \(row.count) values for \(columns.count) columns")
        }
        let target = table.split(separator: ".").map { PGConnection.quoteIdentifier(String($0)) }.joined(separator: ".")
        let columnList = columns.map(PGConnection.quoteIdentifier).joined(separator: ", ")
        let sql = "COPY \(target) (\(columnList)) FROM STDIN"
        let label = "COPY \(table)"
        return try await onThread { conn in
            guard let start = PQexec(conn, sql) else { throw PGHandle.connectionError(conn, statement: label) }
            guard PQresultStatus(start) == PGRES_COPY_IN else {
                defer { PQclear(start) }
                _ = try PGHandle.decode(start, conn: conn, statement: label)
                throw PostgresError(kind: .client, message: "server did not enter COPY IN", statement: label)
            }
            PQclear(start)
            var sendFailed = false
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 16)
            func flush() {
                guard !buffer.isEmpty, !sendFailed else { return }
                let ok = buffer.withUnsafeBufferPointer { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(conn, $0.baseAddress, Int32($0.count)) }
                }
                if ok != 1 { sendFailed = true }
                buffer.removeAll(keepingCapacity: true)
            }
            for row in rows {
                COPYText.appendLine(row, to: &buffer)
                if buffer.count >= 1 << 16 { flush() }
            }
            flush()
            if !sendFailed, PQputCopyEnd(conn, nil) != 1 { sendFailed = true }
            if sendFailed { throw PGHandle.connectionError(conn, statement: label) }
            // The COPY's outcome, then libpq signals the end with NULL.
            var copied = 0
            var failure: Error?
            while let result = PQgetResult(conn) {
                do { copied = try PGHandle.decode(result, conn: conn, statement: label).affectedRows }
                catch { failure = failure ?? error }
                PQclear(result)
            }
            if let failure { throw failure }
            return copied
        }
    }
}

/// COPY's text format: columns split by tab, rows by newline, `\N` is NULL, and backslash,
/// tab, newline and carriage return inside values are backslash-escaped.
enum COPYText {
    static func appendLine(_ row: [PGValue?], to buffer: inout [UInt8]) {
        for (i, value) in row.enumerated() {
            if i > 0 { buffer.append(0x09) }
            guard let value else {
                buffer.append(contentsOf: [0x5C, 0x4E])  // \N
                continue
            }
            for byte in value.textValue.utf8 {
                switch byte {
                case 0x5C: buffer.append(contentsOf: [0x5C, 0x5C])  // \\
                case 0x09: buffer.append(contentsOf: [0x5C, 0x74])  // \t
                case 0x0A: buffer.append(contentsOf: [0x5C, 0x6E])  // \n
                case 0x0D: buffer.append(contentsOf: [0x5C, 0x72])  // \r
                default: buffer.append(byte)
                }
            }
        }
        buffer.append(0x0A)
    }
}
