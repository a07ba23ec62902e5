import BeamsyncOperations
import BeamsyncPostgres
import Foundation
import Logging

/// Leader election through a PostgreSQL advisory lock held on a dedicated session: the session
/// that holds `beamsync:leader` applies; the others wait. When the leader's process or connection
/// dies, PostgreSQL releases the lock and a follower takes it within one retry interval.
public actor LeaderElection {
    public static let lockName = "beamsync:leader"

    private let conninfo: String
    private let retryInterval: Duration
    private let logger: Logger
    private var connection: PGConnection?
    private var key: Int64?
    public private(set) var isLeader = false
    private let onChange: @Sendable (Bool) -> Void

    public init(conninfo: String, retryInterval: Duration = .seconds(2), logger: Logger,
                onChange: @escaping @Sendable (Bool) -> Void = { _ in }) {
        self.conninfo = conninfo
        self.retryInterval = retryInterval
        self.logger = logger
        self.onChange = onChange
    }

    /// Tries to become (or stay) leader; returns whether this replica leads now. A leader checks
    /// that its session is still alive, since a dropped session has silently lost the lock.
    @discardableResult
    public func check() async -> Bool {
        do {
            let conn: PGConnection
            if let existing = connection, !existing.isBroken {
                conn = existing
            } else {
                if isLeader { setLeader(false, reason: "lock session lost") }
                conn = try await PGConnection.connect(conninfo: conninfo, overrides: ["application_name": "beamsync-leader"])
                connection = conn
                key = try await conn.advisoryLockKey(for: Self.lockName)
            }
            if isLeader {
                _ = try await conn.query("SELECT 1")
                return true
            }
            if try await conn.advisoryLock(key: key!, wait: false) {
                setLeader(true, reason: "lock acquired")
            }
        } catch {
            if isLeader { setLeader(false, reason: SecretRedaction.redact("lock session failed: \(error)")) }
            await connection?.close()
            connection = nil
        }
        return isLeader
    }

    /// Gives the lock up (graceful shutdown), so a follower takes over at once.
    public func resign() async {
        if isLeader, let conn = connection, let key {
            _ = try? await conn.advisoryUnlock(key: key)
        }
        await connection?.close()
        connection = nil
        if isLeader { setLeader(false, reason: "resigned") }
    }

    private func setLeader(_ value: Bool, reason: String) {
        isLeader = value
        logger.info(value ? "became leader" : "lost leadership", metadata: ["reason": .string(reason)])
        onChange(value)
    }

    public var interval: Duration { retryInterval }
}
