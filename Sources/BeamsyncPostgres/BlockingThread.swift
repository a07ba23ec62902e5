import Foundation

/// A serial executor backed by one dedicated OS thread and a FIFO work queue.
///
/// libpq calls block (network round trips, `poll`), and so does waiting for a child process.
/// Running them on Swift's cooperative pool would starve every other task on our 2 cores, and
/// `DispatchQueue.global` offers no thread affinity. Each `PGConnection` therefore owns one of
/// these; its `PGconn*` is only ever touched from this thread.
final class BlockingThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []  // guarded by `condition`
    private var head = 0                           // index of the next job; avoids O(n) removeFirst
    private var stopping = false                   // guarded by `condition`

    init(name: String) {
        // The thread's closure retains `self` until the loop exits, so the queue outlives callers.
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    /// Enqueues `job`; jobs run one at a time in submission order.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on the thread and resumes the caller with its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Lets already queued jobs finish, then ends the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while head == jobs.count && !stopping { condition.wait() }
            if head == jobs.count {  // stopping and drained
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
            condition.unlock()
            job()
        }
    }
}
