import BeamsyncTime
import CPostgres
import Foundation

/// A LISTEN/NOTIFY message.
public struct PGNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    /// The notifying session's backend process id.
    public let senderPID: Int32
}

extension PGConnection {
    /// Subscribes this session to `channel`. Notifications queue up in libpq until
    /// `waitForNotification` reads them; they are only delivered while no transaction is open.
    public func listen(_ channel: String) async throws {
        try await execute("LISTEN \(PGConnection.quoteIdentifier(channel))", name: "LISTEN")
    }

    public func unlisten(_ channel: String) async throws {
        try await execute("UNLISTEN \(PGConnection.quoteIdentifier(channel))", name: "UNLISTEN")
    }

    /// Sends a notification (delivered when the surrounding transaction, if any, commits).
    public func notify(_ channel: String, payload: String = "") async throws {
        try await query("SELECT pg_notify($1, $2)", [.text(channel), .text(payload)], name: "NOTIFY")
    }

    /// The next notification, waiting up to `timeout`; nil when none arrived in time.
    /// Blocks only this connection's thread (poll on the socket); a cancelled task stops waiting
    /// within ~100 ms and gets `CancellationError`.
    public func waitForNotification(timeout: Duration) async throws -> PGNotification? {
        let handle = self.handle
        let deadline = ContinuousClock.now + timeout
        return try await onThread { conn in
            while true {
                if PQconsumeInput(conn) == 0 { throw PGHandle.connectionError(conn, statement: "LISTEN wait") }
                if let note = PQnotifies(conn) {
                    defer { PQfreemem(note) }
                    return PGNotification(channel: String(cString: note.pointee.relname),
                                          payload: String(cString: note.pointee.extra),
                                          senderPID: note.pointee.be_pid)
                }
                if handle.cancelRequested { throw CancellationError() }
                let remaining = ContinuousClock.now.duration(to: deadline)
                if remaining <= .zero { return nil }
                let sliceMS = Int32(min(100, max(1, remaining.inMilliseconds)))
                var fd = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
                if poll(&fd, 1, sliceMS) < 0 && errno != EINTR {
                    throw PostgresError(kind: .connectionLost, message: "poll on the PostgreSQL socket failed (errno \(errno))")
                }
            }
        }
    }
}
