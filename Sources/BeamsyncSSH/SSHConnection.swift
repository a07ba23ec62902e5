import CSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One SSH connection. An actor whose executor is the session's own thread (`SSHEventLoop`), so
/// every libssh2 call it makes runs there and operations read as straight-line code: a call that
/// would block suspends the operation until the socket is ready, and other operations (other
/// channels) run meanwhile.
///
/// libssh2 keeps some request state per session rather than per channel, so three rules keep
/// interleaved operations correct:
///   - a half-written packet belongs to the call that started it; no other call may send until it
///     completes (`SSHTransport.exclusive`);
///   - opening a channel (and starting SFTP, which opens one) is one at a time (`openGate`);
///   - at most `maxConcurrentChannels` channels are open (`channelSlots`), below sshd's MaxSessions.
actor SSHConnection {
    nonisolated let loop: SSHEventLoop
    nonisolated let target: SSHTarget
    nonisolated let options: SSHSessionOptions
    let transport: SSHTransport
    private var openGateHolder: UInt64?
    /// Time spent in each connect step, kept also when the connect failed (for preflight reports).
    var stepTimings: [SSHStep: Duration] = [:]
    private var channelsInUse = 0

    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    init(target: SSHTarget, options: SSHSessionOptions) {
        let loop = SSHEventLoop(name: "beamsync-ssh \(target.endpoint)")
        self.loop = loop
        self.target = target
        self.options = options
        self.transport = SSHTransport(loop: loop)
    }

    var endpoint: String { target.endpoint }

    // MARK: calling libssh2

    /// Calls `body` with the session until it stops returning EAGAIN, suspending in between until
    /// the socket is ready. Returns the first other result; the caller judges it.
    func call<T>(_ operation: UInt64, _ deadline: ContinuousClock.Instant, _ body: (OpaquePointer) -> T,
                 wouldBlock: (T, OpaquePointer) -> Bool) async throws -> T {
        while true {
            try await turn(operation, deadline)
            let session = try transport.usableSession()
            let result = body(session)
            let done = !wouldBlock(result, session)
            afterCall(operation, completed: done)
            if done { return result }
            try await blocked(operation, deadline)
        }
    }

    /// Bookkeeping after every libssh2 call. If the call read from the socket, libssh2 may have
    /// buffered packets for other operations that are waiting on the socket: they look again.
    /// A call that completed no longer holds a half-written packet.
    func afterCall(_ operation: UInt64, completed: Bool) {
        if transport.receivedSinceLastLook() {
            transport.noteActivity()
            loop.resumeSocketWaiters()
        }
        if completed && transport.exclusive == operation {
            transport.exclusive = nil
            loop.nudge()
        }
    }

    /// `call` for functions returning a libssh2 status code.
    func call(_ operation: UInt64, _ deadline: ContinuousClock.Instant, _ body: (OpaquePointer) -> Int32) async throws -> Int32 {
        try await call(operation, deadline, body, wouldBlock: { rc, _ in rc == Libssh2.eagain })
    }

    /// `call` for functions returning a handle (NULL with EAGAIN as the last errno means "again").
    func call(_ operation: UInt64, _ deadline: ContinuousClock.Instant,
              _ body: (OpaquePointer) -> OpaquePointer?) async throws -> OpaquePointer? {
        try await call(operation, deadline, body, wouldBlock: { handle, session in
            handle == nil && Libssh2.lastErrno(session) == Libssh2.eagain
        })
    }

    /// Waits while another operation holds a half-written packet.
    func turn(_ operation: UInt64, _ deadline: ContinuousClock.Instant) async throws {
        while let holder = transport.exclusive, holder != operation {
            _ = try transport.usableSession()
            try await loop.wait(operation: operation, events: 0, deadline: deadline, isolation: self)
        }
    }

    /// After EAGAIN: waits until the socket is ready in the direction libssh2 is blocked on.
    func blocked(_ operation: UInt64, _ deadline: ContinuousClock.Instant) async throws {
        let session = try transport.usableSession()
        let directions = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
            events |= Int16(POLLOUT)
            transport.exclusive = operation
        } else if transport.exclusive == operation {
            transport.exclusive = nil
            loop.nudge()
        }
        if events == 0 { events = Int16(POLLIN) }
        do {
            try await loop.wait(operation: operation, events: events, deadline: deadline, isolation: self)
        } catch {
            if transport.exclusive == operation {
                // Nobody else can send until this packet is finished, and its owner gave up.
                transport.markBroken("an operation gave up halfway through sending a packet")
            }
            throw error
        }
    }

    /// Classifies a failed libssh2 call: a transport failure breaks the connection (and fails
    /// everyone waiting on it); anything else concerns this operation only. Returns libssh2's
    /// message.
    @discardableResult
    func failure(_ code: Int32) -> String {
        let message = transport.session.map(Libssh2.lastMessage) ?? ""
        let text = message.isEmpty ? "libssh2 error \(code)" : "\(message) [libssh2 error \(code)]"
        if Libssh2.isSessionFatal(code) { transport.markBroken(text) }
        return text
    }

    // MARK: gates

    /// Runs `body` as the only operation opening a channel. Giving up inside it (deadline,
    /// cancellation) leaves libssh2's per-session open state mid-request, so the connection is
    /// dropped rather than handed the stale state.
    func withOpenGate<T>(_ operation: UInt64, _ deadline: ContinuousClock.Instant,
                         _ body: () async throws -> T) async throws -> T {
        while openGateHolder != nil {
            _ = try transport.usableSession()
            try await loop.wait(operation: operation, events: 0, deadline: deadline, isolation: self)
        }
        openGateHolder = operation
        defer {
            openGateHolder = nil
            loop.nudge()
        }
        do {
            return try await body()
        } catch let error where error is SSHWaitExpired || error is CancellationError {
            transport.markBroken("a channel open was abandoned halfway")
            throw error
        }
    }

    func acquireChannel(_ operation: UInt64, _ deadline: ContinuousClock.Instant) async throws {
        while channelsInUse >= options.maxConcurrentChannels {
            _ = try transport.usableSession()
            try await loop.wait(operation: operation, events: 0, deadline: deadline, isolation: self)
        }
        channelsInUse += 1
    }

    func releaseChannel() {
        channelsInUse -= 1
        loop.nudge()
    }

    // MARK: closing

    /// Disconnects politely (bounded by `closeGrace`), frees everything and lets the thread end.
    func close() async {
        if !transport.isGone, transport.session != nil {
            let operation = loop.newOperationID()
            let deadline = ContinuousClock.now + options.closeGrace
            _ = try? await call(operation, deadline) { cssh2_session_disconnect($0, "beamsync: closing") }
            loop.finished(operation: operation)
        }
        transport.markClosed()
        loop.stop()
    }

    /// Drops the connection without a goodbye (connect failed halfway).
    func abort(_ reason: String) {
        transport.markBroken(reason)
        loop.stop()
    }
}
