import CPostgres

extension PGConnection {
    /// Sends all statements in libpq pipeline mode (one network round trip instead of one per
    /// statement) and returns their results in order. The batch ends with one Sync, so outside
    /// an explicit transaction it is atomic: if any statement fails, the server rolls back the
    /// whole batch, skips the rest, and this throws the failure with `pipelineIndex` set.
    public func pipeline(_ statements: [(sql: String, params: [PGValue?])]) async throws -> [PGResult] {
        if statements.isEmpty { return [] }
        let batch = statements.map { PipelineStatement(sql: $0.sql, params: $0.params) }
        return try await onThread { conn in try PipelineRun(conn: conn, batch: batch).run() }
    }
}

struct PipelineStatement: Sendable {
    let sql: String
    let params: [PGValue?]
}

/// One pipeline execution on the connection thread.
private struct PipelineRun {
    let conn: OpaquePointer
    let batch: [PipelineStatement]

    func run() throws -> [PGResult] {
        guard PQenterPipelineMode(conn) == 1 else {
            throw PostgresError(kind: .client, message: "cannot enter pipeline mode: \(PGHandle.errorMessage(conn) ?? "busy")")
        }
        var sent = 0
        var sendError: PostgresError?
        for statement in batch {
            let ok = PGParams.with(statement.params) { count, types, values in
                PQsendQueryParams(conn, statement.sql, count, types, values, nil, nil, 0)
            }
            guard ok == 1 else {
                sendError = PGHandle.connectionError(conn, statement: PostgresError.label(forSQL: statement.sql))
                sendError?.pipelineIndex = sent
                break
            }
            sent += 1
        }
        if PQpipelineSync(conn) != 1 {
            throw PGHandle.connectionError(conn, statement: "pipeline sync")
        }
        // Drain every sent statement's result even after a failure, so the session ends the
        // batch idle and can leave pipeline mode.
        var results: [PGResult] = []
        results.reserveCapacity(sent)
        var firstError: Error? = sendError
        for index in 0..<sent {
            let label = PostgresError.label(forSQL: batch[index].sql)
            guard let result = PQgetResult(conn) else { throw PGHandle.connectionError(conn, statement: label) }
            if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                PQclear(result)
            } else {
                do { results.append(try PGHandle.decode(result, conn: conn, statement: label, pipelineIndex: index)) }
                catch { if firstError == nil { firstError = error } }
                PQclear(result)
            }
            // Each statement's results end with a NULL.
            while let extra = PQgetResult(conn) { PQclear(extra) }
        }
        if let sync = PQgetResult(conn) {
            let status = PQresultStatus(sync)
            PQclear(sync)
            if status != PGRES_PIPELINE_SYNC, firstError == nil {
                firstError = PostgresError(kind: .client, message: "pipeline did not end with a sync point")
            }
        }
        if PQexitPipelineMode(conn) != 1, firstError == nil {
            firstError = PGHandle.connectionError(conn, statement: "exit pipeline mode")
        }
        if let firstError { throw firstError }
        return results
    }
}

extension PGConnection {
    public typealias Statement = (sql: String, params: [PGValue?])

    /// A transaction in two round trips: `reads` go out with BEGIN; `decide` looks at their
    /// results (in order) and returns the writes, which go out with COMMIT, and the value to
    /// return. If `decide` throws or a statement fails, the transaction is rolled back.
    public func twoStepTransaction<T>(reads: [Statement], decide: ([PGResult]) throws -> (writes: [Statement], value: T)) async throws -> T {
        if isInTransaction {
            throw PostgresError.usage("twoStepTransaction() called while a transaction is already open on this connection")
        }
        do {
            let results = try await pipeline([("BEGIN", [])] + reads)
            let (writes, value) = try decide(Array(results.dropFirst()))
            _ = try await pipeline(writes + [("COMMIT", [])])
            return value
        } catch {
            await rollbackQuietly()
            throw error
        }
    }
}
