import BeamsyncPostgres
import BeamsyncStore
import Foundation

/// Tells every replica's API cache that profiles changed, after the writes have committed, with
/// as few notifications as keep that true: at most one is being sent at a time, and every write
/// announced while one is on its way is covered by exactly one more.
///
/// Why not the trigger's notification: PostgreSQL commits one notifying transaction at a time, so
/// under concurrent writes every API write queued behind the others' commits. API sessions are
/// opened with `ProfileChangeNotices.announcedAfterCommit` and announce here instead; a lost
/// announcement (the process died in between) is caught by `APIChangeFeed`'s live-version check.
public final class ProfileChangeAnnouncer: @unchecked Sendable {
    private enum State { case idle, sending, sendingThenAgain }

    private let send: @Sendable () async throws -> Void
    private let onError: @Sendable (String) -> Void
    private let lock = NSLock()
    private var state = State.idle
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    public init(send: @escaping @Sendable () async throws -> Void, onError: @escaping @Sendable (String) -> Void = { _ in }) {
        self.send = send
        self.onError = onError
    }

    /// Announces through a session of `pool`.
    public convenience init(pool: PGPool, onError: @escaping @Sendable (String) -> Void = { _ in }) {
        self.init(send: {
            try await pool.withConnection { conn -> Void in
                try await conn.query(ProfileChangeNotices.announceSQL, name: "announce profile change")
            }
        },
                  onError: onError)
    }

    /// Call after a write committed; returns at once.
    public func announce() {
        let start: Bool = lock.withLock {
            switch state {
            case .idle: state = .sending; return true
            case .sending: state = .sendingThenAgain; return false
            case .sendingThenAgain: return false
            }
        }
        if start { Task { await self.sendUntilCaughtUp() } }
    }

    /// Returns once nothing is being sent (for tests).
    public func settled() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = lock.withLock {
                if state == .idle { return true }
                idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    private func sendUntilCaughtUp() async {
        while true {
            do { try await send() } catch { onError("\(error)") }
            let (again, waiters): (Bool, [CheckedContinuation<Void, Never>]) = lock.withLock {
                if state == .sendingThenAgain {
                    state = .sending
                    return (true, [])
                }
                state = .idle
                defer { idleWaiters = [] }
                return (false, idleWaiters)
            }
            guard again else {
                waiters.forEach { $0.resume() }
                return
            }
        }
    }
}
