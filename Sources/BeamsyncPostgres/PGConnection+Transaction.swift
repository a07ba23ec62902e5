extension PGConnection {
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` inside BEGIN ... COMMIT. A thrown error (or a failed COMMIT) rolls the
    /// transaction back and is rethrown unchanged. Runs in the caller's isolation, so `body` may
    /// touch the caller's actor state.
    @discardableResult
    public func transaction<T>(
        isolation level: IsolationLevel? = nil,
        actorIsolation: isolated (any Actor)? = #isolation,
        _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        if isInTransaction {
            throw PostgresError.usage("transaction() called while a transaction is already open on this connection")
        }
        try await execute(level.map { "BEGIN ISOLATION LEVEL \($0.rawValue)" } ?? "BEGIN")
        let value: T
        do {
            value = try await body(self)
        } catch {
            await rollbackQuietly()
            throw error
        }
        do {
            try await execute("COMMIT")
        } catch {
            await rollbackQuietly()
            throw error
        }
        return value
    }

    /// ROLLBACK when a transaction is open; the original error matters more than a failure here
    /// (on a lost connection the server has already rolled back).
    func rollbackQuietly() async {
        guard isInTransaction, !isBroken else { return }
        _ = try? await execute("ROLLBACK")
    }
}
