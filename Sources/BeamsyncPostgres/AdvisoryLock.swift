/// PostgreSQL advisory locks: cooperative named mutexes, e.g. leader election (a session lock
/// held on a dedicated connection; it vanishes when that session dies) or serialising writes to
/// one default-profile scope (a transaction lock).
extension PGConnection {
    public struct LockNotAcquired: Error, Sendable, CustomStringConvertible {
        public let key: Int64
        public var description: String { "advisory lock \(key) is held by another session" }
    }

    /// The lock key for a name, computed by the server as `hashtextextended(name, 0)`, the same
    /// function beampipe uses (e.g. `beampipe:default-profile:<module>`), so both tools contend
    /// for the same lock.
    public func advisoryLockKey(for name: String) async throws -> Int64 {
        try await query("SELECT hashtextextended($1, 0) AS key", [.text(name)], name: "advisory lock key").single().int64("key")
    }

    /// Session lock: held until `advisoryUnlock` or the session ends. With `wait: false`,
    /// returns false instead of waiting when another session holds it.
    @discardableResult
    public func advisoryLock(key: Int64, wait: Bool = true) async throws -> Bool {
        if wait {
            try await query("SELECT pg_advisory_lock($1)", [.int(key)], name: "pg_advisory_lock")
            return true
        }
        return try await query("SELECT pg_try_advisory_lock($1) AS ok", [.int(key)], name: "pg_try_advisory_lock")
            .single().bool("ok")
    }

    /// Releases one level of a session lock; false if this session did not hold it.
    @discardableResult
    public func advisoryUnlock(key: Int64) async throws -> Bool {
        try await query("SELECT pg_advisory_unlock($1) AS ok", [.int(key)], name: "pg_advisory_unlock").single().bool("ok")
    }

    /// Transaction lock: released automatically at COMMIT or ROLLBACK. Call inside `transaction`.
    @discardableResult
    public func advisoryXactLock(key: Int64, wait: Bool = true) async throws -> Bool {
        if wait {
            try await query("SELECT pg_advisory_xact_lock($1)", [.int(key)], name: "pg_advisory_xact_lock")
            return true
        }
        return try await query("SELECT pg_try_advisory_xact_lock($1) AS ok", [.int(key)], name: "pg_try_advisory_xact_lock")
            .single().bool("ok")
    }

    /// Runs `body` holding the session lock `key` and releases it afterwards, also on throw.
    /// With `wait: false`, throws `LockNotAcquired` when the lock is taken.
    @discardableResult
    public func withAdvisoryLock<T>(
        key: Int64,
        wait: Bool = true,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        guard try await advisoryLock(key: key, wait: wait) else { throw LockNotAcquired(key: key) }
        let value: T
        do {
            value = try await body(self)
        } catch {
            if !isBroken { _ = try? await advisoryUnlock(key: key) }
            throw error
        }
        try await advisoryUnlock(key: key)
        return value
    }

    /// `withAdvisoryLock` keyed by `advisoryLockKey(for: name)`.
    @discardableResult
    public func withAdvisoryLock<T>(
        named name: String,
        wait: Bool = true,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        let key = try await advisoryLockKey(for: name)
        return try await withAdvisoryLock(key: key, wait: wait, body)
    }
}
