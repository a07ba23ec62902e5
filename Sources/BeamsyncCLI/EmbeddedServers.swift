import BeamsyncPostgres
import Dispatch
import Foundation

/// The embedded PostgreSQL this process uses, given up on every exit but SIGKILL: at the end of
/// `BeamsyncMain.run` (success or error), and on SIGINT, SIGTERM or SIGHUP, after which the
/// process ends by the same signal. Giving it up stops the server unless another beamsync process
/// still uses it (`EmbeddedPostgres.stop`). A SIGKILLed command leaves it running; the next
/// command finds it and stops it when it ends.
enum EmbeddedServers {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var servers: [EmbeddedPostgres] = []      // guarded by `lock`
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []  // guarded by `lock`
    /// Set once `beamsync run`'s service group handles the signals itself (guarded by `lock`).
    nonisolated(unsafe) private static var signalsHandedOver = false

    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Call before `server.start()`, so a signal during the start still stops what it starts.
    static func register(_ server: EmbeddedPostgres) {
        lock.withLock {
            servers.append(server)
            guard sources.isEmpty else { return }
            for signo in signals {
                signal(signo, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
                source.setEventHandler { handle(signo) }
                source.resume()
                sources.append(source)
            }
        }
    }

    /// From now on the caller ends the process on SIGINT and SIGTERM (`beamsync run`: its service
    /// group shuts down in order and then stops the server through `releaseAll`).
    static func handOverSignals() {
        lock.withLock { signalsHandedOver = true }
    }

    /// Gives up every server this process uses; blocks until each has stopped (or is left to
    /// another process still using it).
    static func releaseAll() {
        let all = lock.withLock { () -> [EmbeddedPostgres] in defer { servers = [] }; return servers }
        for server in all { server.stopNow() }
    }

    private static func handle(_ signo: Int32) {
        if lock.withLock({ signalsHandedOver }) && signo != SIGHUP { return }
        releaseAll()
        // End as the signal would have ended us (exit status 128 + signo in a shell): default
        // action, unblocked on this thread (the signal source may block it), sent to this thread.
        signal(signo, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signo)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(signo)
        _exit(128 + signo)
    }
}
