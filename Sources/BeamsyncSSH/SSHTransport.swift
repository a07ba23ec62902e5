import CSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether a session can still be used, readable from any thread (the pool asks before reusing).
final class SSHSessionHealth: @unchecked Sendable {
    enum State: Equatable { case open, broken(String), closed }
    private let lock = NSLock()
    private var value: State = .open

    var state: State { lock.withLock { value } }

    func set(_ state: State) {
        lock.withLock {
            if value == .open || state == .closed { value = state }
        }
    }
}

/// The connection gone away under an operation: the operation turns it into
/// `SSHError.connectionLost` (saying whether its request was sent) or `.closed`.
struct SSHTransportGone: Error {
    let reason: String
    let closedByCaller: Bool
}

/// The socket and libssh2 session of one connection. Touched only on the session's loop thread
/// (by the `SSHConnection` actor and by the loop's idle work), hence `@unchecked Sendable`.
final class SSHTransport: SSHEventLoop.IdleWork, @unchecked Sendable {
    let loop: SSHEventLoop
    let health = SSHSessionHealth()
    private(set) var session: OpaquePointer?
    private(set) var socket: Int32 = -1
    private var goneReason: SSHTransportGone?
    /// The operation whose packet is half-written: libssh2 refuses (LIBSSH2_ERROR_BAD_USE) any
    /// other send until that same call completes, so everyone else waits for it.
    var exclusive: UInt64?
    private var keepaliveInterval: Duration = .zero
    private var lastActivity = ContinuousClock.now

    /// libssh2's receive counter (see `cssh2_counting_recv`), and the value last looked at.
    let counters: UnsafeMutablePointer<cssh2_counters>
    private var receivedSeen: UInt64 = 0

    init(loop: SSHEventLoop) {
        self.loop = loop
        counters = .allocate(capacity: 1)
        counters.initialize(to: cssh2_counters(received: 0))
    }

    deinit {
        counters.deallocate()
    }

    /// Whether libssh2 read from the socket since the last call of this.
    func receivedSinceLastLook() -> Bool {
        let now = counters.pointee.received
        defer { receivedSeen = now }
        return now != receivedSeen
    }

    func attach(socket: Int32) {
        self.socket = socket
        loop.socket = socket
    }

    func attach(session: OpaquePointer) {
        self.session = session
    }

    /// The session, or the reason there is none any more.
    func usableSession() throws -> OpaquePointer {
        if let goneReason { throw goneReason }
        guard let session else { throw SSHTransportGone(reason: "the session is not open", closedByCaller: false) }
        return session
    }

    func noteActivity() { lastActivity = .now }

    func startKeepalive(every interval: Duration) {
        guard let session, interval > .zero else { return }
        keepaliveInterval = interval
        libssh2_keepalive_config(session, 0, UInt32(max(2, interval.components.seconds)))
        lastActivity = .now
        loop.idleWork = self
    }

    /// Marks the connection dead, frees it and fails every waiting operation.
    func markBroken(_ reason: String) {
        guard goneReason == nil else { return }
        goneReason = SSHTransportGone(reason: reason, closedByCaller: false)
        health.set(.broken(reason))
        release()
        loop.failAll(goneReason!)
    }

    /// Ends the connection on the caller's request (after an orderly disconnect, if any).
    func markClosed() {
        if goneReason == nil { goneReason = SSHTransportGone(reason: "the session was closed", closedByCaller: true) }
        health.set(.closed)
        release()
        loop.failAll(goneReason!)
        loop.idleWork = nil
    }

    var isGone: Bool { goneReason != nil }

    /// Frees the libssh2 session and closes the socket. Shutting the socket down first makes any
    /// send libssh2 attempts while freeing fail at once instead of returning EAGAIN.
    private func release() {
        if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
        if let session {
            var attempts = 0
            while libssh2_session_free(session) == Libssh2.eagain && attempts < 100 { attempts += 1 }
            self.session = nil
        }
        if socket >= 0 {
            Glibc.close(socket)
            socket = -1
        }
        loop.socket = -1
        exclusive = nil
    }

    // MARK: IdleWork (on the loop thread, with no operation in flight)

    var nextIdleTick: ContinuousClock.Instant? {
        guard session != nil, goneReason == nil, keepaliveInterval > .zero else { return nil }
        return lastActivity + keepaliveInterval
    }

    func idleTick() {
        guard let session, exclusive == nil else { return }
        var next: Int32 = 0
        let rc = libssh2_keepalive_send(session, &next)
        lastActivity = .now
        if rc != 0 && rc != Libssh2.eagain {
            markBroken("a keepalive could not be sent: \(Libssh2.lastMessage(session))")
        }
    }

    func idleSocketActivity() {
        guard socket >= 0 else { return }
        var byte: UInt8 = 0
        let n = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n == 0 {
            markBroken("the server closed the connection")
        } else if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            markBroken("the connection failed: \(String(cString: strerror(errno)))")
        } else {
            // Unread SSH traffic (a global request or a keepalive reply): the next operation
            // reads it; until then stop watching, or poll would spin on it.
            loop.watchIdleSocket = false
        }
    }
}
