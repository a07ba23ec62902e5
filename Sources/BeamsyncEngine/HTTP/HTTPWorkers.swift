import Foundation

/// A fixed set of dedicated OS threads that run blocking libcurl transfers, first in first out.
/// Each thread owns one `CurlHandle`; nothing here ever runs on Swift's cooperative pool.
final class HTTPWorkers: @unchecked Sendable {
    typealias Job = @Sendable (CurlHandle?) -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []       // guarded by `condition`
    private var head = 0               // next job; avoids O(n) removeFirst
    private var stopping = false       // guarded by `condition`

    init(count: Int, name: String) {
        for index in 0..<max(1, count) {
            // Each thread retains `self` until its loop ends (after `stop()`).
            let thread = Thread { [self] in self.loop() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    /// Queues a job. The handle is nil when libcurl could not create one.
    func submit(_ job: @escaping Job) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets queued jobs finish, then ends the threads.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        let handle = CurlHandle()
        while true {
            condition.lock()
            while head == jobs.count && !stopping { condition.wait() }
            if head == jobs.count {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            job(handle)
        }
    }
}
