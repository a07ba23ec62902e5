import CSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The dedicated OS thread of one SSH session, and the serial executor its `SSHConnection` actor
/// runs on.
///
/// Why its own thread: libssh2 calls must never run on Swift's cooperative pool, and one session's
/// handles must only ever be touched by one thread. The session runs libssh2 in non-blocking
/// mode; an operation that gets EAGAIN suspends (`wait`) and the thread, once it has no job to
/// run, sleeps in poll(2) on the session's socket, an eventfd that other threads use to wake it,
/// and the nearest deadline. A readable or writable socket resumes every suspended operation
/// (each simply retries its libssh2 call); a passed deadline resumes the one operation it belongs
/// to with `SSHWaitExpired`. So several channels make progress on one connection without a
/// blocked call holding up the others, and a deadline is honoured to the millisecond.
final class SSHEventLoop: SerialExecutor, @unchecked Sendable {
    /// Something the loop does between operations: keepalives and noticing a closed connection.
    protocol IdleWork: AnyObject {
        var nextIdleTick: ContinuousClock.Instant? { get }
        func idleTick()
        /// The socket became readable or hung up with no operation in flight.
        func idleSocketActivity()
    }

    private struct Waiter {
        let continuation: CheckedContinuation<Void, Error>
        let deadline: ContinuousClock.Instant
        let events: Int16  // poll(2) events on the socket; 0 waits for `nudge` only
    }

    let name: String
    private let wakeFD: Int32

    private let lock = NSLock()
    // Guarded by `lock`:
    private var jobs: [UnownedJob] = []
    private var cancelled: Set<UInt64> = []
    private var threadRunning = false
    private var stopping = false
    private var nextOperation: UInt64 = 0

    // Touched on the loop thread only:
    private var waiters: [UInt64: Waiter] = [:]
    /// The session's socket, or -1.
    var socket: Int32 = -1
    /// Whether an idle socket is watched for readability (switched off after unread data arrives,
    /// until the next operation reads it).
    var watchIdleSocket = true
    weak var idleWork: IdleWork?

    init(name: String) {
        self.name = name
        self.wakeFD = cssh2_wakeup_fd()
    }

    deinit {
        if wakeFD >= 0 { Glibc.close(wakeFD) }
    }

    /// A fresh id for an operation; cancellation is addressed by it.
    func newOperationID() -> UInt64 {
        lock.withLock {
            nextOperation += 1
            return nextOperation
        }
    }

    // MARK: SerialExecutor

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let start: Bool = lock.withLock {
            jobs.append(job)
            if threadRunning { return false }
            threadRunning = true
            return true
        }
        if start { startThread() } else { wake() }
    }

    // MARK: from any thread

    /// Resumes the operation's current (or next) wait with `CancellationError`.
    func cancel(operation: UInt64) {
        lock.withLock { _ = cancelled.insert(operation) }
        wake()
    }

    /// Lets the thread end once no job and no waiter is left. A job enqueued later starts a new
    /// thread, so a late caller is never stranded.
    func stop() {
        lock.withLock { stopping = true }
        wake()
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: on the loop thread

    /// Suspends the calling operation until the socket is ready for `events` (or, with 0, until
    /// the next `nudge`), any other socket activity, the deadline (`SSHWaitExpired`) or its
    /// cancellation. Must be called from the actor that runs on this executor.
    func wait(operation: UInt64, events: Int16, deadline: ContinuousClock.Instant,
              isolation: isolated (any Actor)) async throws {
        if events != 0 { watchIdleSocket = true }
        try await withCheckedThrowingContinuation(isolation: isolation) { (continuation: CheckedContinuation<Void, Error>) in
            if lock.withLock({ cancelled.contains(operation) }) {
                continuation.resume(throwing: CancellationError())
            } else {
                waiters[operation] = Waiter(continuation: continuation, deadline: deadline, events: events)
            }
        }
    }

    /// Resumes operations waiting for a nudge (a gate they queue for was released).
    func nudge() {
        for (id, waiter) in waiters where waiter.events == 0 {
            waiters[id] = nil
            waiter.continuation.resume()
        }
    }

    /// Resumes operations waiting for their socket: libssh2 read packets for them while serving
    /// another operation, and the socket will not signal those again.
    func resumeSocketWaiters() {
        for (id, waiter) in waiters where waiter.events != 0 {
            waiters[id] = nil
            waiter.continuation.resume()
        }
    }

    /// Forgets a finished operation's cancellation mark.
    func finished(operation: UInt64) {
        lock.withLock { _ = cancelled.remove(operation) }
    }

    /// Resumes every waiter with `error` (the connection is gone).
    func failAll(_ error: Error) {
        let all = waiters
        waiters.removeAll()
        for waiter in all.values { waiter.continuation.resume(throwing: error) }
    }

    private func startThread() {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.stackSize = 2 << 20
        thread.start()
    }

    private func loop() {
        while true {
            let (batch, cancels, exit): ([UnownedJob], Set<UInt64>, Bool) = lock.withLock {
                let batch = jobs
                jobs.removeAll(keepingCapacity: true)
                let cancels = cancelled
                if batch.isEmpty && stopping && waiters.isEmpty {
                    threadRunning = false
                    return (batch, cancels, true)
                }
                return (batch, cancels, false)
            }
            if exit { return }
            var resumed = false
            for id in cancels {
                if let waiter = waiters.removeValue(forKey: id) {
                    waiter.continuation.resume(throwing: CancellationError())
                    resumed = true
                }
            }
            if !batch.isEmpty {
                let executor = asUnownedSerialExecutor()
                for job in batch { job.runSynchronously(on: executor) }
                continue
            }
            if resumed { continue }
            pollOnce()
        }
    }

    private func pollOnce() {
        let now = ContinuousClock.now
        let expired = waiters.filter { $0.value.deadline <= now }
        if !expired.isEmpty {
            for (id, waiter) in expired {
                waiters[id] = nil
                waiter.continuation.resume(throwing: SSHWaitExpired())
            }
            return
        }

        var events: Int16 = 0
        for waiter in waiters.values { events |= waiter.events }
        let idle = waiters.isEmpty
        if idle && watchIdleSocket && idleWork != nil { events |= Int16(POLLIN) }

        var until = waiters.values.map(\.deadline).min()
        if idle, let tick = idleWork?.nextIdleTick { until = until.map { min($0, tick) } ?? tick }
        let timeout: Int32
        if let until {
            let remaining = now.duration(to: until)
            let ms = remaining.components.seconds * 1000 + (remaining.components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            timeout = Int32(clamping: max(0, ms))
        } else {
            timeout = -1
        }

        var fds = [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        if socket >= 0 && events != 0 { fds.append(pollfd(fd: socket, events: events, revents: 0)) }
        let rc = poll(&fds, nfds_t(fds.count), timeout)
        if rc < 0 { return }  // EINTR: go round again
        if fds[0].revents != 0 {
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
        }
        if fds.count > 1 && fds[1].revents != 0 {
            if idle {
                idleWork?.idleSocketActivity()
            } else {
                for (id, waiter) in waiters where waiter.events != 0 {
                    waiters[id] = nil
                    waiter.continuation.resume()
                }
            }
        }
        if waiters.isEmpty, let work = idleWork, let tick = work.nextIdleTick, tick <= .now {
            work.idleTick()
        }
    }
}

/// A wait reached its deadline; the operation turns it into the error that fits (a connect or
/// command timeout).
struct SSHWaitExpired: Error {}
